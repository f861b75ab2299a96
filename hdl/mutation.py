"""Mutation testing of the RTL units: a fixed set of injected faults and which tests kill them.

Each :class:`Mutant` replaces one exact piece of a unit's gateware source (comparisons,
off-by-ones, widths, handshakes, LFSR stepping, tie-breaks).  A mutant is applied without
touching the files: the test run is started with ``-p specaccel.hdl.mutation`` and
``SPECACCEL_MUTANT=<id>``, and this module, loaded by pytest as a plugin before any test
imports the unit, installs an import hook that compiles the mutated source in place of the
module's own.  A mutant is *killed* when its unit's kill suite fails.

    python -m specaccel.hdl.mutation [--only ID,...] [--json]

prints one line per mutant and the score (docs/hdl.md, "Mutation score").
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ENV = "SPECACCEL_MUTANT"

# The tests that judge each unit, in stages (paths relative to the repository's tests/
# folder, optionally with a -k expression after " -k "): a later stage runs only when the
# earlier ones all passed, so most mutants die in the cheap simulation stage.
_SIM = {
    "kv_compact": ["hdl/test_tree_units_amaranth.py::test_kv_compact_matches_golden",
                   "hdl/test_tree_units_amaranth.py::test_kv_compact_flags_slot_overflow",
                   "hdl/test_boundaries.py -k kv_compact"],
    "tree_mask": ["hdl/test_tree_units_amaranth.py::test_tree_mask_matches_golden",
                  "hdl/test_boundaries.py -k tree_mask"],
    "tree_verify": ["hdl/test_tree_verify_amaranth.py", "hdl/test_boundaries.py -k stochastic",
                    "hdl/test_coverage.py -k tree_verify-"],
    "tree_verify_serial": ["hdl/test_tree_verify_serial_amaranth.py",
                           "hdl/test_boundaries.py -k stochastic",
                           "hdl/test_coverage.py -k serial"],
    "argmax_sample": ["hdl/test_argmax_unit.py"],
    "spec_decode_core": ["hdl/test_tree_units_amaranth.py::test_spec_decode_core_matches_golden"],
    "sampling": ["hdl/test_sampling_unit.py"],
    "streaming_core": ["hdl/test_benches.py -k streaming_core"],
}
_KILL_STAGES = {unit: [[t] for t in tests]
                + [[f"hdl/test_formal.py -k test_proof_holds and {unit}-"]]
                for unit, tests in _SIM.items()}


@dataclass(frozen=True)
class Mutant:
    """One fault: in `unit`'s gateware, the exact text `old` becomes `new`."""

    id: str
    unit: str
    kind: str
    old: str
    new: str
    #: the module mutated, when it is not the registered unit's ``gateware``
    source: str = ""

    @property
    def module(self) -> str:
        return self.source or f"specaccel.hdl.units.{self.unit}.gateware"


MUTANTS: tuple[Mutant, ...] = (
    # kv_compact
    Mutant("kv-overflow-msb", "kv_compact", "width",
           "overflow.append(low[p] & base_hi.all())",
           "overflow.append(low[p] & base_hi[:-1].all())"),
    Mutant("kv-increasing", "kv_compact", "comparison",
           "(req.path[k] <= req.path[k - 1])", "(req.path[k] < req.path[k - 1])"),
    Mutant("kv-live", "kv_compact", "off-by-one",
           "live = [req.accepted >= k for k in range(n)]",
           "live = [req.accepted > k for k in range(n)]"),
    Mutant("kv-handshake", "kv_compact", "handshake",
           "en.eq(~self.resp.valid | self.resp.ready)", "en.eq(1)"),
    Mutant("kv-count-on-error", "kv_compact", "comparison",
           "out.count.eq(Mux(error, 0, req.accepted + 1))", "out.count.eq(req.accepted + 1)"),
    # tree_mask
    Mutant("mask-bad-parent", "tree_mask", "comparison",
           "present[i] & (req.parent[i] >= i)", "present[i] & (req.parent[i] > i)"),
    Mutant("mask-too-many", "tree_mask", "off-by-one",
           "(req.n_nodes > n) | bad", "(req.n_nodes > n + 1) | bad"),
    Mutant("mask-stop", "tree_mask", "off-by-one",
           "with m.If(cur + 1 >= count):", "with m.If(cur + 2 >= count):"),
    Mutant("mask-depth", "tree_mask", "off-by-one",
           "depth[i].eq(parent_depth + 1)", "depth[i].eq(parent_depth + 2)"),
    Mutant("mask-handshake", "tree_mask", "handshake",
           '            with m.State("DONE"):\n                with m.If(self.resp.ready):',
           '            with m.State("DONE"):\n                with m.If(1):'),
    # tree_verify (parallel)
    Mutant("tv-tie-break", "tree_verify", "comparison",
           "first_i.eq(accept_b[i] & ~_or_all(earlier))", "first_i.eq(accept_b[i])"),
    Mutant("tv-too-many", "tree_verify", "off-by-one",
           "error_a = (n_nodes == 0) | (n_nodes > n) |",
           "error_a = (n_nodes == 0) | (n_nodes > n + 1) |"),
    Mutant("tv-bad-parent", "tree_verify", "comparison",
           "bad_parent = [present[i] & (req.parent[i] >= i)",
           "bad_parent = [present[i] & (req.parent[i] > i)"),
    Mutant("tv-stochastic-strict", "tree_verify", "comparison",
           "stochastic_b[i] = present_b & (uq_b < p_b)",
           "stochastic_b[i] = present_b & (uq_b <= p_b)"),
    Mutant("tv-lfsr-step", "tree_verify", "lfsr",
           "with m.If(self.req.valid & en):\n            m.d.sync += state.eq(",
           "with m.If(en):\n            m.d.sync += state.eq("),
    Mutant("tv-token-memory", "tree_verify", "off-by-one",
           "rport.addr.eq(advance - (latency - 2))", "rport.addr.eq(advance - (latency - 1))"),
    Mutant("tv-token-width", "tree_verify", "width",
           "for g in range(0, tw, TOKEN_SLICE)]", "for g in range(0, tw - 1, TOKEN_SLICE)]"),
    Mutant("tv-handshake", "tree_verify", "handshake",
           "en.eq(~self.resp.valid | self.resp.ready)", "en.eq(~self.resp.valid)"),
    Mutant("tv-stall-ignored", "tree_verify", "handshake",
           "en.eq(~self.resp.valid | self.resp.ready)", "en.eq(1)"),
    Mutant("tv-path-leak", "tree_verify", "comparison",
           "_or_all([Mux(on[i] & (rank[i - 1] == d), i, 0)",
           "_or_all([Mux(rank[i - 1] == d, i, 0)"),
    # tree_verify_serial
    Mutant("tvs-bad-parent", "tree_verify_serial", "comparison",
           "(req.parent >= count)", "(req.parent > count)"),
    Mutant("tvs-too-many", "tree_verify_serial", "off-by-one",
           "overflow_in = count == n", "overflow_in = count == n + 1"),
    Mutant("tvs-stochastic-strict", "tree_verify_serial", "comparison",
           'a["product"][w:2 * w] < a["target_prob"]', 'a["product"][w:2 * w] <= a["target_prob"]'),
    Mutant("tvs-lfsr-step", "tree_verify_serial", "lfsr",
           "with m.If(advance):\n            m.d.sync += state.eq(",
           "with m.If(1):\n            m.d.sync += state.eq("),
    Mutant("tvs-lookahead", "tree_verify_serial", "comparison",
           "Mux(advance_b, fits_new, fits_old)", "fits_old"),
    Mutant("tvs-path-slot", "tree_verify_serial", "off-by-one",
           "slot.eq(slot << 1)", "slot.eq(slot << 2)"),
    Mutant("tvs-handshake", "tree_verify_serial", "handshake",
           "en.eq(~self.resp.valid | self.resp.ready)", "en.eq(1)"),
    Mutant("tvs-below-mask", "tree_verify_serial", "off-by-one",
           "Mux(below[d] & ~err, path[d], 0)", "Mux(~err, path[d], 0)"),
    Mutant("tvs-error-accepted", "tree_verify_serial", "comparison",
           "out.accepted.eq(Mux(err, 0, depth))", "out.accepted.eq(depth)"),
    # argmax_sample
    Mutant("argmax-lane-tie", "argmax_sample", "comparison",
           "pick_a.eq(av & (~bv | (a >= b)))", "pick_a.eq(av & (~bv | (a > b)))"),
    Mutant("argmax-beat-tie", "argmax_sample", "comparison",
           "g_take.eq(s2_first | (s2_g_val > best_val))",
           "g_take.eq(s2_first | (s2_g_val >= best_val))"),
    Mutant("argmax-fifo-pop", "argmax_sample", "handshake",
           "fifo.r_en.eq(self.out.ready)", "fifo.r_en.eq(1)"),
    # spec_decode_core
    Mutant("core-commit-pop", "spec_decode_core", "handshake",
           "results.r_en.eq(self.commit.valid & self.commit.ready)",
           "results.r_en.eq(self.commit.valid)"),
    # streaming_core
    Mutant("score-commit-pop", "streaming_core", "handshake",
           "results.r_en.eq(self.commit.valid & self.commit.ready)",
           "results.r_en.eq(self.commit.valid)"),
    # the streaming sampling unit
    Mutant("su-merge-tie", "sampling", "comparison",
           "m.d.comb += ge[i][j].eq(a[i][0] >= b[j][0])",
           "m.d.comb += ge[i][j].eq(a[i][0] > b[j][0])"),
    Mutant("su-scan-strict", "sampling", "comparison",
           "with m.If(wsel > rem):", "with m.If(wsel >= rem):"),
    Mutant("su-out-handshake", "sampling", "handshake",
           '            with m.State("OUT"):\n                with m.If(self.out.ready):',
           '            with m.State("OUT"):\n                with m.If(1):'),
)


def get_mutant(mutant_id: str) -> Mutant:
    for m in MUTANTS:
        if m.id == mutant_id:
            return m
    raise KeyError(f"no mutant {mutant_id!r}")


def mutated_source(mutant: Mutant) -> str:
    """The gateware source with `mutant` applied (``ValueError`` unless `old` occurs
    exactly once)."""
    spec = importlib.util.find_spec(mutant.module)
    text = Path(spec.origin).read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: its text occurs {count} times in "
                         f"{mutant.module}, not once")
    return text.replace(mutant.old, mutant.new)


class _MutatingLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, source: str) -> None:
        super().__init__(fullname, path)
        self._source = source

    def get_data(self, path):  # noqa: D102 - the mutated text instead of the file
        if path == self.path:
            return self._source.encode()
        return super().get_data(path)

    def get_code(self, fullname):
        return compile(self._source, self.path, "exec", dont_inherit=True)


class _MutatingFinder(importlib.abc.MetaPathFinder):
    def __init__(self, mutant: Mutant) -> None:
        self.mutant = mutant
        self.source = mutated_source(mutant)

    def find_spec(self, fullname, path, target=None):
        if fullname != self.mutant.module:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.origin:
                return importlib.util.spec_from_file_location(
                    fullname, spec.origin,
                    loader=_MutatingLoader(fullname, spec.origin, self.source))
        return None


def install(mutant_id: str) -> None:
    """Make the next import of the mutant's module load the mutated source."""
    sys.meta_path.insert(0, _MutatingFinder(get_mutant(mutant_id)))


if os.environ.get(ENV):  # loaded as a pytest plugin (-p specaccel.hdl.mutation)
    install(os.environ[ENV])


@dataclass
class MutantResult:
    id: str
    unit: str
    kind: str
    killed: bool
    seconds: float
    failing: str


def run_mutant(mutant: Mutant, tests_dir: Path, python: str = sys.executable) -> MutantResult:
    """Run the mutant's kill stages with the mutant applied; killed = a stage failed."""
    mutated_source(mutant)  # applies exactly once, or raise before running anything
    start = time.perf_counter()
    for stage in _KILL_STAGES[mutant.unit]:
        args = []
        for entry in stage:
            path, _, expr = entry.partition(" -k ")
            args.append(str(tests_dir / path))
            if expr:
                args += ["-k", expr]
        proc = subprocess.run(
            [python, "-m", "pytest", "-q", "-x", "-p", "specaccel.hdl.mutation",
             "-p", "no:cacheprovider", *args],
            env={**os.environ, ENV: mutant.id}, capture_output=True, text=True)
        if proc.returncode not in (0, 5):  # 5: the stage selected no test
            failed = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
            return MutantResult(mutant.id, mutant.unit, mutant.kind, True,
                                round(time.perf_counter() - start, 1),
                                failed[0][len("FAILED "):].split(" ")[0] if failed else
                                " ".join(stage))
    return MutantResult(mutant.id, mutant.unit, mutant.kind, False,
                        round(time.perf_counter() - start, 1), "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--tests", default="tests", help="the repository's tests folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    chosen = [get_mutant(i) for i in args.only.split(",")] if args.only else list(MUTANTS)
    results = []
    for mutant in chosen:
        r = run_mutant(mutant, Path(args.tests))
        results.append(r)
        if not args.json:
            print(f"{'killed ' if r.killed else 'SURVIVED'} {r.id:<24} {r.unit:<20} "
                  f"{r.kind:<11} {r.seconds:6.1f} s  {r.failing}", flush=True)
    killed = sum(r.killed for r in results)
    if args.json:
        print(json.dumps({"killed": killed, "total": len(results),
                          "mutants": [asdict(r) for r in results]}, indent=1))
    else:
        print(f"mutation score: {killed} of {len(results)} killed")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""TreeMaskUnit, KVCompactUnit and SpecDecodeCore in the Amaranth simulator vs the golden
model (fast, always run)."""

import numpy as np
import pytest

from specaccel.hdl.amaranth_stream_driver import run_stream
from specaccel.hdl.tree_vectors import SHAPES, random_parents
from specaccel.hdl.units import UNIT_NAMES, build_unit, generate_verilog
from specaccel.hdl.units.kv_compact.gateware import KVCompactUnit
from specaccel.hdl.units.kv_compact.model import CompactVectorModel
from specaccel.hdl.units.spec_decode_core.gateware import SpecDecodeCore
from specaccel.hdl.units.spec_decode_core.model import CoreVectorModel
from specaccel.hdl.units.tree_mask.gateware import TreeMaskUnit
from specaccel.hdl.units.tree_mask.model import MaskVectorModel


@pytest.mark.parametrize("nodes", [2, 5, 16])
def test_tree_mask_matches_golden(nodes):
    rng = np.random.default_rng(nodes)
    model = MaskVectorModel(nodes=nodes, position_width=10)
    vectors = [model.vector([-1], 7), model.vector(random_parents(rng, nodes, "chain"), 1000)]
    vectors.append(model.invalid_vector(nodes + 1, random_parents(rng, nodes), 3))
    vectors.append(model.invalid_vector(0, random_parents(rng, nodes), 3))
    bad = random_parents(rng, nodes)
    bad[nodes - 1] = nodes - 1
    vectors.append(model.invalid_vector(nodes, bad, 3))
    vectors.append(model.vector(random_parents(rng, nodes, "star"), 0))  # recovers
    for _ in range(120):
        n = int(rng.integers(1, nodes + 1))
        shape = SHAPES[int(rng.integers(0, len(SHAPES)))]
        vectors.append(model.vector(random_parents(rng, n, shape), int(rng.integers(0, 1000))))
    run = run_stream(TreeMaskUnit(nodes=nodes, position_width=10), [r for r, _ in vectors],
                     seed=2, p_valid=0.7, p_ready=0.6)
    assert run.responses == [e for _, e in vectors]


@pytest.mark.parametrize("nodes", [2, 8, 16])
def test_kv_compact_matches_golden(nodes):
    rng = np.random.default_rng(nodes)
    model = CompactVectorModel(nodes=nodes, slot_width=12)
    vectors = [model.vector([0], 5), model.vector(list(range(nodes)), 100)]
    vectors.append(model.invalid_vector([1], 0, 4))
    if nodes > 2:
        vectors.append(model.invalid_vector([0, 2, 2], 2, 4))
    for _ in range(150):
        k = int(rng.integers(1, nodes + 1))
        path = [0] + sorted(rng.choice(np.arange(1, nodes), k - 1, replace=False).tolist())
        vectors.append(model.vector(path, int(rng.integers(0, (1 << 12) - nodes))))
    unit = KVCompactUnit(nodes=nodes, slot_width=12)
    run = run_stream(unit, [r for r, _ in vectors], seed=3, p_valid=0.8, p_ready=0.7)
    assert run.responses == [e for _, e in vectors]


def test_kv_compact_flags_slot_overflow():
    model = CompactVectorModel(nodes=4, slot_width=4)
    req = model.req_layout.const({"path": [0, 1, 3, 0], "accepted": 2,
                                  "base": 14}).as_value().value
    run = run_stream(KVCompactUnit(nodes=4, slot_width=4), [req])
    assert model.resp_layout.from_bits(run.responses[0]).error == 1


@pytest.mark.parametrize("cfg", [dict(nodes=4, token_width=3),
                                 dict(nodes=8, token_width=5, mode="stochastic", prob_width=8)])
def test_spec_decode_core_matches_golden(cfg):
    rng = np.random.default_rng(11)
    model = CoreVectorModel(**cfg, position_width=12, slot_width=12)
    vectors = [model.invalid_vector(rng) if k % 10 == 3 else model.random_vector(rng)
               for k in range(80)]
    core = SpecDecodeCore(**cfg, position_width=12, slot_width=12)
    run = run_stream(core, [r for r, _, _ in vectors], seed=4, p_valid=0.8, p_ready=0.7,
                     outputs=("mask", "commit"))
    assert run.outputs["mask"] == [mk for _, mk, _ in vectors]
    assert run.outputs["commit"] == [c for _, _, c in vectors]


@pytest.mark.parametrize("name", [n for n in UNIT_NAMES if n != "argmax_sample"])
def test_generated_verilog_is_reproducible(name):
    a = generate_verilog(build_unit(name, nodes=4, token_width=4), name)
    b = generate_verilog(build_unit(name, nodes=4, token_width=4), name)
    assert a == b and f"module {name}" in a and "/work" not in a and "/tmp" not in a


def test_unknown_unit_name():
    with pytest.raises(ValueError, match="unit name"):
        build_unit("tree_walk", nodes=4)


@pytest.mark.parametrize("unit, bad", [
    (TreeMaskUnit, dict(nodes=8, position_width=0)),
    (TreeMaskUnit, dict(nodes=200)),
    (KVCompactUnit, dict(nodes=8, slot_width=33)),
    (KVCompactUnit, dict(nodes=1)),
    (SpecDecodeCore, dict(nodes=8, slot_width=0)),
    (SpecDecodeCore, dict(nodes=8, mode="sampling")),
])
def test_unit_parameters_are_validated(unit, bad):
    name = [k for k in bad if k != "nodes"] or ["nodes"]
    with pytest.raises(TypeError, match=name[0]):
        unit(**bad)

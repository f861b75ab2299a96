"""specaccel: hardware co-design for speculative decoding of LLMs.

The subpackages and their layers are described in docs/architecture.md:
`specaccel.schema` (trace types, I/O, errors, typed configs, registries),
`specaccel.models` (golden verification semantics and cost models), `specaccel.workloads`
(methods, presets, trace generators), `specaccel.sim` (SimPy simulator), `specaccel.hdl`
(Amaranth RTL), `specaccel.analysis` (sweeps, reports, plots) and `specaccel.cli`.
"""

__version__ = "0.1.0"

"""specaccel: hardware co-design for speculative decoding of LLMs.

The subpackages follow the design card (DESIGN.md): `specaccel.workloads` (decode
traces), `specaccel.models` (golden verification semantics and cost models),
`specaccel.sim` (SimPy accelerator simulator), `specaccel.hdl` (Amaranth RTL) and
`specaccel.analysis` (sweeps, reports, plots).
"""

__version__ = "0.1.0"

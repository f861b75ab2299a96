"""Amaranth RTL of the speculative-decoding units and their verification helpers.

* :mod:`.units` — the registry: ``UNIT_NAMES``, ``build_unit(name, nodes=..., ...)``,
  ``generate_verilog(component, name)``.
* :mod:`.tree_verify_unit`, :mod:`.tree_mask_unit`, :mod:`.kv_compact_unit`,
  :mod:`.spec_decode_core` — the units; :mod:`.layouts` — their payload layouts.
* :mod:`.stochastic_fixed_point` — the software side of stochastic verification
  (fixed-point p, q, u); :mod:`.uniform_lfsr` — the in-unit uniform source and its model.
* :mod:`.tree_vectors` — golden-model test vectors packed with the units' layouts;
  :mod:`.amaranth_stream_driver` and :mod:`.cocotb_runner` — the simulation drivers.
* :mod:`.synthesis` (the unit alone for area, the unit in :mod:`.harness` placed and
  routed for Fmax), :mod:`.characterisation` (the table the cost model reads) and
  :mod:`.verilator_lint` (``verilator --lint-only -Wall`` with the waiver file).

See docs/hdl.md.  Submodules are imported on demand (Amaranth is not loaded by
``import specaccel.hdl``).
"""

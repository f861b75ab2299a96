"""``streaming_core``: the streaming sampling unit, the node-serial verify unit and KV
compaction behind node headers and logit beats (:mod:`.gateware`).

The folder declares no ``UNIT``: the core is not yet in the registry (it has no vector
model of its own for the characterisation, and its end-to-end check is the simulated
board in ``tests/hdl/test_host_link.py``), so ``specaccel hdl`` commands do not list it.
"""

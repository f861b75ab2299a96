"""A toy hardware, toy models and a linear cost function whose numbers are exact in binary."""

from dataclasses import dataclass

import numpy as np
import pytest

Q = 2.0 ** -12  # time quantum: every latency is a small multiple of it, so sums are exact


@dataclass(frozen=True)
class ToyHardware:
    name: str = "toy-accel"
    kind: str = "accelerator"
    static_power_w: float = 8.0
    hbm_bandwidth_bps: float = 2.0 ** 40
    verify_unit_nodes: int | None = 64   # None on a GPU: software verify, no node limit

    def verify_unit_latency_s(self, n: int) -> float:
        return 2 * Q + n * Q

    def tree_unit_latency_s(self, n: int) -> float:
        return 3 * Q

    def sampling_unit_latency_s(self, n_nodes, vocab: int):
        # selects tokens for free, so that hand timelines count the tree and verify units
        # alone; ToySamplingHardware charges a quantum per node and logit beat
        return np.zeros_like(np.asarray(n_nodes, dtype=np.float64))


@dataclass(frozen=True)
class ToySamplingHardware(ToyHardware):
    """The toy accelerator with a sampling unit of `lanes` logits a quantum."""
    lanes: int = 8

    def sampling_unit_latency_s(self, n_nodes, vocab: int):
        n = np.asarray(n_nodes, dtype=np.float64)
        return n * -(-vocab // self.lanes) * Q


@dataclass(frozen=True)
class ToyModel:
    name: str
    fixed: int          # quanta per pass
    per_token: int      # quanta per query token
    per_context: int    # quanta per context token
    kv_bytes_per_token: float = 1024.0
    vocab_size: int = 32


def toy_latency(model: ToyModel, tokens, context):
    t = np.asarray(tokens, dtype=np.float64)
    c = np.asarray(context, dtype=np.float64)
    return (model.fixed + model.per_token * t + model.per_context * c) * Q


class RecordingCost:
    """Linear cost function that records every call it gets."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, hw, *, tokens, context, batch=1):
        tokens = np.asarray(tokens)
        context = np.asarray(context)
        self.calls.append((model.name, tokens.copy(), context.copy(), batch))
        lat = toy_latency(model, tokens, context)
        # dynamic 3 J/s + 0.5 J/token, plus static power over the pass (as pass_costs)
        return {"latency_s": lat, "energy_j": 3.0 * lat + 0.5 * tokens + hw.static_power_w * lat,
                "flops": 1e6 * tokens.astype(float),
                "bytes": 4096.0 + 16.0 * context + 512.0 * tokens,   # DRAM + SRAM
                "dram_bytes": 4096.0 + 16.0 * context}


@pytest.fixture
def toy_hw():
    return ToyHardware()


@pytest.fixture
def toy_gpu():
    return ToyHardware(name="toy-gpu", kind="gpu", static_power_w=50.0, verify_unit_nodes=None)


@pytest.fixture
def target_model():
    return ToyModel("toy-target", fixed=40, per_token=2, per_context=1)


@pytest.fixture
def draft_model():
    return ToyModel("toy-draft", fixed=5, per_token=1, per_context=0)


@pytest.fixture
def cost():
    return RecordingCost()


class BatchCost(RecordingCost):
    """The toy linear cost with a batch: every row adds its tokens and its context.

    latency = (fixed + per_token · tokens · batch + per_context · context · batch) · Q;
    a prefill pass (``phase="prefill"``) costs the same formula.
    """

    def __call__(self, model, hw, *, tokens, context, batch=1, phase="decode"):
        tokens = np.asarray(tokens, dtype=np.float64)
        context = np.asarray(context, dtype=np.float64)
        b = np.asarray(batch, dtype=np.float64)
        self.calls.append((model.name, tokens.copy(), context.copy(), b.copy(), phase))
        lat = (model.fixed + model.per_token * tokens * b + model.per_context * context * b) * Q
        return {"latency_s": lat, "energy_j": 3.0 * lat + hw.static_power_w * lat,
                "flops": 1e6 * tokens * b, "bytes": 4096.0 + 0 * lat,
                "dram_bytes": 4096.0 + 0 * lat}


@pytest.fixture
def batch_cost():
    return BatchCost()

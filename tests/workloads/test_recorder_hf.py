"""HF assisted generation recorded as a trace, cross-checked against the golden model."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")  # the 'recorder' extra; `make test` installs it
transformers = pytest.importorskip("transformers")

from specaccel.models.golden import (  # noqa: E402
    committed_tokens,
    verify_trace,
    verify_tree,
)
from specaccel.schema.errors import InputError  # noqa: E402
from specaccel.workloads import validate_trace  # noqa: E402
from specaccel.workloads.recorder_hf import check_recorded, record_assisted  # noqa: E402


@pytest.fixture(scope="module")
def models():
    """A 2-layer target and a 1-layer draft sharing its first layer (an early-exit draft).

    Weights are drawn wide (initializer_range 0.5: peaked, not near-uniform, logits) and
    the target's second layer writes half-scaled outputs, so the draft agrees often but
    not always.
    """
    torch.set_num_threads(1)  # tiny matrices: threads only add contention
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=4, max_position_embeddings=256,
                                   initializer_range=0.5, eos_token_id=None,
                                   bos_token_id=None, pad_token_id=0)
    target = transformers.LlamaForCausalLM(cfg).eval()
    dcfg = transformers.LlamaConfig(**{**cfg.to_dict(), "num_hidden_layers": 1})
    draft = transformers.LlamaForCausalLM(dcfg).eval()
    state = {k: v for k, v in target.state_dict().items() if ".layers.1." not in k}
    draft.load_state_dict(state)
    with torch.no_grad():
        for name, w in target.named_parameters():
            if ".layers.1." in name and name.endswith(("o_proj.weight", "down_proj.weight")):
                w.mul_(0.5)
    for m in (target, draft):
        m.generation_config.eos_token_id = None
        m.generation_config.pad_token_id = 0
    return target, draft


def test_recorded_trace_replays_in_the_golden_model(models):
    target, draft = models
    rng = np.random.default_rng(0)
    prompts = [rng.integers(1, 128, size=n).tolist() for n in (5, 9, 14)]
    trace = record_assisted(target, draft, prompts, max_new_tokens=32, num_assistant_tokens=4)
    validate_trace(trace)
    assert trace.n_requests == 3 and trace.metadata["draft"]["layers"] == 1
    assert np.all(trace.recorded_accepted >= 0)
    assert check_recorded(trace).size == 0  # every recorded outcome is the golden one
    out = verify_trace(trace)
    assert 0 < out.accepted.sum() < (trace.nodes_per_step() - 1).sum()  # some hits, some misses
    assert np.unique(out.accepted).size >= 3  # runs of agreement of several lengths
    for r, prompt in enumerate(prompts):
        # the golden commits rebuild exactly what generate returned ...
        rebuilt = np.concatenate([committed_tokens(trace.step(s), verify_tree(trace.step(s)))
                                  for s in trace.request_steps(r)])
        generated = np.array(trace.metadata["generated"][r])
        assert np.array_equal(rebuilt[:generated.shape[0]], generated)
        # ... which is plain greedy decoding of the target
        with torch.no_grad():
            ids = torch.tensor([prompt])
            ref = target.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                  max_new_tokens=32)[0, len(prompt):].numpy()
        assert np.array_equal(generated, ref)
    q = trace.nodes["draft_prob"]
    assert np.all((q > 0) & (q <= 1))


def test_sampling_is_refused(models):
    target, draft = models
    with pytest.raises(InputError, match="greedy"):
        record_assisted(target, draft, [[1, 2, 3]], max_new_tokens=4, do_sample=True)

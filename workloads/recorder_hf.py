"""Record decode traces from Hugging Face ``transformers`` assisted generation.

``target.generate(..., assistant_model=draft, do_sample=False)`` runs greedy speculative
decoding (assisted generation): each iteration the assistant drafts a chain of
candidates, the target scores them in one forward pass and keeps the longest prefix that
matches its own argmax plus one token of its own.  :func:`record_assisted` wraps the
candidate generator that ``generate`` builds (``_get_candidate_generator``) and records,
per iteration:

* the candidate tokens and their draft probabilities q (softmax of the assistant's
  scores at the chosen token);
* the target's scores over the ``γ+1`` new positions: ``target_prob`` of each candidate
  (softmax at its parent) and ``target_token`` (argmax after each node);
* the number of matches transformers accepted, as ``recorded_accepted``.

Each iteration becomes one chain :class:`~.trace.DraftTree` whose root is the last
committed token, so the trace replays in the golden model;
:func:`check_recorded` cross-checks the recorded outcome against
:func:`specaccel.models.golden.verify_trace`.

``torch`` and ``transformers`` are the optional ``recorder`` extra
(``pip install 'specaccel[recorder]'``); they are imported only when recording.
Any local causal LMs work (no download is made here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree, Trace


@dataclass
class _Iteration:
    root: int
    candidates: list[int]
    draft_prob: list[float]
    target_prob: list[float] = field(default_factory=list)
    target_token: list[int] = field(default_factory=list)
    accepted: int = -1


class _RecordingCandidateGenerator:
    """Delegates to transformers' candidate generator and logs what passes through it."""

    def __init__(self, inner: Any, log: list[_Iteration]) -> None:
        self._inner = inner
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_candidates(self, input_ids: Any, **kwargs: Any) -> Any:
        import torch

        cand_ids, cand_logits = self._inner.get_candidates(input_ids, **kwargs)
        n0 = int(input_ids.shape[1])
        new = cand_ids[0, n0:].tolist()
        if new and cand_logits is None:
            raise InputError("the candidate generator gave no draft scores", field="assistant")
        probs: list[float] = []
        if new:
            q = torch.softmax(cand_logits[0].float(), dim=-1)
            probs = [float(q[i, t]) for i, t in enumerate(new)]
        self._log.append(_Iteration(int(input_ids[0, -1]), new, probs))
        return cand_ids, cand_logits

    def update_candidate_strategy(self, input_ids: Any, scores: Any, num_matches: Any) -> Any:
        import torch

        it = self._log[-1]
        p = torch.softmax(scores[0].float(), dim=-1)  # (γ+1, V): after root, after each draft
        it.target_token = [int(t) for t in p.argmax(dim=-1).tolist()]
        it.target_prob = [float(p[i, t]) for i, t in enumerate(it.candidates)]
        it.accepted = int(num_matches)
        return self._inner.update_candidate_strategy(input_ids, scores, num_matches)


def _tree(it: _Iteration) -> DraftTree:
    n = len(it.candidates)
    if it.accepted < 0 or len(it.target_token) != n + 1:
        raise InputError("an assisted-generation iteration was not verified", field="target")
    return DraftTree.build(
        list(range(-1, n)), [it.root] + it.candidates, it.target_token,
        draft_prob=[1.0] + it.draft_prob, target_prob=[1.0] + it.target_prob,
        recorded_accepted=it.accepted)


def record_request_hf(target: Any, draft: Any, prompt: Sequence[int], max_new_tokens: int,
                      **generate_kwargs: Any) -> tuple[list[DraftTree], np.ndarray]:
    """Run greedy assisted generation for one prompt; return the step trees and new tokens.

    `generate_kwargs` go to ``target.generate`` (e.g. ``num_assistant_tokens``); sampling
    is refused (the recorder keeps greedy traces only).
    """
    import torch

    if generate_kwargs.get("do_sample"):
        raise InputError("only greedy assisted generation is recorded", field="do_sample")
    if max_new_tokens < 1:
        raise InputError(f"must be >= 1, not {max_new_tokens}", field="max_new_tokens")
    ids = torch.tensor([list(map(int, prompt))], dtype=torch.long)
    if ids.shape[1] == 0:
        raise InputError("a prompt needs at least one token", field="prompt")
    log: list[_Iteration] = []
    orig = target._get_candidate_generator

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _RecordingCandidateGenerator(orig(*args, **kwargs), log)

    target._get_candidate_generator = wrapped
    try:
        with torch.no_grad():
            out = target.generate(ids, attention_mask=torch.ones_like(ids),
                                  assistant_model=draft, do_sample=False,
                                  max_new_tokens=max_new_tokens, **generate_kwargs)
    finally:
        del target._get_candidate_generator  # the instance attribute shadowed the method
    return [_tree(it) for it in log], out[0, ids.shape[1]:].numpy().astype(np.int64)


def record_assisted(target: Any, draft: Any, prompts: Sequence[Sequence[int]],
                    max_new_tokens: int = 64, *, request_ids: Sequence[str] | None = None,
                    **generate_kwargs: Any) -> Trace:
    """A greedy trace of assisted generation over `prompts` (one request per prompt).

    ``trace.recorded_accepted`` holds the matches transformers accepted per iteration;
    ``metadata["generated"]`` the tokens each request generated.
    """
    import transformers

    names = list(request_ids) if request_ids is not None else [
        f"hf{r:04d}" for r in range(len(prompts))]
    if len(names) != len(prompts):
        raise InputError("one request id per prompt", field="request_ids")
    requests, generated = [], []
    for name, prompt in zip(names, prompts, strict=True):
        trees, new = record_request_hf(target, draft, prompt, max_new_tokens,
                                       **generate_kwargs)
        requests.append((name, len(prompt), trees))
        generated.append(new.tolist())

    def describe(m: Any) -> dict[str, Any]:
        cfg = m.config
        return {"class": type(m).__name__, "layers": getattr(cfg, "num_hidden_layers", None),
                "hidden": getattr(cfg, "hidden_size", None),
                "vocab": getattr(cfg, "vocab_size", None),
                "name_or_path": getattr(cfg, "_name_or_path", "") or ""}

    meta = {"generator": "specaccel.workloads.recorder_hf", "method": "hf-assisted-generation",
            "transformers": transformers.__version__, "target": describe(target),
            "draft": describe(draft), "max_new_tokens": max_new_tokens,
            "generate_kwargs": {k: v for k, v in generate_kwargs.items()
                                if isinstance(v, (int, float, str, bool))},
            "generated": generated}
    return Trace.from_trees(requests, verification="greedy", metadata=meta)


def check_recorded(trace: Trace) -> np.ndarray:
    """Steps whose recorded accepted count differs from the golden model's (empty = all agree).

    Steps without a recorded count (−1) are skipped.
    """
    out = verify_trace(trace)
    rec = trace.recorded_accepted
    return np.nonzero((rec >= 0) & (rec != out.accepted))[0]

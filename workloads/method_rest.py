"""REST: retrieval-based speculative decoding.

REST (He et al. 2024) looks the context's suffix up in a datastore of text and proposes
the retrieved continuations as a trie of drafts (up to 64 nodes) that the target
verifies in one pass; no draft model runs.  Here the trie is stood in by the tokens of
highest reach probability in a top-k tree (:func:`~.presets.top_reach_tree`).
"""

from __future__ import annotations

from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import (
    DRAFT_FREE,
    FLAT_ALPHA,
    SPECBENCH,
    Preset,
    top_reach_tree,
)

declare_method(
    "rest",
    description="retrieve continuations of the context's suffix from a datastore as a trie "
                "of drafts; no draft model",
    drafting="draft-free", tree_policy="a trie of retrieved continuations (stand-in: the "
                                       "tokens of highest reach probability in a top-k tree)",
    sources=("He et al. 2024, REST (NAACL 2024)",))

_REST_SPECBENCH = declare_preset(Preset(
    name="rest-vicuna-7b-specbench",
    description="REST on Vicuna-7B, Spec-Bench, greedy, 63-token retrieval trie stand-in "
                "(tau 1.82)",
    method="rest",
    source_row=("rest", "Vicuna-7B", "retrieval datastore", "Spec-Bench", "0", "A100"),
    tree=lambda: top_reach_tree(63, 5, 8, name="rest-63-d5"),
    target_model="vicuna-7b",
    draft_model=None,
    benchmark=SPECBENCH,
    assumptions=(
        "tree: REST's trie of retrieved continuations (up to 64 nodes) stood in by the 63 "
        "tokens of highest reach probability in a depth-5 top-8 tree (flat alpha = 0.7)",
        DRAFT_FREE.replace("the lookup", "the datastore lookup"),
        FLAT_ALPHA,
    ),
))
declare_preset(_REST_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", None))
declare_preset(_REST_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", None))
declare_preset(_REST_SPECBENCH.for_hardware("RTX 3090"))

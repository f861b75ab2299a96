"""The golden model: the single definition of speculative-decoding verification semantics.

The RTL, the simulator and the trace tools call these functions or are checked against
them.  See :mod:`.tree_verify` for the rule and its tie-break.
"""

from specaccel.models.golden.speculative_sampling import (  # noqa: F401
    speculative_chain,
    speculative_chains,
    speculative_tree,
    speculative_trees,
    tree_to_trace_columns,
)
from specaccel.models.golden.token_selection import greedy_token, sample_token  # noqa: F401
from specaccel.models.golden.tree_structure import (
    kv_compaction,
    kv_moves,
    node_depth,
    position_ids,
    tree_attention_mask,
)
from specaccel.models.golden.tree_verify import (
    GREEDY,
    STOCHASTIC,
    TraceOutcome,
    VerifyOutcome,
    committed_tokens,
    greedy_accepts,
    mode_code,
    stochastic_accepts,
    verify_trace,
    verify_tree,
    walk_accepted_path,
)

__all__ = [
    "GREEDY", "STOCHASTIC", "TraceOutcome", "VerifyOutcome", "committed_tokens",
    "greedy_accepts", "kv_compaction", "kv_moves", "mode_code", "node_depth", "position_ids",
    "stochastic_accepts",
    "tree_attention_mask", "verify_trace", "verify_tree", "walk_accepted_path",
]

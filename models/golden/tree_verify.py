"""Verification of a draft tree: the single definition of which nodes are accepted.

The rule has two parts, and both are used by everything else in specaccel (the trace
tools, the simulator, the RTL testbenches); nothing re-implements them.

1. **Node acceptance** — each non-root node ``i`` is *acceptable* on its own:

   * greedy: ``token[i] == target_token[parent[i]]`` (the draft token equals the
     target's argmax after the parent);
   * stochastic (speculative sampling, Leviathan et al. / Chen et al.):
     ``uniform[i] * draft_prob[i] < target_prob[i]``, i.e. ``u < p/q`` with
     ``u ~ U(0, 1)``; accepted with probability ``min(1, p/q)``.  In a tree, the k-th
     sibling's p and q are those of the residual distributions after siblings
     ``0..k-1`` were rejected (SpecInfer multi-step speculative sampling), so this one
     comparison covers chains and trees.

2. **The walk** — starting at the root, move to the *first* acceptable child (lowest
   node index) of the current node, until the current node has no acceptable child.
   The nodes visited are the accepted path; the target's token after the last one,
   ``target_token[path[-1]]``, is the correction (or bonus) token.

**Tie-break (the one rule, shared with the RTL):** when several children of a node are
acceptable — equal draft tokens under greedy verification, or several uniforms under
their ratios — the child with the lowest node index wins.  Drafters list siblings in
decreasing draft confidence, so this is also "the most confident".

Because ``parent[i] < i``, the walk is one pass over the nodes in index order: node
``i`` joins the path iff it is acceptable and its parent is the current end of the path.
An equivalent parallel form (what the RTL computes) is
``first[i] = accept[i] and no j < i with parent[j] == parent[i] and accept[j]``,
``on_path[i] = first[i] and on_path[parent[i]]``, ``on_path[0] = True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

GREEDY = 0
STOCHASTIC = 1
_MODE_CODES = {"greedy": GREEDY, "stochastic": STOCHASTIC}


def mode_code(mode: str) -> int:
    """The integer code of a verification mode name (``"greedy"``/``"stochastic"``)."""
    try:
        return _MODE_CODES[mode]
    except KeyError:
        raise ValueError(
            f"verification mode must be 'greedy' or 'stochastic', not {mode!r}"
        ) from None


@numba.njit(cache=True, nogil=True)
def greedy_accepts(token, parent_target_token):
    """Greedy acceptance (rule part 1): the draft token is the target's token after the parent.

    Works on scalars (one node) and elementwise on arrays (many nodes at once).
    """
    return token == parent_target_token


@numba.njit(cache=True, nogil=True)
def stochastic_accepts(uniform, draft_prob, target_prob):
    """Stochastic acceptance (rule part 1): ``u * q < p``, i.e. accepted with prob. min(1, p/q).

    Works on scalars (one node) and elementwise on arrays (many nodes at once).
    """
    return uniform * draft_prob < target_prob


@numba.njit(cache=True, nogil=True)
def node_acceptable(mode, i, parent, token, draft_prob, target_prob, target_token, uniform):
    """Whether non-root node `i` is acceptable on its own (rule part 1)."""
    if mode == 0:
        return greedy_accepts(token[i], target_token[parent[i]])
    return stochastic_accepts(uniform[i], draft_prob[i], target_prob[i])


@numba.njit(cache=True, nogil=True)
def walk_accepted_path(mode, parent, token, draft_prob, target_prob, target_token, uniform,
                       path_out):
    """Write the accepted path (node indices, root first) into `path_out`; return its length.

    This is rule part 2.  `path_out` must hold at least ``len(parent)`` entries.
    """
    n = parent.shape[0]
    if n == 0:
        return 0
    path_out[0] = 0
    length = 1
    current = 0
    for i in range(1, n):
        if parent[i] == current and node_acceptable(
            mode, i, parent, token, draft_prob, target_prob, target_token, uniform
        ):
            path_out[length] = i
            length += 1
            current = i
    return length


@numba.njit(cache=True, nogil=True)
def _verify_flat(mode, step_off, parent, token, draft_prob, target_prob, target_token, uniform,
                 path_flat, path_len, bonus):
    n_steps = step_off.shape[0] - 1
    for s in range(n_steps):
        a = step_off[s]
        b = step_off[s + 1]
        length = walk_accepted_path(
            mode, parent[a:b], token[a:b], draft_prob[a:b], target_prob[a:b],
            target_token[a:b], uniform[a:b], path_flat[a:b],
        )
        path_len[s] = length
        bonus[s] = target_token[a + path_flat[a + length - 1]] if length > 0 else -1


@dataclass(frozen=True)
class VerifyOutcome:
    """Outcome of verifying one tree.

    Attributes
    ----------
    path:
        Accepted node indices, root first (``path[0] == 0``).
    bonus_token:
        The target's token after the last accepted node (correction or bonus token).
    """

    path: np.ndarray
    bonus_token: int

    @property
    def accepted(self) -> int:
        """Accepted draft tokens (the root is not counted)."""
        return int(self.path.shape[0]) - 1

    @property
    def committed(self) -> int:
        """Tokens committed by this step: the accepted drafts plus the bonus token."""
        return self.accepted + 1


def verify_tree(tree, mode: str = "greedy") -> VerifyOutcome:
    """Verify one :class:`~specaccel.schema.trace.DraftTree` (or anything with its columns)."""
    n = int(tree.parent.shape[0])
    if n == 0:
        raise ValueError("a draft tree has at least the root node")
    path = np.empty(n, dtype=np.int32)
    length = walk_accepted_path(
        mode_code(mode),
        np.ascontiguousarray(tree.parent, dtype=np.int32),
        np.ascontiguousarray(tree.token, dtype=np.int64),
        np.ascontiguousarray(tree.draft_prob, dtype=np.float64),
        np.ascontiguousarray(tree.target_prob, dtype=np.float64),
        np.ascontiguousarray(tree.target_token, dtype=np.int64),
        np.ascontiguousarray(tree.uniform, dtype=np.float64),
        path,
    )
    path = path[:length].copy()
    return VerifyOutcome(path=path, bonus_token=int(tree.target_token[path[-1]]))


def committed_tokens(tree, outcome: VerifyOutcome) -> np.ndarray:
    """The tokens a step commits: the accepted draft tokens, then the bonus token."""
    return np.append(np.asarray(tree.token)[outcome.path[1:]], outcome.bonus_token).astype(np.int64)


@dataclass(frozen=True)
class TraceOutcome:
    """Outcomes of every step of a trace, columnar.

    Attributes
    ----------
    accepted:
        Accepted draft tokens per step (``(S,)``, root not counted).
    bonus_token:
        Correction/bonus token per step.
    path_flat:
        Accepted paths, stored in each step's node slots: step s's path is
        ``path_flat[off[s] : off[s] + accepted[s] + 1]`` with ``off = step_node_offsets``.
    """

    accepted: np.ndarray
    bonus_token: np.ndarray
    path_flat: np.ndarray
    step_node_offsets: np.ndarray

    @property
    def committed(self) -> np.ndarray:
        """Tokens committed per step (accepted + 1)."""
        return self.accepted + 1

    def path(self, s: int) -> np.ndarray:
        a = int(self.step_node_offsets[s])
        return self.path_flat[a : a + int(self.accepted[s]) + 1]


def verify_trace(trace) -> TraceOutcome:
    """Verify every step of a :class:`~specaccel.schema.trace.Trace` (compiled, one pass)."""
    nodes = trace.nodes
    off = np.ascontiguousarray(trace.step_node_offsets, dtype=np.int64)
    n_steps = off.shape[0] - 1
    path_flat = np.zeros(int(off[-1]), dtype=np.int32)
    path_len = np.zeros(n_steps, dtype=np.int64)
    bonus = np.zeros(n_steps, dtype=np.int64)
    if n_steps and np.any(np.diff(off) < 1):
        raise ValueError("every step needs at least the root node")
    _verify_flat(
        mode_code(trace.verification), off,
        np.ascontiguousarray(nodes["parent"], dtype=np.int32),
        np.ascontiguousarray(nodes["token"], dtype=np.int64),
        np.ascontiguousarray(nodes["draft_prob"], dtype=np.float64),
        np.ascontiguousarray(nodes["target_prob"], dtype=np.float64),
        np.ascontiguousarray(nodes["target_token"], dtype=np.int64),
        np.ascontiguousarray(nodes["uniform"], dtype=np.float64),
        path_flat, path_len, bonus,
    )
    return TraceOutcome(accepted=path_len - 1, bonus_token=bonus, path_flat=path_flat,
                        step_node_offsets=off)

"""Validation of the keyword-only unit parameters (checked at construction, before elaboration)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

NODES_RANGE = (2, 128)
TOKEN_WIDTH_RANGE = (1, 18)
PROB_WIDTH_RANGE = (8, 16)


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """Return `value` if it is an int in ``[lo, hi]``; raise ``TypeError`` naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return `value` if it is one of `choices`; raise ``TypeError`` naming it otherwise."""
    if value not in choices:
        raise TypeError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value  # type: ignore[return-value]


def check_tree_parameters(nodes: object, token_width: object, prob_width: object) -> None:
    """Validate the three parameters shared by the tree units."""
    check_int("nodes", nodes, *NODES_RANGE)
    check_int("token_width", token_width, *TOKEN_WIDTH_RANGE)
    check_int("prob_width", prob_width, *PROB_WIDTH_RANGE)


@contextmanager
def validating(component: object) -> Iterator[None]:
    """Run a constructor's checks; a unit rejected by them is marked used, so that Amaranth
    does not also warn that it was "created but never used"."""
    try:
        yield
    except (TypeError, ValueError):
        component._MustUse__used = True  # type: ignore[attr-defined]
        raise


def check_verify_parameters(*, nodes: object, token_width: object, prob_width: object,
                            mode: object, uniform_source: object, lfsr_seed: object) -> None:
    """Validate the parameters shared by the parallel and the node-serial verify units."""
    from specaccel.hdl.uniform_lfsr import check_seed
    from specaccel.hdl.units.verify_parameters import MODES, UNIFORM_SOURCES

    check_tree_parameters(nodes, token_width, prob_width)
    check_choice("mode", mode, MODES)
    check_choice("uniform_source", uniform_source, UNIFORM_SOURCES)
    check_seed(lfsr_seed)

"""A registry of named entries of one concept (methods, presets, drafting modes, ...).

Each concept has exactly one :class:`Registry`; an entry is declared once, where it is
defined, and every layer (CLI choices, sweeps, docs, listings) reads the registry.
A registry may name a *loader*: a function that imports the modules declaring the
entries, called on first use, so that importing the registry costs nothing until an
entry is asked for (the command line starts without loading every preset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from specaccel.schema.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one concept by name.

    Parameters
    ----------
    what:
        The concept in words, for messages ("method", "preset").
    field:
        The ``field`` an unknown name is reported under (an option or key name).
    loader:
        Called once before the first lookup to import the declaring modules.
    """

    def __init__(self, what: str, *, field: str,
                 loader: Callable[[], None] | None = None) -> None:
        self.what = what
        self.field = field
        self._loader = loader
        self._loaded = loader is None
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        """Declare `entry` under `name` (a second entry of the same name is a bug)."""
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.what} {name!r} is declared twice")
        self._entries[name] = entry
        return entry

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            assert self._loader is not None
            self._loader()

    def get(self, name: str) -> T:
        """The entry called `name`; :class:`InputError` listing the names otherwise."""
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise InputError(f"unknown {self.what} {name!r}; choose one of: "
                             f"{', '.join(self.names())}", field=self.field) from None

    def names(self) -> list[str]:
        """The names, sorted."""
        self._load()
        return sorted(self._entries)

    def declared(self) -> list[T]:
        """The entries in the order they were declared."""
        self._load()
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` pairs, sorted by name."""
        self._load()
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

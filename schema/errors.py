"""Errors that the command line turns into exit codes (docs/cli.md, docs/strictness.md).

`InputError` is bad input (a trace, a config, an option): exit code 2 and one line that
names the file, the place in it and the reason.  Anything else that escapes a command
is a failure of the run: exit code 1.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input.  ``str(err)`` is the one-line message shown to the user.

    Parameters
    ----------
    reason:
        Why the input is wrong ("must be < 3, not 5").
    file:
        The file the input came from, if any.
    where:
        Location inside the file, most general first, e.g. ``("request 2", "step 7")``.
    field:
        The field (column, key, option) that is wrong.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        where: tuple[str, ...] = (),
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.where = tuple(where)
        self.field = field
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts: list[str] = []
        if self.file is not None:  # a name with a newline or a control character: quoted
            name = str(self.file)
            parts.append(name if name.isprintable() else repr(name))
        parts.extend(self.where)
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.reason}" if prefix else self.reason
        return text.replace("\n", "\\n")  # one line, whatever a reason quotes

    def at(self, *, file: str | None = None, where: tuple[str, ...] = ()) -> InputError:
        """Return a copy located in `file` and/or prefixed by `where`."""
        return InputError(
            self.reason,
            file=file if file is not None else self.file,
            where=tuple(where) + self.where,
            field=self.field,
        )

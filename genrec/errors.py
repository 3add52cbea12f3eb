"""The one exception type users see for bad input, with the place it came from."""

from __future__ import annotations

from pathlib import Path


class GenrecError(Exception):
    """A problem the user can fix: bad input, a missing file, an invalid option.

    The CLI prints these as one line and exits; anything else is a bug and keeps its traceback.
    """


class DataError(GenrecError):
    """Bad input data, located by file, line (1-based) and field where known."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        where = []
        if path is not None:
            where.append(str(path) + (f", line {line}" if line is not None else ""))
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)
        self.path, self.line, self.field = path, line, field

"""Errors a user can act on.

Every error Patron raises on purpose derives from :class:`PatronError`; the CLI and the API turn it into a clear
message (and a 4xx status) instead of a traceback.
"""

from __future__ import annotations


class PatronError(Exception):
    """Base class of the errors Patron raises on purpose."""


class InputError(PatronError):
    """Bad input data: names where it is (file, row, column) and what was expected.

    ``row`` is the 1-based line number in the source file (the header is line 1), so the user can open the file
    at that line.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: object | None = None,
    ) -> None:
        self.file, self.row, self.column, self.expected, self.found = file, row, column, expected, found
        where = []
        if file is not None:
            where.append(f"file {file!s}")
        if row is not None:
            where.append(f"row {row:,}")
        if column is not None:
            where.append(f"column {column!r}")
        text = message
        if where:
            text = f"{', '.join(where)}: {message}"
        if expected is not None:
            text += f" (expected {expected}"
            text += f", found {found!r})" if found is not None else ")"
        super().__init__(text)


class ConfigError(PatronError):
    """A setting, option or parameter is invalid."""


class NotFoundError(PatronError):
    """Something asked for by name or id (a run, a segment, a customer, a table) does not exist."""


class ModelError(PatronError):
    """A model cannot be fitted or used as asked (not fitted yet, data it cannot take, a fit that did not converge)."""

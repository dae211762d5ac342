"""In-memory DataFrames as SQL sources: validate the columns, then expose them to an in-memory DuckDB.

The DataFrame entry points (``summary_from_transactions`` ...) run the very same SQL as the store entry points;
this module only checks the frame and hands it over (DuckDB reads pandas frames without copying).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pandas as pd

from patron.errors import InputError

INPUT_VIEW = "patron_input"


def prepare_frame(
    df: pd.DataFrame,
    *,
    customer_id_col: str,
    datetime_col: str,
    numeric_cols: Sequence[str | None] = (),
    optional_cols: Sequence[str | None] = (),
    datetime_format: str | None = None,
) -> pd.DataFrame:
    """Select and check the columns a feature builder needs.

    Raises :class:`~patron.errors.InputError` naming the column and the first offending row (the frame's index
    label) for missing columns, missing customer ids or dates, unparseable dates and non-numeric amounts. Nothing
    is dropped silently: a row the summary could not use is an error, not a skipped row.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame of transactions, got {type(df).__name__}")
    wanted = [customer_id_col, datetime_col, *[c for c in (*numeric_cols, *optional_cols) if c]]
    missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
    if missing:
        raise InputError(
            f"column(s) {missing} not in the transactions (columns present: {list(df.columns)})",
            column=missing[0],
        )
    out = df[list(dict.fromkeys(wanted))].copy()
    _no_missing(out, customer_id_col, "a customer id on every row")
    out[datetime_col] = _parse_dates(out[datetime_col], datetime_col, datetime_format)
    for col in numeric_cols:
        if col:
            out[col] = _numeric(out[col], col)
    return out


_BASE: duckdb.DuckDBPyConnection | None = None
_BASE_LOCK = threading.Lock()


@contextmanager
def frame_connection(frame: pd.DataFrame) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB cursor with ``frame`` registered as the view :data:`INPUT_VIEW`.

    One in-memory database per process; each call gets its own cursor (a fresh connection to it: registered
    views are private to it, and cursors may be used from different threads). A cursor costs milliseconds where
    a new database costs tens of them, which matters for many small frames.
    """
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            _BASE = duckdb.connect(":memory:")
        con = _BASE.cursor()
    try:
        con.register(INPUT_VIEW, frame)
        yield con
    finally:
        con.close()


def _no_missing(frame: pd.DataFrame, col: str, expected: str) -> None:
    bad = frame[col].isna()
    if bad.any():
        first = frame.index[bad.to_numpy()][0]
        raise InputError(
            f"{int(bad.sum()):,} row(s) have no value (first at index {_label(first)})",
            column=col,
            expected=expected,
        )


def _parse_dates(values: pd.Series, col: str, datetime_format: str | None) -> pd.Series:
    if values.isna().any():
        first = values.index[values.isna().to_numpy()][0]
        raise InputError(
            f"{int(values.isna().sum()):,} row(s) have no date (first at index {_label(first)})",
            column=col,
            expected="a purchase date on every row",
        )
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values, format=datetime_format, errors="coerce")
        bad = parsed.isna()
        if bad.any():
            first = values.index[bad.to_numpy()][0]
            raise InputError(
                f"{int(bad.sum()):,} value(s) are not dates (first at index {_label(first)})",
                column=col,
                expected="a date or timestamp" + (f" in format {datetime_format}" if datetime_format else ""),
                found=values.loc[first],
            )
    if getattr(parsed.dt, "tz", None) is not None:
        # Periods are calendar periods of the wall clock, as pandas' to_period (and lifetimes) use.
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _numeric(values: pd.Series, col: str) -> pd.Series:
    parsed = pd.to_numeric(values, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        first = values.index[bad.to_numpy()][0]
        raise InputError(
            f"{int(bad.sum()):,} value(s) are missing or not numbers (first at index {_label(first)})",
            column=col,
            expected="a number",
            found=values.loc[first],
        )
    return parsed.astype("float64")


def _label(value: object) -> str:
    """An index label as a user reads it (``5``, not ``np.int64(5)``)."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)

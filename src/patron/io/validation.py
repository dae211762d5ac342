"""Validate a raw source against its mapping and cast it to the canonical columns, in DuckDB SQL.

What is *wrong with the file* (a text in a numeric column, a timestamp column no date format fits) raises an
:class:`~patron.errors.InputError` naming the file, the 1-based line, the column, what was expected and what was
found. What is *a property of a row* (a blank amount, one unparseable timestamp among valid ones) is left to
cleaning, which drops and counts it.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from patron.errors import InputError
from patron.io.mapping import ColumnMapping
from patron.io.readers import LINE, RawTable, connect

# Output columns of `to_canonical`, in order (the schema's columns minus customer_id, which identity resolution
# fills, plus the internal duplicate flag cleaning needs).
TEXT_COLUMNS = ("order_id", "product", "product_name", "category", "channel", "region", "email", "address")
NUMERIC_COLUMNS = ("quantity", "unit_price", "amount")
DUPLICATE_FLAG = "is_duplicate"

# Tried in order on up to 20,000 distinct values when the timestamp is text and not ISO 8601; the first that parses the most of the
# sample wins (month-first before day-first: a tie means no day above 12 was seen, and US exports are the
# more common unlabelled case).
TIMESTAMP_FORMATS = (
    "%Y%m%d",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
)
# An ISO timestamp's UTC offset is dropped, keeping the wall-clock time: the schema's timestamps are naive local
# time (Complete Journey's "2017-01-28 14:06:53-05:00" is 14:06:53 in the store's time zone).
_OFFSET = r"(\d{2}:\d{2}(:\d{2}(\.\d+)?)?)\s*(Z|[+-]\d{2}(:?\d{2})?)$"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def to_canonical(raw: RawTable, mapping: ColumnMapping) -> pd.DataFrame:
    """Cast ``raw`` to the canonical columns.

    Returns
    -------
    DataFrame
        ``source, source_row, source_customer_id, timestamp, quantity, unit_price, amount, order_id, product,
        product_name, category, channel, region, email, address, is_duplicate``, in source order. ``timestamp``
        is NaT where a value did not parse; ``amount`` is ``quantity * unit_price`` when the source has no
        amount; ``is_duplicate`` marks rows equal on every source column to an earlier row.

    Raises
    ------
    InputError
        A non-numeric value in a numeric column, or a timestamp column none of the known formats reads.
    """
    if raw.table.num_rows == 0:
        raise InputError("the source has no data rows (only a header?)", file=raw.name)
    con = connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("raw", raw.table)
        types = {f.name: f.type for f in raw.table.schema}
        m = mapping.as_dict()
        number_exprs = {c: _number_expr(con, raw, m[c]) for c in NUMERIC_COLUMNS if c in m}
        ts_expr = _timestamp_expr(con, raw, m["timestamp"], types[m["timestamp"]], mapping.timestamp_format)

        def num(canonical: str) -> str:
            return number_exprs.get(canonical, "NULL::DOUBLE")

        if "amount" in m:
            amount = num("amount")
        else:
            amount = f"({num('quantity')} * {num('unit_price')})"
        raw_cols = ", ".join(q(c) for c in raw.columns)
        select = [
            "? AS source",
            f"raw.{q(LINE)}::BIGINT AS source_row",
            f"{_text_expr(m['customer_id'], types[m['customer_id']])} AS source_customer_id",
            f"{ts_expr} AS timestamp",
            f"{num('quantity')} AS quantity",
            f"{num('unit_price')} AS unit_price",
            f"{amount} AS amount",
            *(f"{_text_expr(m[c], types[m[c]]) if c in m else 'NULL::VARCHAR'} AS {c}" for c in TEXT_COLUMNS),
            f"dups.line IS NOT NULL AS {DUPLICATE_FLAG}",
        ]
        # Exact duplicates: every line of a group of equal rows but the first. A hash aggregate that lists the
        # lines of the (few) repeated groups is faster than a window over all rows.
        dups = (
            f"SELECT unnest(list({q(LINE)} ORDER BY {q(LINE)})[2:]) AS line FROM raw "
            f"GROUP BY {raw_cols} HAVING count(*) > 1"
        )
        sql = (
            f"SELECT {', '.join(select)} FROM raw LEFT JOIN ({dups}) AS dups ON raw.{q(LINE)} = dups.line "
            f"ORDER BY raw.{q(LINE)}"
        )
        frame = con.sql(sql, params=[raw.name]).to_arrow_table().to_pandas()
    finally:
        con.close()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def _text_expr(col: str, dtype: pa.DataType) -> str:
    """Text as the canonical column holds it: trimmed, blank -> NULL, and ids stored as floats (17850.0, as
    pandas writes an integer column with gaps) written without the ``.0``."""
    ref = q(col)
    if pa.types.is_floating(dtype):
        text = f"CASE WHEN {ref} = trunc({ref}) THEN CAST(CAST({ref} AS BIGINT) AS VARCHAR) ELSE CAST({ref} AS VARCHAR) END"
    else:
        text = f"CAST({ref} AS VARCHAR)"
    return f"NULLIF(trim({text}), '')"


def _number_expr(con: duckdb.DuckDBPyConnection, raw: RawTable, col: str) -> str:
    """SQL reading a numeric column: plain numbers, or decimal commas (``1.234,5``) when every value is one.

    Raises
    ------
    InputError
        at the first value that is not a number, with the count of such values.
    """
    text = f"NULLIF(trim(CAST({q(col)} AS VARCHAR)), '')"
    plain = f"TRY_CAST({text} AS DOUBLE)"
    # European exports write 1.234,50: accepted only when it reads *every* value, so 1,234 never turns into 1.234.
    comma = f"TRY_CAST(replace(replace({text}, '.', ''), ',', '.') AS DOUBLE)"
    n_plain_bad, n_comma_bad, n_commas = con.execute(
        f"SELECT count(*) FILTER (WHERE {text} IS NOT NULL AND {plain} IS NULL), "
        f"count(*) FILTER (WHERE {text} IS NOT NULL AND {comma} IS NULL), "
        f"count(*) FILTER (WHERE contains({text}, ',')) FROM raw"
    ).fetchall()[0]
    if n_plain_bad == 0:
        return plain
    if n_comma_bad == 0 and n_commas > 0:
        return comma
    bad = con.execute(
        f"SELECT {q(LINE)}, CAST({q(col)} AS VARCHAR) FROM raw WHERE {text} IS NOT NULL AND {plain} IS NULL "
        f"ORDER BY {q(LINE)} LIMIT 1"
    ).fetchall()[0]
    more = f" ({n_plain_bad - 1:,} more rows like it)" if n_plain_bad > 1 else ""
    raise InputError(
        f"not a number{more}", file=raw.name, row=int(bad[0]), column=col, expected="a number", found=bad[1]
    )


def _timestamp_expr(
    con: duckdb.DuckDBPyConnection, raw: RawTable, col: str, dtype: pa.DataType, fmt: str | None
) -> str:
    """SQL that parses the timestamp column, with the format chosen on a sample of its values."""
    ref = q(col)
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        return f"CAST({ref} AS TIMESTAMP)"
    text = f"NULLIF(trim(CAST({ref} AS VARCHAR)), '')"
    if fmt:
        return f"try_strptime({text}, '{fmt.replace(chr(39), chr(39) * 2)}')"
    candidates = {"iso": f"TRY_CAST(regexp_replace({text}, '{_OFFSET}', '\\1') AS TIMESTAMP)"}
    for f in TIMESTAMP_FORMATS:
        candidates[f] = f"try_strptime({text}, '{f}')"
    counts = con.execute(
        "SELECT "
        + ", ".join(f"count({expr.replace(ref, q('v'))})" for expr in candidates.values())
        + f" FROM (SELECT DISTINCT {ref} AS v FROM raw WHERE {text} IS NOT NULL LIMIT 20000)"
    ).fetchall()[0]
    best = max(range(len(candidates)), key=lambda i: (counts[i], -i))
    if counts[best] == 0:
        first = con.execute(
            f"SELECT {q(LINE)}, {text} FROM raw WHERE {text} IS NOT NULL ORDER BY {q(LINE)} LIMIT 1"
        ).fetchall()
        first = first[0] if first else None
        if first is None:
            raise InputError("the timestamp column is empty", file=raw.name, column=col)
        raise InputError(
            "no known date format reads this timestamp column (give one with timestamp_format=...)",
            file=raw.name,
            row=int(first[0]),
            column=col,
            expected="a date/time such as 2011-12-09 12:50:00, 20111209 or 12/9/2011 12:50",
            found=first[1],
        )
    return list(candidates.values())[best]

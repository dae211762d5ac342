"""The plumbing shared by the SQL feature builders: time units, literals, dialects and where the SQL runs.

Every builder writes its query ONCE in DuckDB's SQL and :func:`render` transpiles it with SQLGlot to the engine
that will run it (``duckdb``, ``postgres``, ``spark``). The queries only use constructs all three share
(``DATE_TRUNC``, ``DATE_DIFF('day', ...)``, window ``MIN ... OVER``, ``CASE``, ``COALESCE``, ``NULLIF``), and every
division is done on a ``DOUBLE`` so PostgreSQL's integer division never applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import sqlglot

from patron.errors import ConfigError
from patron.storage.base import quote_identifier

# numpy's np.timedelta64(1, "M") (which lifetimes divides by) is the mean Gregorian month: 365.2425 / 12 days.
MEAN_GREGORIAN_MONTH_DAYS = 30.436875


@dataclass(frozen=True)
class TimeUnit:
    """A period length: the pandas frequency code, the SQL ``DATE_TRUNC`` part and its length in days."""

    code: str
    sql_part: str
    days: float
    name: str


TIME_UNITS: dict[str, TimeUnit] = {
    "D": TimeUnit("D", "day", 1.0, "day"),
    "W": TimeUnit("W", "week", 7.0, "week"),
    "M": TimeUnit("M", "month", MEAN_GREGORIAN_MONTH_DAYS, "month"),
}
_ALIASES = {"day": "D", "days": "D", "week": "W", "weeks": "W", "month": "M", "months": "M", "W-SUN": "W"}


def time_unit(value: str | TimeUnit) -> TimeUnit:
    """Parse ``D``/``W``/``M`` (or ``day``/``week``/``month``) into a :class:`TimeUnit`."""
    if isinstance(value, TimeUnit):
        return value
    key = _ALIASES.get(str(value).strip(), str(value).strip())
    key = _ALIASES.get(key.lower(), key.upper())
    if key not in TIME_UNITS:
        raise ConfigError(f"unknown time unit {value!r}; expected one of D/day, W/week, M/month")
    return TIME_UNITS[key]


def check_multiplier(freq_multiplier: float) -> float:
    if not freq_multiplier or freq_multiplier <= 0:
        raise ConfigError(f"freq_multiplier must be a positive number, got {freq_multiplier!r}")
    return float(freq_multiplier)


def timestamp_literal(value: Any) -> str:
    """A SQL timestamp literal; the value is parsed by pandas first, so nothing user-typed reaches the SQL."""
    ts = to_timestamp(value, what="date")
    return f"CAST('{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}' AS TIMESTAMP)"


def to_timestamp(value: Any, *, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{what} {value!r} is not a date (expected e.g. 1997-09-30)") from exc
    if ts is pd.NaT:
        raise ConfigError(f"{what} is missing (expected a date such as 1997-09-30)")
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def ident(name: str) -> str:
    return quote_identifier(name)


def relation(table: str) -> str:
    """Quote a table name, allowing one ``schema.table`` qualifier."""
    return ".".join(ident(part) for part in table.split(".", 1))


def render(sql: str, dialect: str) -> str:
    """Transpile DuckDB-dialect SQL to ``dialect`` (identity for duckdb)."""
    if dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=False)[0]


# --- where the SQL runs ----------------------------------------------------------------------------------------
Runner = Callable[[str], pd.DataFrame]


def runner_for(store: Any) -> tuple[Runner, str]:
    """Return ``(run(sql) -> DataFrame, dialect)`` for a DuckDB connection, a Patron repository or a psycopg
    connection."""
    if isinstance(store, duckdb.DuckDBPyConnection):
        return (lambda sql: store.execute(sql).df()), "duckdb"
    con = getattr(store, "connection", None)
    if isinstance(con, duckdb.DuckDBPyConnection):
        return (lambda sql: con.execute(sql).df()), "duckdb"
    url = str(getattr(store, "url", ""))
    if hasattr(store, "query") and url.startswith(("postgresql://", "postgres://")):
        return store.query, "postgres"
    if type(store).__module__.startswith("psycopg"):
        return (lambda sql: _psycopg_frame(store, sql)), "postgres"
    if hasattr(store, "query"):
        return store.query, getattr(store, "dialect", "duckdb")
    raise ConfigError(
        f"cannot run SQL on {type(store).__name__}: pass a Patron Repository, a DuckDB connection or a "
        "psycopg connection"
    )


def _psycopg_frame(con: Any, sql: str) -> pd.DataFrame:
    with con.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=names)


def max_timestamp(run: Runner, source: str, timestamp_sql: str) -> pd.Timestamp:
    """The latest timestamp in the source (the default observation end, as lifetimes uses)."""
    value = run(f"SELECT MAX(CAST({timestamp_sql} AS TIMESTAMP)) AS t FROM {source}").iloc[0, 0]
    if value is None or pd.isna(value):
        raise ConfigError(f"{source} has no transactions, so there is no observation period to summarise")
    return pd.Timestamp(value)

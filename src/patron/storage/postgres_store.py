"""The PostgreSQL store (psycopg 3): the same :class:`~patron.storage.base.Repository` contract as DuckDB.

* ``?`` placeholders are translated to psycopg's ``%s`` by a small scanner that skips quoted strings and
  identifiers (so a literal ``'?'`` or ``"a?"`` is left alone) and doubles every other ``%``.
* The connection runs in autocommit mode; :meth:`PostgresRepository.transaction` opens a real transaction
  (nested use becomes a savepoint), so a run's rows and its ``succeeded`` status commit together. A process killed
  mid-write drops its connection and the server rolls the open transaction back: nothing partial is ever visible.
* Schema migrations: :data:`MIGRATIONS` are applied in order on connect, each once, recorded in
  ``schema_migrations(version, description, applied_at)``; a transaction-scoped advisory lock keeps two processes
  from applying the same migration at once.
* The schema is the connection's ``search_path`` (``postgresql://...?options=-csearch_path%3Dmyschema``), so
  several independent stores can share one database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from patron.errors import ConfigError
from patron.storage.base import MODELS_TABLE, RUNS_TABLE, Repository, quote_identifier

MIGRATIONS_TABLE = "schema_migrations"
_ADVISORY_LOCK = 0x5A7201  # any constant: serialises migrations across processes

# (version, description, statements). Append only: never edit a migration that has shipped.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "runs and model artefacts",
        (
            f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, "
            "status VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, params VARCHAR, "
            "input_fingerprint VARCHAR, timings VARCHAR, report VARCHAR, error VARCHAR, package_version VARCHAR)",
            f"CREATE INDEX IF NOT EXISTS runs_kind_started ON {RUNS_TABLE} (kind, status, started_at)",
            f"CREATE TABLE IF NOT EXISTS {MODELS_TABLE} (run_id VARCHAR NOT NULL, name VARCHAR NOT NULL, "
            "payload BYTEA NOT NULL)",
        ),
    ),
)


def translate_placeholders(sql: str) -> str:
    """``?`` -> ``%s`` and ``%`` -> ``%%`` outside quoted strings, identifiers and comments."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            # A quoted run ends at the next unpaired quote ('' and "" escape a quote inside).
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _pg_type(series: pd.Series) -> str:
    """The PostgreSQL column type for a pandas column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE PRECISION"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "TIMESTAMPTZ"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "TIMESTAMP"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "INTERVAL"
    sample = series.dropna()
    first = sample.iloc[0] if len(sample) else None
    if isinstance(first, bytes | bytearray | memoryview):
        return "BYTEA"
    if isinstance(first, bool | np.bool_):
        return "BOOLEAN"
    if isinstance(first, int | np.integer):
        return "BIGINT"
    if isinstance(first, float | np.floating):
        return "DOUBLE PRECISION"
    if isinstance(first, pd.Timestamp):
        return "TIMESTAMPTZ" if first.tzinfo is not None else "TIMESTAMP"
    return "TEXT"


def _python_value(value: Any) -> Any:
    """A value psycopg can send: numpy scalars to Python, NaN/NaT/NA to NULL."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, memoryview):
        return bytes(value)
    return value


_COPY_CHUNK_ROWS = 100_000


def _arrow_table(frame: pd.DataFrame) -> Any:
    """The frame as an Arrow table when every column is a type the CSV path writes exactly, else None (then
    COPY goes row by row: bytes, intervals, time-zone-aware times and mixed objects)."""
    import pyarrow as pa

    for column in frame.columns:
        kind = frame[column].dtype.kind
        if kind not in "fiubMO" or isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            return None
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    for field in table.schema:
        t = field.type
        if not (
            pa.types.is_floating(t)
            or pa.types.is_integer(t)
            or pa.types.is_boolean(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_null(t)
            or (pa.types.is_timestamp(t) and t.tz is None)
        ):
            return None
    return table


def _csv_bytes(batch: Any) -> bytes:
    import io

    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buffer.getvalue()


class PostgresRepository(Repository):
    """A PostgreSQL database (schema from the URL's ``search_path``), through one psycopg 3 connection."""

    dialect = "postgres"

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        try:
            self.con = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise ConfigError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}".strip()) from None
        if read_only:
            self.con.execute("SET default_transaction_read_only = on")
        else:
            self.migrate()

    # --- migrations -------------------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply the pending :data:`MIGRATIONS` (each in its own transaction); return the versions applied."""
        applied: list[int] = []
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in self.con.execute(f"SELECT version FROM {MIGRATIONS_TABLE}").fetchall()}
            for version, description, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    self.con.execute(statement)
                self.con.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, description) VALUES (%s, %s)",
                    [version, description],
                )
                applied.append(version)
        return applied

    def schema_version(self) -> int:
        """The highest migration applied to this store."""
        row = self.con.execute(f"SELECT max(version) FROM {MIGRATIONS_TABLE}").fetchone()
        return int(row[0] or 0) if row else 0

    # --- primitives ---------------------------------------------------------------------------------------------
    @property
    def connection(self) -> psycopg.Connection:
        """The raw psycopg connection."""
        return self.con

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self.con.cursor() as cur:
            cur.execute(translate_placeholders(sql), [_python_value(p) for p in params])
            if cur.description is None:
                return pd.DataFrame()
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
        frame = pd.DataFrame.from_records(rows, columns=names)
        for col in frame.columns:
            # NUMERIC (sums of integers, averages) arrives as Decimal: give the float DuckDB gives.
            if frame[col].dtype == object and len(frame) and frame[col].map(type).eq(Decimal).any():
                frame[col] = frame[col].map(lambda v: None if v is None else float(v)).astype(float)
        return frame

    def query_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(translate_placeholders(sql), [_python_value(p) for p in params])
            return cur.fetchall() if cur.description is not None else []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(translate_placeholders(sql), [_python_value(p) for p in params])

    def has_table(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = %s "
            "AND table_schema = current_schema()",
            [name],
        ).fetchone()
        return bool(row and row[0])

    def table_columns(self, name: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "AND table_schema = current_schema() ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return [r[0] for r in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # psycopg: the outermost block is BEGIN/COMMIT (ROLLBACK on an exception), inner blocks are savepoints.
        with self.con.transaction():
            yield

    def _create(self, name: str, frame: pd.DataFrame) -> None:
        cols = ", ".join(f"{quote_identifier(str(c))} {_pg_type(frame[c])}" for c in frame.columns)
        self.con.execute(f"CREATE TABLE {quote_identifier(name)} ({cols})")

    def _copy(self, name: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        cols = ", ".join(quote_identifier(str(c)) for c in frame.columns)
        table = _arrow_table(frame)
        with self.con.cursor() as cur:
            if table is not None:
                # Numbers, text, booleans and naive timestamps: Arrow's CSV writer (C++) feeds COPY in CSV
                # format, about 10x faster than a Python row loop (1M scores in ~1 s instead of ~9 s). An
                # unquoted empty field is NULL, a quoted "" the empty string, and floats are written in their
                # shortest round-trip form, so the stored values are exactly the frame's.
                sql = f"COPY {quote_identifier(name)} ({cols}) FROM STDIN WITH (FORMAT csv)"
                with cur.copy(sql) as copy:
                    for batch in table.to_batches(max_chunksize=_COPY_CHUNK_ROWS):
                        copy.write(_csv_bytes(batch))
                return
            with cur.copy(f"COPY {quote_identifier(name)} ({cols}) FROM STDIN") as copy:
                columns = [frame[c].astype(object).to_numpy() for c in frame.columns]
                for row in zip(*columns, strict=True):
                    copy.write_row([_python_value(v) for v in row])

    def _insert_frame(self, name: str, frame: pd.DataFrame) -> None:
        if not self.has_table(name):
            self._create(name, frame)
        else:
            existing = set(self.table_columns(name))
            for col in frame.columns:
                if col not in existing:
                    self.con.execute(
                        f"ALTER TABLE {quote_identifier(name)} ADD COLUMN {quote_identifier(str(col))} "
                        f"{_pg_type(frame[col])}"
                    )
        self._copy(name, frame)

    def _replace_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
        self._create(name, frame)
        self._copy(name, frame)

    def close(self) -> None:
        self.con.close()


def _redact(url: str) -> str:
    """The URL without its password (error messages may reach a log)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url

"""The embedded default store: one DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from patron.storage.base import Repository, quote_identifier


class DuckDBRepository(Repository):
    """A DuckDB file (or ``:memory:``). DuckDB allows one writing process per file at a time."""

    def __init__(self, path: str | Path = "patron.duckdb", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.url = self.path
        self.read_only = read_only
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(self.path, read_only=read_only)
        # DuckDB draws its own progress bar on long statements, in the middle of the CLI's output.
        self.con.execute("SET enable_progress_bar = false")
        self._depth = 0

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The raw connection, for the SQL feature builders that run inside DuckDB."""
        return self.con

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self.con.execute(sql, list(params)).df()

    def query_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def has_table(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
            [name],
        ).fetchone()
        return bool(row and row[0])

    def table_columns(self, name: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
            "ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return [r[0] for r in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # Nested use joins the outer transaction: DuckDB has no savepoints.
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self._depth = 0

    def _insert_frame(self, name: str, frame: pd.DataFrame) -> None:
        table = quote_identifier(name)
        self.con.register("_patron_frame", frame)
        try:
            if not self.has_table(name):
                self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM _patron_frame")
                return
            existing = set(self.table_columns(name))
            for col in frame.columns:
                if col not in existing:
                    dtype = self.con.execute(
                        f"SELECT typeof({quote_identifier(col)}) FROM _patron_frame LIMIT 1"
                    ).fetchone()
                    self.con.execute(
                        f"ALTER TABLE {table} ADD COLUMN {quote_identifier(col)} {dtype[0] if dtype else 'VARCHAR'}"
                    )
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _patron_frame")
        finally:
            self.con.unregister("_patron_frame")

    def _replace_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register("_patron_frame", frame)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TABLE {quote_identifier(name)} AS SELECT * FROM _patron_frame"
            )
        finally:
            self.con.unregister("_patron_frame")

    def close(self) -> None:
        self.con.close()

"""The one storage interface every layer talks to.

Two kinds of tables live in a store:

* **dataset tables** (``transactions``, ``customers``, ``identity_links``, ``btyd_summary`` ...) hold the current
  state; :meth:`Repository.replace_tables` swaps a group of them in one transaction, so readers never see half of
  an ingest.
* **result tables** (``clv_scores``, ``segment_assignments``, ``churn_scores``, ``reasons`` ...) are append-only and
  keyed by ``run_id``. A run's rows become visible only when the run commits (rows and the run's ``succeeded``
  status are written in one transaction), so a failed or killed run leaves the previous results served and intact,
  and the history of predictions stays queryable.

Placeholders in :meth:`Repository.query` are positional ``?`` in every backend.
"""

from __future__ import annotations

import json
import pickle
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from patron import __version__
from patron.errors import NotFoundError

RUNS_TABLE = "runs"
RUN_COLUMNS: tuple[str, ...] = (
    "run_id",
    "kind",
    "status",
    "started_at",
    "finished_at",
    "params",
    "input_fingerprint",
    "timings",
    "report",
    "error",
    "package_version",
)
MODELS_TABLE = "model_artifacts"


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the second plus 8 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


@dataclass
class Run:
    """A run being built: results are staged here and written atomically by :meth:`Repository.run`."""

    run_id: str
    kind: str
    params: dict[str, Any]
    input_fingerprint: str | None
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    staged: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    staged_replacements: dict[str, pd.DataFrame] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)

    def write(self, table: str, frame: pd.DataFrame) -> None:
        """Stage result rows for ``table``; a ``run_id`` column is added."""
        frame = frame.reset_index() if _has_named_index(frame) else frame.copy()
        frame.insert(0, "run_id", self.run_id)
        self.staged.append((table, frame))

    def replace(self, table: str, frame: pd.DataFrame) -> None:
        """Stage a dataset table to be swapped in when the run commits."""
        self.staged_replacements[table] = frame.reset_index() if _has_named_index(frame) else frame

    def save_model(self, name: str, obj: Any) -> None:
        """Stage a fitted object (pickled) to be stored with the run."""
        self.models[name] = obj

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Record how long a step took in ``timings`` (seconds)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - t0, 4)


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


class Repository(ABC):
    """Storage behind one interface: DuckDB (embedded default) and PostgreSQL implement it."""

    url: str

    # --- primitives each backend implements -------------------------------------------------------------
    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a parameterised SELECT (``?`` placeholders) and return a frame."""

    def query_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Like :meth:`query` but plain tuples: for small lookups on a hot path (an API request), where building a
        DataFrame costs more than the query. Backends override it with their cursor's ``fetchall``."""
        return list(self.query(sql, params).itertuples(index=False, name=None))

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a parameterised statement that returns nothing."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether ``name`` exists."""

    @abstractmethod
    def table_columns(self, name: str) -> list[str]:
        """Column names of ``name`` in order."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""

    @abstractmethod
    def _insert_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Append ``frame`` to ``name``, creating the table from the frame's schema if it does not exist.
        Columns the table lacks are added. Called inside :meth:`transaction`."""

    @abstractmethod
    def _replace_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Drop and recreate ``name`` from ``frame``. Called inside :meth:`transaction`."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    # --- everything else is written once, here ----------------------------------------------------------
    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole of a dataset table."""
        if not self.has_table(name):
            raise NotFoundError(
                f"table {name!r} does not exist in the store {self.url} (run the step that makes it)"
            )
        cols = ", ".join(_quote(c) for c in columns) if columns else "*"
        return self.query(f"SELECT {cols} FROM {_quote(name)}")

    def replace_tables(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Swap several dataset tables in one transaction."""
        with self.transaction():
            for name, frame in tables.items():
                self._replace_frame(name, frame)

    @contextmanager
    def run(
        self, kind: str, params: Mapping[str, Any] | None = None, *, input_fingerprint: str | None = None
    ) -> Iterator[Run]:
        """Open a run; on a clean exit its staged results, models and ``succeeded`` status commit together.

        On an exception the run is recorded as ``failed`` with the message and nothing it staged is written.
        """
        run = Run(new_run_id(), kind, dict(params or {}), input_fingerprint)
        self._ensure_runs_table()
        self._insert_run_row(run, status="running")
        try:
            yield run
        except BaseException as exc:
            self.execute(
                f"UPDATE {RUNS_TABLE} SET status = ?, finished_at = ?, error = ? WHERE run_id = ?",
                ["failed", _now(), f"{type(exc).__name__}: {exc}"[:2000], run.run_id],
            )
            raise
        run.timings.setdefault("total", round(time.perf_counter() - run.started, 4))
        with self.transaction():
            for table, frame in run.staged:
                self._insert_frame(table, frame)
            for table, frame in run.staged_replacements.items():
                self._replace_frame(table, frame)
            if run.models:
                self._insert_frame(
                    MODELS_TABLE,
                    pd.DataFrame(
                        {
                            "run_id": run.run_id,
                            "name": list(run.models),
                            "payload": [pickle.dumps(m, protocol=5) for m in run.models.values()],
                        }
                    ),
                )
            self.execute(
                f"UPDATE {RUNS_TABLE} SET status = ?, finished_at = ?, timings = ?, report = ? WHERE run_id = ?",
                [
                    "succeeded",
                    _now(),
                    json.dumps(run.timings),
                    json.dumps(run.report, default=str),
                    run.run_id,
                ],
            )

    def list_runs(self, kind: str | None = None) -> pd.DataFrame:
        """All runs, newest first."""
        if not self._runs_exist():
            return pd.DataFrame(columns=list(RUN_COLUMNS))
        where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
        return self.query(f"SELECT * FROM {RUNS_TABLE} {where} ORDER BY started_at DESC, run_id DESC", params)

    def get_run(self, run_id: str) -> dict[str, Any]:
        if not self._runs_exist():
            raise NotFoundError(f"no run with id {run_id!r}")
        rows = self.query(f"SELECT * FROM {RUNS_TABLE} WHERE run_id = ?", [run_id])
        if rows.empty:
            raise NotFoundError(f"no run with id {run_id!r}")
        return _run_record(rows.iloc[0])

    def latest_run(self, kind: str) -> dict[str, Any] | None:
        """The newest succeeded run of ``kind``, or None."""
        if not self._runs_exist():
            return None
        rows = self.query(
            f"SELECT * FROM {RUNS_TABLE} WHERE kind = ? AND status = 'succeeded' "
            "ORDER BY started_at DESC, run_id DESC LIMIT 1",
            [kind],
        )
        return None if rows.empty else _run_record(rows.iloc[0])

    def read_results(self, table: str, *, run_id: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """Rows of a result table for one run: ``run_id`` if given, else the latest succeeded run of ``kind``."""
        if run_id is None:
            if kind is None:
                raise ValueError("read_results needs run_id or kind")
            latest = self.latest_run(kind)
            if latest is None:
                raise NotFoundError(f"no succeeded {kind!r} run in the store {self.url}")
            run_id = latest["run_id"]
        if not self.has_table(table):
            raise NotFoundError(f"table {table!r} does not exist in the store {self.url}")
        return self.query(f"SELECT * FROM {_quote(table)} WHERE run_id = ?", [run_id])

    def load_model(self, name: str, *, run_id: str | None = None, kind: str | None = None) -> Any:
        """Unpickle a model stored with a run (the latest succeeded run of ``kind`` if no run_id).

        Only load artefacts from stores you trust: pickles run code when loaded.
        """
        if run_id is None:
            latest = self.latest_run(kind or "")
            if latest is None:
                raise NotFoundError(f"no succeeded {kind!r} run with a model in the store {self.url}")
            run_id = latest["run_id"]
        rows = (
            self.query(f"SELECT payload FROM {MODELS_TABLE} WHERE run_id = ? AND name = ?", [run_id, name])
            if self.has_table(MODELS_TABLE)
            else pd.DataFrame()
        )
        if rows.empty:
            raise NotFoundError(f"no model {name!r} stored with run {run_id!r}")
        return pickle.loads(bytes(rows.iloc[0]["payload"]))

    # --- runs table -----------------------------------------------------------------------------------------
    def _runs_exist(self) -> bool:
        """Whether the runs table exists, creating it first unless the store was opened read-only."""
        if getattr(self, "read_only", False):
            return self.has_table(RUNS_TABLE)
        self._ensure_runs_table()
        return True

    def _ensure_runs_table(self) -> None:
        if not self.has_table(RUNS_TABLE):
            self.execute(
                f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, "
                "status VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, params VARCHAR, "
                "input_fingerprint VARCHAR, timings VARCHAR, report VARCHAR, error VARCHAR, package_version VARCHAR)"
            )

    def _insert_run_row(self, run: Run, *, status: str) -> None:
        self.execute(
            f"INSERT INTO {RUNS_TABLE} (run_id, kind, status, started_at, params, input_fingerprint, package_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id,
                run.kind,
                status,
                _now(),
                json.dumps(run.params, default=str),
                run.input_fingerprint,
                __version__,
            ],
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _run_record(row: pd.Series) -> dict[str, Any]:
    rec = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    for key in ("params", "timings", "report"):
        if isinstance(rec.get(key), str):
            rec[key] = json.loads(rec[key])
    return rec


def _quote(identifier: str) -> str:
    """Quote an identifier for SQL (identifiers are never taken from user values without this)."""
    return '"' + identifier.replace('"', '""') + '"'


quote_identifier = _quote

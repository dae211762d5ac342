"""Read functions over the store, shared by the report and the dashboard (read-only, no numerics).

Result tables are append-only and keyed by ``run_id``; "the latest results" of a table are the rows of the newest
*succeeded* run that wrote to it, whatever that run's kind is called, so a reader does not depend on which command
produced a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from patron.errors import NotFoundError
from patron.storage.base import RUNS_TABLE, Repository, quote_identifier

# What to run when a table is absent (shown instead of a section; one place to keep them right).
PRODUCERS: dict[str, str] = {
    "cleaning_report": "patron ingest FILE",
    "transactions": "patron ingest FILE",
    "btyd_summary": "patron summary",
    "btyd_calibration": "patron summary",
    "clv_parameters": "patron clv fit",
    "clv_model_comparison": "patron clv fit",
    "clv_scores": "patron clv score",
    "segment_profiles": "patron segment",
    "segment_assignments": "patron segment",
    "segment_transitions": "patron segment",
    "churn_metrics": "patron churn fit",
    "churn_reliability": "patron churn fit",
    "churn_lift": "patron churn fit",
    "churn_scores": "patron churn score",
    "churn_reasons": "patron churn score",
}


@dataclass(frozen=True)
class Results:
    """The rows one run wrote to one result table, with that run's record."""

    table: str
    rows: pd.DataFrame
    run: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])


def not_run_message(table: str) -> str:
    """The sentence shown where a table is missing."""
    return f"not run yet: run `{PRODUCERS.get(table, 'patron')}`"


def runs_with(repo: Repository, table: str) -> pd.DataFrame:
    """Succeeded runs that wrote rows to ``table``, newest first (empty when the table does not exist)."""
    if not repo.has_table(table) or not repo.has_table(RUNS_TABLE):
        return pd.DataFrame(columns=["run_id", "kind", "started_at"])
    return repo.query(
        f"SELECT run_id, kind, started_at, finished_at FROM {RUNS_TABLE} WHERE status = 'succeeded' AND run_id IN "
        f"(SELECT DISTINCT run_id FROM {quote_identifier(table)}) ORDER BY started_at DESC, run_id DESC"
    )


def latest_results(repo: Repository, table: str, run_id: str | None = None) -> Results | None:
    """Rows of ``table`` from ``run_id`` if that run wrote to it, else from the newest succeeded run that did;
    None when no run did."""
    runs = runs_with(repo, table)
    if runs.empty:
        return None
    chosen = run_id if run_id is not None and run_id in set(runs["run_id"]) else str(runs.iloc[0]["run_id"])
    rows = repo.query(f"SELECT * FROM {quote_identifier(table)} WHERE run_id = ?", [chosen])
    return Results(table=table, rows=rows, run=repo.get_run(chosen))


def dataset(repo: Repository, table: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    """A dataset table (``transactions``, ``btyd_summary`` ...) or None when the store does not have it."""
    if not repo.has_table(table):
        return None
    return repo.read_table(table, columns)


def latest_run_of(repo: Repository, kind: str) -> dict[str, Any] | None:
    """The newest succeeded run of ``kind`` (None if none; also when the store has no runs table yet)."""
    if not repo.has_table(RUNS_TABLE):  # Repository.latest_run would create it: not on a read-only store
        return None
    try:
        return repo.latest_run(kind)
    except NotFoundError:
        return None


def load_model(repo: Repository, name: str, run_id: str) -> Any | None:
    """A model stored with ``run_id``, or None when that run stored none by that name."""
    try:
        return repo.load_model(name, run_id=run_id)
    except NotFoundError:
        return None


def list_runs(repo: Repository) -> pd.DataFrame:
    """Every run, newest first (an empty frame when the store has no runs table, without creating it)."""
    if not repo.has_table(RUNS_TABLE):
        return pd.DataFrame(columns=["run_id", "kind", "status", "started_at", "finished_at", "error"])
    return repo.list_runs()

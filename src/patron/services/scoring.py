"""Use-cases behind the scoring endpoints: stored predictions per customer, and scoring new customers.

Stored predictions live in result tables written by runs (``clv_scores``, ``churn_scores``, ``churn_reasons``,
``segment_assignments``); only rows of *succeeded* runs are read, joined with ``runs`` for the time they were
produced, so a failed or killed run is never served and the history of a customer's predictions is queryable.

Scoring new customers uses models fitted earlier by CLI runs (never fitted here): the latest ``clv_fit`` run's
``purchase`` and ``spend`` models (:func:`patron.services.clv.score_frame`) and, when present and when a customer
comes with churn features, the latest ``churn_fit`` run's ``churn`` model
(:func:`patron.services.churn.score_customer`). :class:`ModelCache` keeps the unpickled models and reloads them
only when a newer run has succeeded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from patron.errors import InputError, ModelError, NotFoundError
from patron.storage.base import RUNS_TABLE, Repository, quote_identifier

SCORE_TABLES: dict[str, str] = {
    "clv": "clv_scores",
    "churn": "churn_scores",
    "reasons": "churn_reasons",
    "segment": "segment_assignments",
}
CLV_FIT_KIND = "clv_fit"
CHURN_FIT_KIND = "churn_fit"
BTYD_FIELDS = ("frequency", "recency", "T", "monetary_value")


# --- stored predictions -----------------------------------------------------------------------------------------
def _rows_for(repo: Repository, table: str, customer_id: str, *, limit_runs: int | None) -> pd.DataFrame:
    """Rows of ``table`` for one customer from succeeded runs, newest run first."""
    sql = (
        f"SELECT t.*, r.kind AS run_kind, r.finished_at AS run_finished_at FROM {quote_identifier(table)} t "
        f"JOIN {RUNS_TABLE} r ON r.run_id = t.run_id "
        "WHERE r.status = 'succeeded' AND CAST(t.customer_id AS VARCHAR) = ? "
        "ORDER BY r.finished_at DESC, t.run_id DESC"
    )
    frame = repo.query(sql, [customer_id])
    if limit_runs is not None and len(frame):
        keep = frame["run_id"].drop_duplicates().head(limit_runs)
        frame = frame[frame["run_id"].isin(set(keep))]
    return frame.reset_index(drop=True)


def customer_scores(
    repo: Repository, customer_id: str, *, history: bool = False, limit_runs: int = 100
) -> dict[str, pd.DataFrame]:
    """A customer's stored predictions: for each of :data:`SCORE_TABLES` present in the store, the rows of the
    newest succeeded run that scored them (``history=False``) or of up to ``limit_runs`` runs, newest first.

    Every frame carries ``run_id``, ``run_kind`` and ``run_finished_at``. Raises NotFoundError when no table has
    a row for the customer.
    """
    if not repo.has_table(RUNS_TABLE):
        raise NotFoundError("the store has no runs yet: nothing has been scored")
    out: dict[str, pd.DataFrame] = {}
    for key, table in SCORE_TABLES.items():
        if not repo.has_table(table) or "customer_id" not in repo.table_columns(table):
            continue
        frame = _rows_for(repo, table, str(customer_id), limit_runs=limit_runs if history else 1)
        if len(frame):
            out[key] = frame
    if not out:
        raise NotFoundError(f"no stored scores for customer {customer_id!r}")
    return out


# --- scoring new customers --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoringModels:
    """The fitted models a scoring request uses, with the runs they came from."""

    purchase: Any
    spend: Any
    clv_run_id: str
    churn: Any = None
    churn_run_id: str | None = None


def load_models(repo: Repository) -> ScoringModels:
    """The models of the latest succeeded ``clv_fit`` (required) and ``churn_fit`` (optional) runs."""
    clv_run = repo.latest_run(CLV_FIT_KIND)
    if clv_run is None:
        raise ModelError(
            f"no succeeded {CLV_FIT_KIND!r} run in the store: fit the CLV models first (a CLI run), then score"
        )
    purchase = repo.load_model("purchase", run_id=clv_run["run_id"])
    spend = repo.load_model("spend", run_id=clv_run["run_id"])
    churn_run = repo.latest_run(CHURN_FIT_KIND)
    churn = repo.load_model("churn", run_id=churn_run["run_id"]) if churn_run else None
    return ScoringModels(
        purchase, spend, clv_run["run_id"], churn, churn_run["run_id"] if churn_run else None
    )


class ModelCache:
    """Unpickled models shared by requests; reloaded only when a newer fit run has succeeded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: ScoringModels | None = None

    def get(self, repo: Repository) -> ScoringModels:
        clv_run = repo.latest_run(CLV_FIT_KIND)
        churn_run = repo.latest_run(CHURN_FIT_KIND)
        ids = (clv_run and clv_run["run_id"], churn_run and churn_run["run_id"])
        with self._lock:
            cached = self._models
            if cached is None or (cached.clv_run_id, cached.churn_run_id) != ids:
                self._models = cached = load_models(repo)
            return cached


def summary_frame(customers: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A BTYD summary frame (indexed by customer_id) from request records; ids default to their position."""
    if not customers:
        raise InputError("give at least one customer to score")
    frame = pd.DataFrame(
        {f: [float(c[f]) if c.get(f) is not None else float("nan") for c in customers] for f in BTYD_FIELDS}
    )
    frame.index = pd.Index(
        [str(c.get("customer_id") or i) for i, c in enumerate(customers)], name="customer_id"
    )
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise InputError(f"customer_id {dup!r} appears more than once in the request")
    return frame


def score_frame(
    models: ScoringModels,
    frame: pd.DataFrame,
    *,
    horizon: float = 52.0,
    discount_rate: float = 0.0,
    margin: float = 1.0,
) -> pd.DataFrame:
    """CLV, P(alive) and expected purchases over ``horizon`` (the summary's time unit) for a summary frame.

    A thin pass-through to :func:`patron.services.clv.score_frame`, so the API, the CLI and the batch benchmark all
    score with the same code.
    """
    from patron.services.clv import score_frame as clv_score_frame

    missing = [f for f in ("frequency", "recency", "T") if f not in frame.columns]
    if missing:
        raise InputError(f"the frame to score lacks column(s) {missing}")
    return clv_score_frame(
        models.purchase, models.spend, frame, horizon=horizon, discount_rate=discount_rate, margin=margin
    )


def score_customers(
    models: ScoringModels,
    customers: Sequence[Mapping[str, Any]],
    *,
    horizon: float = 52.0,
    discount_rate: float = 0.0,
    margin: float = 1.0,
) -> list[dict[str, Any]]:
    """Score request records: each gets the CLV outputs and, if it carries ``features`` and a churn model is
    stored, ``churn`` (the churn service's dict: probability, reasons ...)."""
    frame = summary_frame(customers)
    scored = score_frame(models, frame, horizon=horizon, discount_rate=discount_rate, margin=margin)
    out = []
    for (customer_id, row), record in zip(scored.iterrows(), customers, strict=True):
        item: dict[str, Any] = {"customer_id": str(customer_id)}
        item.update({k: _plain(v) for k, v in row.items()})
        features = record.get("features")
        if features:
            if models.churn is None:
                raise ModelError(
                    f"customer {customer_id!r} has churn features but no {CHURN_FIT_KIND!r} run is stored"
                )
            from patron.services.churn import score_customer

            item["churn"] = score_customer(models.churn, pd.Series(features, dtype=float))
        out.append(item)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value.item() if hasattr(value, "item") else value

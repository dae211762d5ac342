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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError, ModelError, NotFoundError, PatronError
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
SEGMENT_KIND = "segment"
SEGMENTER = "segmenter"  # the model name patron.services.segmentation saves
DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}


@dataclass(frozen=True)
class Segmenter:
    """A ``segment`` run's fitted segmenter with what assigning a new customer needs."""

    model: Any
    method: str
    run_id: str
    names: Mapping[int, str]

    @property
    def inputs(self) -> list[str]:
        """The columns the segmenter was fitted on (as :func:`patron.services.segmentation.assign` reads them)."""
        from patron.services.segmentation import segmenter_inputs  # lazily: it imports every segmenter

        return segmenter_inputs(self.method, self.model)

    def assign(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Labels and membership strengths in [0, 1] of new customers, as
        :func:`patron.services.segmentation.assign` computes them, from a frame with :attr:`inputs`."""
        labels, strength = self.model.predict_with_strength(features[self.inputs])
        return np.asarray(labels, dtype=np.int64), np.asarray(strength, dtype=float)


@dataclass(frozen=True)
class ScoringModels:
    """The fitted models a scoring request uses, with the runs they came from."""

    purchase: Any
    spend: Any
    clv_run_id: str
    churn: Any = None
    churn_run_id: str | None = None
    segmenter: Segmenter | None = None
    time_unit: str | None = None  # the clv_fit run's summary time unit (D, W, M), to express ages in days

    @property
    def run_ids(self) -> tuple[str | None, ...]:
        return (self.clv_run_id, self.churn_run_id, self.segmenter.run_id if self.segmenter else None)


def load_segmenter(repo: Repository, run_id: str | None = None) -> Segmenter | None:
    """The segmenter of a ``segment`` run (the latest succeeded one by default), or None if there is none."""
    record = repo.get_run(run_id) if run_id else repo.latest_run(SEGMENT_KIND)
    if record is None:
        return None
    model = repo.load_model(SEGMENTER, run_id=record["run_id"])
    names: dict[int, str] = {}
    if repo.has_table("segment_profiles"):
        profiles = repo.read_results("segment_profiles", run_id=record["run_id"])
        names = {int(k): str(v) for k, v in zip(profiles["segment"], profiles["name"], strict=True)}
    return Segmenter(model, str(record["params"].get("method")), record["run_id"], names)


def load_models(repo: Repository) -> ScoringModels:
    """The models of the latest succeeded ``clv_fit`` (required), ``churn_fit`` and ``segment`` runs."""
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
        purchase,
        spend,
        clv_run["run_id"],
        churn,
        churn_run["run_id"] if churn_run else None,
        load_segmenter(repo),
        (clv_run.get("params") or {}).get("time_unit"),
    )


def _latest_run_ids(repo: Repository) -> tuple[str | None, ...]:
    """The newest succeeded clv_fit, churn_fit and segment runs, in one query."""
    if not repo.has_table(RUNS_TABLE):
        return (None, None, None)
    kinds = (CLV_FIT_KIND, CHURN_FIT_KIND, SEGMENT_KIND)
    rows = repo.query_rows(
        f"SELECT kind, run_id FROM {RUNS_TABLE} WHERE kind IN (?, ?, ?) AND status = 'succeeded' "
        "ORDER BY started_at DESC, run_id DESC",
        list(kinds),
    )
    latest: dict[str, str] = {}
    for kind, run_id in rows:
        latest.setdefault(kind, run_id)
    return tuple(latest.get(k) for k in kinds)


class ModelCache:
    """Unpickled models shared by requests, keyed by the runs they came from; reloaded only when a newer fit or
    segment run has succeeded.

    Which runs are the latest is checked at most every ``refresh_seconds`` (a new run is served within that
    time), so a scoring request usually costs no query at all for its models: :meth:`peek` answers from memory
    and only :meth:`get` needs a repository.
    """

    def __init__(self, refresh_seconds: float = 2.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._models: ScoringModels | None = None
        self._checked = float("-inf")

    def peek(self) -> ScoringModels | None:
        """The cached models if they were checked less than ``refresh_seconds`` ago, else None (call :meth:`get`)."""
        cached = self._models
        if cached is not None and time.monotonic() - self._checked < self.refresh_seconds:
            return cached
        return None

    def get(self, repo: Repository) -> ScoringModels:
        now = time.monotonic()
        with self._lock:
            cached = self._models
            if cached is not None and now - self._checked < self.refresh_seconds:
                return cached
            ids = _latest_run_ids(repo)
            if cached is None or cached.run_ids != ids:
                self._models = cached = load_models(repo)
            self._checked = now
            return cached


def _summary_values(customers: Sequence[Mapping[str, Any]]) -> tuple[list[str], np.ndarray]:
    """Validated customer ids and BTYD values (n, 4) of request records; ids default to their position."""
    if not customers:
        raise InputError("give at least one customer to score")
    nan = float("nan")
    values = np.array(
        [[nan if c.get(f) is None else float(c[f]) for f in BTYD_FIELDS] for c in customers], dtype=float
    ).reshape(len(customers), len(BTYD_FIELDS))
    # A customer with no repeat purchase has no mean repeat spend: 0 by the lifetimes convention (the spend model
    # gives them the population mean).
    values[(values[:, 0] == 0) & np.isnan(values[:, 3]), 3] = 0.0
    ids = [str(c.get("customer_id") or i) for i, c in enumerate(customers)]
    lacking = np.flatnonzero(np.isnan(values[:, 3]))
    if len(lacking):
        raise InputError(
            f"customer {ids[lacking[0]]!r} has repeat purchases but no monetary_value",
            column="monetary_value",
            expected="the mean value of the repeat purchases",
        )
    if len(set(ids)) < len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise InputError(f"customer_id {dup!r} appears more than once in the request")
    return ids, values


def _frame(values: np.ndarray, ids: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(values, columns=list(BTYD_FIELDS), index=pd.Index(list(ids), name="customer_id"))


def summary_frame(customers: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A BTYD summary frame (indexed by customer_id) from request records; ids default to their position."""
    ids, values = _summary_values(customers)
    return _frame(values, ids)


def score_frame(
    models: ScoringModels,
    frame: pd.DataFrame,
    *,
    horizon: int = 52,
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


def derived_segment_inputs(frame: pd.DataFrame, scored: pd.DataFrame, time_unit: str | None) -> pd.DataFrame:
    """The segmenters' inputs that follow from a BTYD summary and its CLV scores, one row per customer.

    ``recency_days`` = (T - recency) and ``tenure_days`` = T, in days (the summary's time unit, from the clv_fit
    run); orders = frequency + 1 (the first purchase plus the repeat periods: exact when a customer buys at most
    once per period, as the summary counts); total spend = orders x monetary_value (the first purchase taken at
    the mean repeat value; unknown, so NaN, when no monetary_value was sent for a one-time buyer); and the CLV
    columns of :mod:`patron.features.segment_features`. Category shares cannot be derived: send them in
    ``segment_features``.
    """
    days = DAYS_PER_UNIT.get(str(time_unit or "D")[:1].upper(), 1.0)
    orders = frame["frequency"].to_numpy(dtype=float) + 1.0
    total = orders * frame["monetary_value"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "recency_days": (frame["T"] - frame["recency"]).to_numpy(dtype=float) * days,
            "tenure_days": frame["T"].to_numpy(dtype=float) * days,
            "frequency": orders,
            "monetary": total,
            "log_frequency": np.log1p(orders),
            "log_monetary": np.log1p(np.clip(total, 0, None)),
            "probability_alive": scored["probability_alive"].to_numpy(dtype=float),
            "log_expected_purchases": np.log1p(
                np.clip(scored["expected_purchases"].to_numpy(dtype=float), 0, None)
            ),
            "log_clv": np.log1p(np.clip(scored["clv"].to_numpy(dtype=float), 0, None)),
        },
        index=frame.index,
    )


def _segments(
    segmenter: Segmenter,
    customers: Sequence[Mapping[str, Any]],
    frame: pd.DataFrame,
    scored: pd.DataFrame,
    time_unit: str | None,
) -> list[dict[str, Any]]:
    """Per customer: segment, segment_name, segment_strength, segment_run_id; or segment None and the inputs it
    lacked (``segment_missing``) when neither the request nor the summary gives every input of the segmenter."""
    inputs = segmenter.inputs
    # A one-time buyer sent without monetary_value was scored with 0 (the spend model ignores it), but their
    # spend is unknown, not 0: the spend inputs are left missing unless segment_features give them.
    sent = frame.assign(
        monetary_value=[
            float("nan") if c.get("monetary_value") is None else v
            for c, v in zip(customers, frame["monetary_value"], strict=True)
        ]
    )
    derived = derived_segment_inputs(sent, scored, time_unit)
    given = pd.DataFrame([c.get("segment_features") or {} for c in customers], index=frame.index)
    unknown = sorted(set(given.columns) - set(inputs))
    if unknown:
        raise InputError(
            f"segment_features {unknown} are not inputs of the {segmenter.method} segmenter of run "
            f"{segmenter.run_id}",
            expected=f"some of {inputs}",
        )
    features = derived.reindex(columns=inputs)
    if len(given.columns):
        features = given.reindex(columns=inputs).astype(float).combine_first(features)[inputs]
    ok = np.isfinite(features.to_numpy(dtype=float)).all(axis=1)
    out: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    if ok.any():
        labels, strength = segmenter.assign(features[ok])
        for j, i in enumerate(np.flatnonzero(ok)):
            label = int(labels[j])
            out[i] = {
                "segment": label,
                "segment_name": segmenter.names.get(label, "noise" if label < 0 else str(label)),
                "segment_strength": None if np.isnan(strength[j]) else float(strength[j]),
                "segment_run_id": segmenter.run_id,
            }
    for i in np.flatnonzero(~ok):
        row = features.iloc[i]
        out[i] = {
            "segment": None,
            "segment_missing": [c for c in inputs if not np.isfinite(row[c])],
            "segment_run_id": segmenter.run_id,
        }
    return out


def score_customers(
    models: ScoringModels,
    customers: Sequence[Mapping[str, Any]],
    *,
    horizon: int = 52,
    discount_rate: float = 0.0,
    margin: float = 1.0,
) -> list[dict[str, Any]]:
    """Score request records: each gets the CLV outputs; the segment of the latest ``segment`` run's segmenter
    when one is stored (see :func:`derived_segment_inputs`; ``segment_features`` in a record add or override
    inputs); and, if it carries ``features`` and a churn model is stored, ``churn`` (the churn service's dict:
    probability, reasons ...)."""
    ids, values = _summary_values(customers)
    return _score_prepared(
        models, customers, ids, values, horizon=horizon, discount_rate=discount_rate, margin=margin
    )


def score_many(
    models: ScoringModels,
    requests: Sequence[Sequence[Mapping[str, Any]]],
    *,
    horizon: int = 52,
    discount_rate: float = 0.0,
    margin: float = 1.0,
) -> list[list[dict[str, Any]] | PatronError]:
    """:func:`score_customers` for several requests in one pass over the models, for each request its answer or
    its error (a bad request does not fail the others).

    The models' prediction methods have a fixed cost per call (about 1 ms, mostly pandas) that dwarfs the cost per
    customer, so a server that scores the single-customer requests waiting at the same moment together does the
    same work in a fraction of the CPU time. The numbers equal those of scoring each request alone to rounding
    (1e-12 relative: the models are row-wise, only array shapes differ); customer ids may repeat across requests. If the pass fails, each request is scored alone so
    that the error reaches the request it belongs to.
    """
    results: list[list[dict[str, Any]] | PatronError | None] = [None] * len(requests)
    ready: list[tuple[int, list[str], np.ndarray]] = []
    for i, customers in enumerate(requests):
        try:
            ready.append((i, *_summary_values(customers)))
        except PatronError as exc:
            results[i] = exc
    kwargs = {"horizon": horizon, "discount_rate": discount_rate, "margin": margin}

    def alone(i: int, ids: list[str], values: np.ndarray) -> None:
        try:
            results[i] = _score_prepared(models, requests[i], ids, values, **kwargs)
        except PatronError as exc:
            results[i] = exc

    if len(ready) == 1:
        alone(*ready[0])
    elif ready:
        records = [c for i, _, _ in ready for c in requests[i]]
        ids = [c for _, request_ids, _ in ready for c in request_ids]
        try:
            items = _score_prepared(
                models, records, ids, np.vstack([v for _, _, v in ready]), positional=True, **kwargs
            )
        except PatronError:
            for i, request_ids, values in ready:
                alone(i, request_ids, values)
        else:
            start = 0
            for i, request_ids, _ in ready:
                results[i] = items[start : start + len(request_ids)]
                start += len(request_ids)
    return results  # type: ignore[return-value]


def _score_prepared(
    models: ScoringModels,
    customers: Sequence[Mapping[str, Any]],
    ids: Sequence[str],
    values: np.ndarray,
    *,
    horizon: int,
    discount_rate: float,
    margin: float,
    positional: bool = False,
) -> list[dict[str, Any]]:
    # positional: the frame is indexed by row number (ids may repeat when several requests are scored together).
    frame = _frame(values, [str(k) for k in range(len(ids))] if positional else ids)
    scored = score_frame(models, frame, horizon=horizon, discount_rate=discount_rate, margin=margin)
    segments = (
        _segments(models.segmenter, customers, frame, scored, models.time_unit) if models.segmenter else None
    )
    # Plain Python values column by column (tolist), not row by row: this runs on every request.
    columns = {
        k: [None if v != v else v for v in scored[k].to_numpy(dtype=float).tolist()] for k in scored.columns
    }
    out = []
    for i, (customer_id, record) in enumerate(zip(ids, customers, strict=True)):
        item: dict[str, Any] = {"customer_id": customer_id}
        item.update({k: column[i] for k, column in columns.items()})
        if segments is not None:
            item.update(segments[i])
        features = record.get("features")
        if features:
            if models.churn is None:
                raise ModelError(
                    f"customer {customer_id!r} has churn features but no {CHURN_FIT_KIND!r} run is stored"
                )
            from patron.services.churn import score_customer

            churn = score_customer(models.churn, {"customer_id": customer_id, **features})
            item["churn"] = {k: v for k, v in churn.items() if k != "customer_id"}
        out.append(item)
    return out

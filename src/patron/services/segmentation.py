"""Use-case: segment the store's customers (RFM, K-Means or HDBSCAN), optionally per period, in one run.

Writes, in one run of kind ``segment`` (result tables, keyed by ``run_id``):

* ``segment_assignments``: customer_id, segment (int; -1 = HDBSCAN noise), segment_name, strength, method;
* ``segment_profiles``: segment, name, size, share, description, revenue, revenue_share, mean_recency_days,
  mean_frequency, mean_monetary, mean_strength, mean_clv, churn_probability, behaviours;
* with ``period``: ``segment_periods`` (period, customer_id, segment: the label as text, ``"lost"``) and
  ``segment_transitions`` (from_period, to_period, from_segment, to_segment, customers; ``"new"`` / ``"lost"``
  states, see :mod:`patron.models.segmentation.longitudinal`);

and saves the fitted segmenter as the model ``"segmenter"`` (``assign`` loads it). The run's report carries the
stability score (mean adjusted Rand index across subsample refits; NaN for the rule-based RFM), the number of
segments and the features used. After the run commits, each segment is registered with
:func:`patron.services.segments.define_segment` as ``"<method>-<label>"`` (RFM: ``"rfm-<name>"``), a model
segment pointing at the run, so ``patron export segment hdbscan-2`` and ``restrict(frame, "hdbscan-2", repo)``
work.

Per period, a model is refitted on the features as of that period's end (no later rows are read) and its labels
are aligned with the previous period's model (Hungarian matching on shared customers), so segment 3 stays 3.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ConfigError, InputError, NotFoundError
from patron.features.rfm import rfm as rfm_sql_table
from patron.features.segment_features import (
    BASE_FEATURES,
    behaviour_is_by_category,
    latest_clv,
    latest_scores,
    segment_features,
    top_categories_by_revenue,
)
from patron.io.schema import BEHAVIOUR, RFM, TRANSACTIONS
from patron.models.segmentation.hdbscan import DEFAULT_MAX_FIT_SAMPLES, HDBSCANSegmenter
from patron.models.segmentation.kmeans import KMeansSegmenter
from patron.models.segmentation.longitudinal import (
    LOST,
    PERIODS,
    lost_mask,
    period_ends,
    transition_counts,
)
from patron.models.segmentation.personas import NOISE_NAME, segment_profiles
from patron.models.segmentation.rfm import RFM_INPUT_COLUMNS, RFM_SEGMENTS, RFMSegmenter
from patron.storage.base import Repository

METHODS: tuple[str, ...] = ("hdbscan", "kmeans", "rfm", "glrm")
ASSIGNMENTS = "segment_assignments"
PROFILES = "segment_profiles"
PERIOD_STATES = "segment_periods"
TRANSITIONS = "segment_transitions"
MODEL_NAME = "segmenter"
MIN_PERIOD_CUSTOMERS = 50  # periods with fewer active customers are skipped (too few to segment)
LOST_AFTER_DAYS = 180

Progress = Callable[[str, int, int], None]


def _make_model(method: str, k: int | None, min_cluster_size: int | None, max_fit_samples: int | None) -> Any:
    if method == "rfm":
        return RFMSegmenter()
    if method == "kmeans":
        return KMeansSegmenter(n_clusters=k)
    if method == "hdbscan":
        return HDBSCANSegmenter(min_cluster_size=min_cluster_size, max_fit_samples=max_fit_samples)
    if method == "glrm":
        from patron.models.segmentation.glrm import GLRMSegmenter

        return GLRMSegmenter(rank=2, n_clusters=k or 4, random_state=0)
    raise ConfigError(f"method must be one of {list(METHODS)}, got {method!r}")


def _names(method: str, labels: np.ndarray) -> dict[int, str] | None:
    if method == "rfm":
        return {int(c): RFM_SEGMENTS[int(c)] for c in np.unique(labels)}
    return {-1: NOISE_NAME} if (labels < 0).any() else None


def _text_label(method: str, label: int) -> str:
    return RFM_SEGMENTS[label] if method == "rfm" else str(label)


def _fit(method: str, model: Any, features: pd.DataFrame, rfm: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Fit on the customers (rows sorted by id), return labels and strengths in that order."""
    X = rfm.loc[features.index, list(RFM_INPUT_COLUMNS)] if method == "rfm" else features
    model.fit(X)
    labels = np.asarray(model.labels_, dtype=np.int64)
    if hasattr(model, "strengths_"):
        strength = np.asarray(model.strengths_, dtype=float)
    else:
        strength = np.asarray(model.membership_strength(X), dtype=float)
    return labels, strength


def segment(
    repo: Repository,
    *,
    method: str = "hdbscan",
    period: str | None = None,
    k: int | None = None,
    min_cluster_size: int | None = None,
    max_fit_samples: int | None = DEFAULT_MAX_FIT_SAMPLES,
    top_categories: int = 3,
    lost_after_days: int = LOST_AFTER_DAYS,
    align: bool = True,
    progress: Progress | None = None,
) -> str:
    """Segment every customer (and, with ``period`` = "month" or "quarter", every period); return the run id.

    Parameters
    ----------
    method : {"hdbscan", "kmeans", "rfm"}
        HDBSCAN (default: no k, noise label), K-Means (``k`` or best silhouette), or the named RFM segments.
    period : {"month", "quarter"}, optional
        Also segment the customers as of each period's end and write transitions and migration states.
    k, min_cluster_size : int, optional
        K-Means' number of segments; HDBSCAN's smallest segment.
    max_fit_samples : int or None
        HDBSCAN above this many customers is fitted on a row-order-free sample of them and the others are assigned
        as new customers (the exact fit's cost grows about quadratically); None fits every customer exactly.
    top_categories : int
        Category-share features (when the transactions carry categories).
    lost_after_days : int
        In the per-period states, a customer without an order for longer than this is ``"lost"``.
    align : bool
        Renumber the segments to match the previous ``segment`` run of the same method on the same features
        (Hungarian matching on the customers both models segment), so segment 3 stays 3 from run to run.
    progress : callable, optional
        ``progress(step, done, total)`` as steps complete.
    """
    method = method.strip().lower()
    if method not in METHODS:
        raise ConfigError(f"method must be one of {list(METHODS)}, got {method!r}")
    if period is not None and period not in PERIODS:
        raise ConfigError(f"period must be one of {sorted(PERIODS)}, got {period!r}")
    if k is not None and k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if min_cluster_size is not None and min_cluster_size < 2:
        raise ConfigError(f"min cluster size must be at least 2, got {min_cluster_size}")
    if max_fit_samples is not None and max_fit_samples < 2:
        raise ConfigError(
            f"max_fit_samples must be at least 2 (or None: every customer), got {max_fit_samples}"
        )
    if not repo.has_table(RFM):
        raise NotFoundError(f"the store {repo.url} has no {RFM!r} table: run `patron summary` first")
    params = {
        "method": method,
        "period": period,
        "k": k,
        "min_cluster_size": min_cluster_size,
        "max_fit_samples": max_fit_samples,
        "top_categories": top_categories,
        "lost_after_days": lost_after_days,
    }
    step = _stepper(progress, 3 + (1 if period else 0))
    with repo.run("segment", params) as run:
        step("features")
        with run.timed("features"):
            features = segment_features(repo, top_categories=top_categories)
            rfm = repo.read_table(RFM)
            rfm["customer_id"] = rfm["customer_id"].astype(str)
            rfm = rfm.set_index("customer_id")
        if len(features) < 2:
            raise InputError(f"segmentation needs at least 2 customers, the store has {len(features)}")
        step("fit")
        with run.timed("fit"):
            model = _make_model(method, k, min_cluster_size, max_fit_samples)
            labels, strength = _fit(method, model, features, rfm)
            aligned_to = _align_with_previous(repo, method, model, features) if align else None
            labels = np.asarray(model.labels_, dtype=np.int64)
        run.save_model(MODEL_NAME, model)
        names = _names(method, labels)
        assignments = pd.DataFrame(
            {
                "customer_id": features.index.astype(str),
                "segment": labels,
                "segment_name": [(names or {}).get(int(x), str(int(x))) for x in labels],
                "strength": strength,
                "method": method,
            }
        )
        step("profiles")
        with run.timed("profiles"):
            profiles = _profiles(repo, assignments, rfm, names)
        assignments["segment_name"] = assignments["segment"].map(profiles.set_index("segment")["name"])
        run.write(ASSIGNMENTS, assignments)
        run.write(PROFILES, profiles)
        stability = float(getattr(model, "stability_", float("nan")))
        run.report.update(
            {
                "customers": len(assignments),
                "segments": int((profiles["segment"] >= 0).sum()),
                "noise_share": float((labels < 0).mean()),
                "stability": None if np.isnan(stability) else round(stability, 4),
                "features": list(features.columns) if method != "rfm" else list(RFM_INPUT_COLUMNS),
                "used_clv": "log_clv" in features.columns and method != "rfm",
                "aligned_to": aligned_to,
                # HDBSCAN above max_fit_samples customers: fitted on a sample, the rest assigned
                "fit_rows": int(getattr(model, "n_fit_samples_", len(assignments))),
            }
        )
        if period is not None:
            step("periods")
            with run.timed("periods"):
                states, transitions, period_report = _longitudinal(
                    repo,
                    method,
                    period,
                    lambda: _make_model(method, k, min_cluster_size, max_fit_samples),
                    top_categories,
                    lost_after_days,
                    progress,
                )
            run.write(PERIOD_STATES, states)
            run.write(TRANSITIONS, transitions)
            run.report["periods"] = period_report
        run_id = run.run_id
    _register(repo, run_id, method, profiles)
    if progress is not None:
        progress("done", 1, 1)
    return run_id


def _align_with_previous(repo: Repository, method: str, model: Any, features: pd.DataFrame) -> str | None:
    """Align ``model`` with the newest succeeded segment run of the same method and features; its run id."""
    if not hasattr(model, "align_to"):
        return None
    runs = repo.list_runs("segment")
    runs = runs[runs["status"] == "succeeded"]
    for row in runs.itertuples():
        if json.loads(row.params or "{}").get("method") != method:
            continue
        try:
            previous = repo.load_model(MODEL_NAME, run_id=row.run_id)
        except NotFoundError:
            return None
        same = list(getattr(previous, "feature_names_in_", [])) == list(features.columns)
        if not same or not hasattr(previous, "cluster_ids_"):
            return None
        model.align_to(previous, features)
        return str(row.run_id)
    return None


def _stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    done = [0]

    def step(name: str) -> None:
        if progress is not None:
            progress(name, done[0], total)
        done[0] += 1

    return step


def _profiles(
    repo: Repository, assignments: pd.DataFrame, rfm: pd.DataFrame, names: dict[int, str] | None
) -> pd.DataFrame:
    clv = latest_clv(repo)
    churn = latest_scores(repo, "churn_scores")
    behaviour = repo.read_table(BEHAVIOUR) if repo.has_table(BEHAVIOUR) else None
    if behaviour is not None and not behaviour_is_by_category(repo):
        behaviour = _with_product_names(repo, behaviour)
    return segment_profiles(assignments, rfm, names=names, clv=clv, churn=churn, behaviour=behaviour)


def _with_product_names(repo: Repository, behaviour: pd.DataFrame) -> pd.DataFrame:
    """A product-level behaviour matrix (Online Retail) reads better as "22423 REGENCY CAKESTAND 3 TIER"."""
    if "product_name" not in repo.table_columns(TRANSACTIONS):
        return behaviour
    names = repo.query(
        'SELECT CAST("product" AS VARCHAR) AS product, MIN(TRIM("product_name")) AS name FROM "transactions" '
        'WHERE "product_name" IS NOT NULL GROUP BY 1'
    )
    lookup = dict(zip(names["product"], names["name"], strict=True))
    named = behaviour["category"].astype(str).map(lambda p: f"{p} {lookup[p]}" if lookup.get(p) else p)
    return behaviour.assign(category=named)


def _register(repo: Repository, run_id: str, method: str, profiles: pd.DataFrame) -> None:
    """Each segment becomes a named model segment of services.segments (exportable by name)."""
    from patron.services.segments import define_segment

    for label in profiles["segment"].astype(int):
        suffix = RFM_SEGMENTS[label] if method == "rfm" else ("noise" if label < 0 else str(label))
        define_segment(
            repo, f"{method}-{suffix}", {"model": {"label": str(label), "method": method, "run_id": run_id}}
        )


# --- longitudinal ---------------------------------------------------------------------------------------------------
def _longitudinal(
    repo: Repository,
    method: str,
    period: str,
    make_model: Callable[[], Any],
    top_categories: int,
    lost_after_days: int,
    progress: Progress | None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    span = repo.query(f'SELECT MIN("timestamp") AS lo, MAX("timestamp") AS hi FROM "{TRANSACTIONS}"')
    ends = period_ends(pd.Timestamp(span["lo"].iloc[0]), pd.Timestamp(span["hi"].iloc[0]), period)
    categories: list[str] | None = None
    previous_model: Any = None
    previous_states: pd.Series | None = None
    previous_label = ""
    state_frames, transition_frames, report = [], [], []
    for i, (label, end) in enumerate(ends):
        if progress is not None:
            progress(f"period {label}", i, len(ends))
        rfm = rfm_sql_table(repo, observation_period_end=end)
        rfm = rfm.reset_index() if "customer_id" not in rfm.columns else rfm
        rfm["customer_id"] = rfm["customer_id"].astype(str)
        rfm = rfm.set_index("customer_id").sort_index()
        lost = lost_mask(rfm["recency_days"].to_numpy(), lost_after_days)
        active = rfm.index[~lost]
        if len(active) < MIN_PERIOD_CUSTOMERS:
            continue
        if categories is None and method != "rfm" and top_categories > 0 and behaviour_is_by_category(repo):
            # The share columns are fixed at the first segmented period (chosen from data up to its end only).
            from patron.features.behaviour import behaviour as behaviour_table

            categories = top_categories_by_revenue(
                behaviour_table(repo, observation_period_end=end), top_categories
            )
        features = segment_features(repo, observation_period_end=end, top_categories=0, categories=categories)
        features = features.loc[active]
        model = make_model()
        if method == "rfm":
            model.fit(rfm.loc[active, list(RFM_INPUT_COLUMNS)])
        else:
            model.fit(features)
            if previous_model is not None:
                model.align_to(previous_model, features)
        labels = np.asarray(model.labels_, dtype=np.int64)
        states = pd.Series(LOST, index=rfm.index, dtype=object)
        states.loc[active] = [_text_label(method, int(x)) for x in labels]
        if previous_states is not None:
            counts = transition_counts(previous_states, states)
            counts.insert(0, "to_period", label)
            counts.insert(0, "from_period", previous_label)
            transition_frames.append(counts)
        state_frames.append(
            pd.DataFrame({"period": label, "customer_id": states.index, "segment": states.to_numpy()})
        )
        stability = float(getattr(model, "stability_", float("nan")))
        report.append(
            {
                "period": label,
                "end": end.isoformat(),
                "active": len(active),
                "lost": int(lost.sum()),
                "segments": len(np.unique(labels[labels >= 0])),
                "stability": None if np.isnan(stability) else round(stability, 4),
            }
        )
        previous_model, previous_states, previous_label = model, states, label
    if not state_frames:
        raise InputError(
            f"no {period} has {MIN_PERIOD_CUSTOMERS} active customers: too little history to segment per {period}"
        )
    states_all = pd.concat(state_frames, ignore_index=True)
    columns = ["from_period", "to_period", "from_segment", "to_segment", "customers"]
    transitions = (
        pd.concat(transition_frames, ignore_index=True)
        if transition_frames
        else pd.DataFrame(columns=columns)
    )
    return states_all, transitions[columns], report


# --- scoring new customers ------------------------------------------------------------------------------------------
def segmenter_inputs(method: str, model: Any) -> list[str]:
    """The columns a fitted segmenter of ``method`` reads per customer (what :func:`assign` needs)."""
    if method == "rfm":
        return list(RFM_INPUT_COLUMNS)
    return [str(c) for c in getattr(model, "feature_names_in_", BASE_FEATURES)]


def assign(repo: Repository, frame: pd.DataFrame, *, run_id: str | None = None) -> pd.DataFrame:
    """Assign new customers with the segmenter of a ``segment`` run (the latest by default).

    ``frame`` holds, per customer (a ``customer_id`` column or index), the columns the model was fitted on: the
    feature columns of :func:`patron.features.segment_features.segment_features` (``recency_days``,
    ``tenure_days``, ``log_frequency``, ``log_monetary``, ...) or, for RFM, ``recency_days``, ``frequency``,
    ``monetary`` (an ``rfm`` table works as is for RFM; :func:`features_from_tables` turns one into features).
    Returns customer_id, segment, segment_name, strength.
    """
    record = repo.get_run(run_id) if run_id else repo.latest_run("segment")
    if record is None:
        raise NotFoundError(f"no succeeded 'segment' run in the store {repo.url}: run `patron segment` first")
    model = repo.load_model(MODEL_NAME, run_id=record["run_id"])
    method = record["params"]["method"]
    data = frame.set_index("customer_id") if "customer_id" in frame.columns else frame
    wanted = segmenter_inputs(method, model)
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise InputError(
            f"the frame lacks column(s) {missing} the {method} segmenter of run {record['run_id']} was fitted on",
            expected=f"columns {wanted}",
        )
    X = data[wanted]
    if method in ("hdbscan", "kmeans"):  # distances need every value; GLRM imputes missing entries itself
        bad = ~np.isfinite(X.to_numpy(dtype=float))
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError("a feature value is missing or infinite", row=int(row) + 1, column=wanted[col])
    labels, strength = model.predict_with_strength(X)
    names = repo.read_results(PROFILES, run_id=record["run_id"]).set_index("segment")["name"]
    labels = np.asarray(labels, dtype=np.int64)
    return pd.DataFrame(
        {
            "customer_id": data.index.astype(str),
            "segment": labels,
            "segment_name": [names.get(int(x), NOISE_NAME if x < 0 else str(int(x))) for x in labels],
            "strength": np.asarray(strength, dtype=float),
        }
    )

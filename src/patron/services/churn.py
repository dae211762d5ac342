"""Use-case: churn from the stored transactions. Fit a calibrated classifier at a cutoff, score customers with
reasons, and describe time to churn with Kaplan-Meier curves and a Weibull model.

``fit_churn`` (run kind ``churn_fit``) writes the result tables

* ``churn_metrics(run_id, model, metric, value)``: held-out metrics of the calibrated booster
  (``lightgbm_isotonic`` / ``lightgbm_sigmoid``), the ``logistic`` baseline, the BTYD baselines ``p_alive``
  (1 - P(alive)) and ``btyd_no_purchase`` (P(no purchase in the horizon)) from a BG/NBD fit on the summary at
  the cutoff, and ``weibull`` (its held-out concordance index);
* ``churn_reliability(run_id, model, bin, lower, upper, mean_predicted, fraction_positive, count)``;
* ``churn_lift(run_id, model, decile, customers, positives, mean_predicted, positive_rate, lift, cumulative_gain)``;
* ``churn_survival(run_id, segment, time, survival, at_risk, events)``: Kaplan-Meier curves per segment;

and saves the model (a :class:`~patron.models.classify.scoring.ScoringModel`) as ``"churn"``.

``score_churn`` (run kind ``churn_score``) writes ``churn_scores(run_id, customer_id, probability, model_version,
scored_at)`` and ``churn_reasons(run_id, customer_id, rank, feature, contribution, reason)`` (contribution in
log-odds; see :mod:`patron.explain.reasons`).

Time to churn (for the survival part): a customer seen before the cutoff *churned* (event) when they made no
purchase in the horizon after it; their lifetime is the days from the first to the last purchase (+1, so a
one-day customer lived one day), the convention of the BTYD literature that a lifetime ends at the last
purchase. Everyone else is censored at the end of the horizon (days from the first purchase to cutoff +
horizon). Segments are order-count tiers before the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from patron.errors import ConfigError, NotFoundError
from patron.features._sql import ident, runner_for, to_timestamp
from patron.features.churn_features import FEATURE_DESCRIPTIONS, churn_dataset, churn_features
from patron.io.schema import TRANSACTIONS
from patron.models.churn.survival import WeibullAFTModel, concordance_index, kaplan_meier
from patron.models.classify.calibrated import calibration_method
from patron.models.classify.evaluate import main_model_name, train_and_evaluate
from patron.models.classify.scoring import ScoringModel, score_one
from patron.storage.base import Repository

Progress = Callable[[str], None]
FIT_STEPS = ("features", "btyd", "fit", "evaluate", "refit", "survival")
SCORE_STEPS = ("features", "btyd", "score", "reasons")
MODEL_NAME = "churn"
FIT_KIND = "churn_fit"
SCORE_KIND = "churn_score"
FEATURE_DESCRIPTIONS_ALL = {
    **FEATURE_DESCRIPTIONS,
    "p_alive": "BTYD probability of being active",
    "expected_purchases": "BTYD expected purchases in the horizon",
    "p_no_purchase": "BTYD probability of no purchase in the horizon",
}


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)


def _bounds(repo: Repository) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not repo.has_table(TRANSACTIONS):
        raise NotFoundError(
            f"the store {repo.url} has no {TRANSACTIONS!r} table: run `patron ingest FILE` first"
        )
    run, _ = runner_for(repo)
    row = run(
        f"SELECT MIN({ident('timestamp')}) AS lo, MAX({ident('timestamp')}) AS hi FROM {ident(TRANSACTIONS)}"
    )
    lo, hi = row.iloc[0]["lo"], row.iloc[0]["hi"]
    if lo is None or pd.isna(lo):
        raise NotFoundError(f"the {TRANSACTIONS!r} table in {repo.url} is empty")
    return pd.Timestamp(lo), pd.Timestamp(hi)


def default_cutoff(last: pd.Timestamp, horizon_days: int) -> pd.Timestamp:
    """The latest cutoff whose whole horizon is observed: the day after the last transaction minus the horizon."""
    return last.normalize() + pd.Timedelta(days=1) - pd.Timedelta(days=horizon_days)


def btyd_features(features: pd.DataFrame, horizon_days: int, model: Any = None) -> tuple[pd.DataFrame, Any]:
    """Add ``p_alive`` and ``expected_purchases`` (in the horizon) from a BG/NBD model on the ``btyd_*`` columns
    (in weeks). Fits :class:`patron.models.clv.BetaGeoModel` unless a fitted ``model`` is given. Without
    :mod:`patron.models.clv` (not installed on this branch yet) the features are returned unchanged."""
    try:
        from patron.models.clv import BetaGeoModel
    except ImportError:
        return features, None
    summary = pd.DataFrame(
        {
            "frequency": features["btyd_frequency"].to_numpy(),
            "recency": features["btyd_recency"].to_numpy() / 7.0,
            "T": features["btyd_T"].to_numpy() / 7.0,
        },
        index=features.index,
    )
    if model is None:
        model = BetaGeoModel().fit(summary)
    out = features.copy()
    out["p_alive"] = model.probability_alive(summary).reindex(features.index).to_numpy()
    out["expected_purchases"] = (
        model.expected_purchases(summary, horizon_days / 7.0).reindex(features.index).to_numpy()
    )
    if hasattr(model, "probability_of_n_purchases"):
        # P(no purchase in the horizon): the BTYD model's own answer to the churn label's question.
        out["p_no_purchase"] = (
            model.probability_of_n_purchases(summary, horizon_days / 7.0, 0)
            .reindex(features.index)
            .to_numpy()
        )
    return out, model


def btyd_baselines(features: pd.DataFrame) -> dict[str, pd.Series]:
    """Churn scores straight from the BTYD model: ``1 - P(alive)`` and ``P(no purchase in the horizon)``.

    BG/NBD gives P(alive) = 1 to every one-time buyer (they cannot have dropped out before their first
    purchase), so ``1 - P(alive)`` ranks exactly the customers who churn most as the safest; the second score
    has no such blind spot.
    """
    out = {}
    if "p_alive" in features:
        out["p_alive"] = 1.0 - features["p_alive"]
    if "p_no_purchase" in features:
        out["btyd_no_purchase"] = features["p_no_purchase"]
    return out


def _segments(features: pd.DataFrame) -> pd.Series:
    freq = features["frequency"]
    return pd.Series(
        np.select([freq <= 1, freq <= 3], ["1 order", "2-3 orders"], "4+ orders"), index=features.index
    )


def survival_data(features: pd.DataFrame, labels: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """``duration`` (days), ``event`` (1 = churned) and ``segment`` per customer (see the module docstring)."""
    lived = features["tenure_days"] - features["recency_days"] + 1
    censored_at = features["tenure_days"] + horizon_days
    event = labels["churn"].astype(int)
    return pd.DataFrame(
        {
            "duration": np.where(event == 1, lived, censored_at).astype(float),
            "event": event.to_numpy(),
            "segment": _segments(features).to_numpy(),
        },
        index=features.index,
    )


def km_curves(data: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier curves per segment (and ``all``): ``segment, time, survival, at_risk, events``."""
    frames = []
    for name, part in [("all", data), *sorted(data.groupby("segment"), key=lambda kv: str(kv[0]))]:
        times, survival, at_risk, events = kaplan_meier(part["duration"], part["event"])
        frames.append(
            pd.DataFrame(
                {
                    "segment": str(name),
                    "time": times,
                    "survival": survival,
                    "at_risk": at_risk,
                    "events": events,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _survival_covariates(features: pd.DataFrame) -> np.ndarray:
    return np.column_stack(
        (np.log1p(features["monetary_mean"].clip(lower=0)), np.log1p(features["n_categories"]))
    )


def fit_churn(
    repo: Repository,
    *,
    cutoff: Any = None,
    horizon_days: int = 90,
    calibration: str = "isotonic",
    evaluation: str = "crossfit",
    folds: int = 5,
    test_size: float = 0.25,
    random_state: int = 0,
    progress: Progress | None = None,
) -> str:
    """Fit the churn model on the store's transactions; return the run id.

    Parameters
    ----------
    cutoff : date-like, optional
        Features use transactions strictly before it, labels the ``horizon_days`` from it. Default: the latest
        cutoff whose horizon is fully observed (:func:`default_cutoff`).
    horizon_days : int
        Churn = no purchase in this many days after the cutoff.
    calibration : {"isotonic", "sigmoid"/"platt"}
    evaluation : {"crossfit", "holdout"}
        How the metrics hold customers out (:mod:`patron.models.classify.evaluate`): ``folds``-fold cross-fitting
        (every customer scored by models that never saw them) or one stratified split of ``test_size``. The
        Weibull model's concordance is always on a ``test_size`` split.
    """
    if not 0 < test_size < 1:
        raise ConfigError(f"test_size must be between 0 and 1, got {test_size!r}")
    calibration_method(calibration)  # a bad option fails before any work
    _, last = _bounds(repo)
    c = default_cutoff(last, horizon_days) if cutoff is None else to_timestamp(cutoff, what="cutoff")
    params = {
        "cutoff": c.isoformat(),
        "horizon_days": horizon_days,
        "calibration": calibration,
        "evaluation": evaluation,
        "folds": folds,
        "test_size": test_size,
        "random_state": random_state,
    }
    with repo.run(FIT_KIND, params) as run:
        _step(progress, "features")
        with run.timed("features"):
            features, labels = churn_dataset(repo, cutoff=c, horizon_days=horizon_days)
        _step(progress, "btyd")
        with run.timed("btyd"):
            features, bg_model = btyd_features(features, horizon_days)
        baselines = btyd_baselines(features)
        with run.timed("fit_evaluate"):
            evaluation = train_and_evaluate(
                features,
                labels["churn"],
                calibration=calibration,
                evaluation=evaluation,
                folds=folds,
                test_size=test_size,
                random_state=random_state,
                baselines=baselines,
                step=lambda s: _step(progress, s),
            )
        _step(progress, "survival")
        with run.timed("survival"):
            surv = survival_data(features, labels, horizon_days)
            curves = km_curves(surv)
            train, test = train_test_split(
                features.index, test_size=test_size, stratify=surv["event"], random_state=random_state
            )
            weibull = WeibullAFTModel().fit(
                _survival_covariates(features.loc[train]),
                surv.loc[train, "duration"],
                surv.loc[train, "event"],
            )
            c_index = concordance_index(
                surv.loc[test, "duration"],
                weibull.predict_median(_survival_covariates(features.loc[test])),
                surv.loc[test, "event"],
            )
        metrics = pd.concat(
            [
                evaluation.metrics,
                pd.DataFrame(
                    [
                        {"model": "weibull", "metric": "c_index", "value": c_index},
                        {"model": "weibull", "metric": "shape_rho", "value": weibull.rho_},
                    ]
                ),
            ],
            ignore_index=True,
        )
        model = ScoringModel.from_training(
            evaluation.model,
            features,
            version=run.run_id,
            outcome="churn risk",
            source="transactions",
            params=params,
            descriptions=FEATURE_DESCRIPTIONS_ALL,
            extras={"btyd_model": bg_model},
        )
        run.write("churn_metrics", metrics)
        run.write("churn_reliability", evaluation.reliability)
        run.write("churn_lift", evaluation.lift)
        run.write("churn_survival", curves)
        run.save_model(MODEL_NAME, model)
        name = main_model_name(calibration)
        run.report.update(
            {
                "customers": len(features),
                "churn_rate": float(labels["churn"].mean()),
                **evaluation.headline(name),
                "btyd_no_purchase_auc": evaluation.metric("btyd_no_purchase", "auc"),
                "btyd_no_purchase_ece": evaluation.metric("btyd_no_purchase", "ece"),
                "weibull_c_index": c_index,
                "features": len(features.columns),
            }
        )
        return run.run_id


def load_churn_model(repo: Repository, run_id: str | None = None) -> ScoringModel:
    """The churn model of a fit run (the latest ``churn_fit`` by default)."""
    return repo.load_model(MODEL_NAME, run_id=run_id, kind=FIT_KIND)


def churn_features_at(repo: Repository, model: ScoringModel, as_of: Any = None) -> pd.DataFrame:
    """The model's features for every customer with transactions before ``as_of`` (default: everything)."""
    _, last = _bounds(repo)
    when = last.normalize() + pd.Timedelta(days=1) if as_of is None else to_timestamp(as_of, what="as_of")
    features = churn_features(repo, cutoff=when)
    features, _ = btyd_features(features, int(model.params["horizon_days"]), model.extras.get("btyd_model"))
    return features


def score_churn(
    repo: Repository,
    *,
    as_of: Any = None,
    fit_run_id: str | None = None,
    top_reasons: int = 3,
    progress: Progress | None = None,
) -> str:
    """Score every customer with the latest churn model (or ``fit_run_id``) at ``as_of`` (default: the day after
    the last transaction) and store scores and reasons; return the run id."""
    model = load_churn_model(repo, fit_run_id)
    with repo.run(
        SCORE_KIND, {"as_of": None if as_of is None else str(as_of), "model_version": model.version}
    ) as run:
        _step(progress, "features")
        with run.timed("features"):
            features = churn_features_at(repo, model, as_of)
        _step(progress, "score")
        with run.timed("score"):
            probability = model.predict_proba(features)
        _step(progress, "reasons")
        with run.timed("reasons"):
            reasons = model.explain(features, top=top_reasons)
        scored_at = datetime.now(UTC).replace(tzinfo=None)
        run.write(
            "churn_scores",
            pd.DataFrame(
                {
                    "customer_id": features.index.astype(str),
                    "probability": probability,
                    "model_version": model.version,
                    "scored_at": scored_at,
                }
            ),
        )
        run.write("churn_reasons", reasons)
        run.report.update(
            {
                "customers": len(features),
                "mean_probability": float(np.mean(probability)),
                "high_risk_customers": int((probability >= 0.5).sum()),
                "model_version": model.version,
            }
        )
        return run.run_id


def score_customer(
    model: ScoringModel, features_row: dict[str, Any] | pd.Series, *, top: int = 3
) -> dict[str, Any]:
    """Score and explain one customer from their feature values (a dict or a row of
    :func:`churn_features_at`): ``{"customer_id", "probability", "raw_score", "model_version", "reasons"}``."""
    row = features_row.to_dict() if isinstance(features_row, pd.Series) else dict(features_row)
    if isinstance(features_row, pd.Series) and "customer_id" not in row:
        row["customer_id"] = features_row.name
    return score_one(model, row, top=top)

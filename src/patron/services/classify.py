"""Use-case: a calibrated classifier for any binary customer label, with reasons for every score.

Where the label comes from (exactly one):

* ``data``: a labelled customer table as a DataFrame or a file (CSV, optionally gzipped, or Parquet), one row per
  customer, e.g. IBM Telco: ``fit_classifier(repo, data="telco.csv.gz", target="Churn", id_column="customerID")``
  (rules in :mod:`patron.models.classify.tabular`);
* ``table``: the same, as a table in the store;
* neither: the store's transactions, with ``target="high_value"`` (top ``high_value_share`` of spend in the
  ``horizon_days`` after ``cutoff``) or ``target="churn"``; features as in :mod:`patron.services.churn`.

``fit_classifier`` (run kind ``classify_fit``) writes ``classify_metrics(run_id, model, metric, value)``,
``classify_reliability(run_id, model, bin, lower, upper, mean_predicted, fraction_positive, count)`` and
``classify_lift(run_id, model, decile, ...)`` on a held-out split, and saves the model as ``"classifier"``.
``score_classifier`` (kind ``classify_score``) writes ``classify_scores(run_id, customer_id, probability,
model_version, scored_at, target)`` and ``classify_reasons(run_id, customer_id, rank, feature, contribution,
reason)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ConfigError, InputError, NotFoundError
from patron.features._sql import to_timestamp
from patron.features.churn_features import churn_dataset
from patron.models.classify.calibrated import calibration_method
from patron.models.classify.evaluate import main_model_name, train_and_evaluate
from patron.models.classify.scoring import ScoringModel
from patron.models.classify.tabular import labelled_table
from patron.services.churn import (
    FEATURE_DESCRIPTIONS_ALL,
    _bounds,
    btyd_baselines,
    btyd_features,
    churn_features_at,
    default_cutoff,
)
from patron.storage.base import Repository

Progress = Callable[[str], None]
MODEL_NAME = "classifier"
FIT_KIND = "classify_fit"
SCORE_KIND = "classify_score"
TRANSACTION_TARGETS = ("churn", "high_value")
FIT_STEPS = ("data", "fit", "evaluate", "refit")
SCORE_STEPS = ("data", "score", "reasons")


def read_labelled(data: pd.DataFrame | str | Path) -> pd.DataFrame:
    """A DataFrame as is, or a CSV (``.csv``, ``.csv.gz``, ``.txt``) / Parquet file read into one."""
    if isinstance(data, pd.DataFrame):
        return data
    path = Path(data)
    if not path.is_file():
        raise NotFoundError(f"no file {str(path)!r}")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz")):
        return pd.read_csv(path, sep="\t" if ".tsv" in name else ",", dtype_backend="numpy_nullable").pipe(
            _plain_dtypes
        )
    raise InputError(f"cannot read {path.name!r}", file=str(path), expected="a .csv[.gz] or .parquet file")


def _plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype("float64") if out[col].isna().any() else out[col].to_numpy()
    return out


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)


def _source(data: Any, table: str | None, target: str) -> str:
    if data is not None and table is not None:
        raise ConfigError("give either data (a frame or file) or table (a store table), not both")
    if data is not None:
        return "data"
    if table is not None:
        return "table"
    if target not in TRANSACTION_TARGETS:
        raise ConfigError(
            f"target {target!r} needs a labelled table (data=... or table=...); from the transactions the "
            f"targets are {list(TRANSACTION_TARGETS)}"
        )
    return "transactions"


def fit_classifier(
    repo: Repository,
    *,
    target: str,
    data: pd.DataFrame | str | Path | None = None,
    table: str | None = None,
    id_column: str | None = None,
    positive: Any = None,
    drop: Sequence[str] = (),
    cutoff: Any = None,
    horizon_days: int = 90,
    high_value_share: float = 0.2,
    calibration: str = "isotonic",
    evaluation: str = "crossfit",
    folds: int = 5,
    test_size: float = 0.25,
    random_state: int = 0,
    progress: Progress | None = None,
) -> str:
    """Fit a calibrated classifier for ``target`` (see the module docstring); return the run id."""
    source = _source(data, table, target)
    calibration_method(calibration)
    if not 0 < test_size < 1:
        raise ConfigError(f"test_size must be between 0 and 1, got {test_size!r}")
    params: dict[str, Any] = {
        "target": target,
        "source": source,
        "calibration": calibration,
        "evaluation": evaluation,
        "folds": folds,
        "test_size": test_size,
        "random_state": random_state,
    }
    _step(progress, "data")
    baselines: dict[str, pd.Series] = {}
    extras: dict[str, Any] = {}
    if source == "transactions":
        _, last = _bounds(repo)
        c = default_cutoff(last, horizon_days) if cutoff is None else to_timestamp(cutoff, what="cutoff")
        params.update(cutoff=c.isoformat(), horizon_days=horizon_days, high_value_share=high_value_share)
        X, labels = churn_dataset(
            repo, cutoff=c, horizon_days=horizon_days, high_value_share=high_value_share
        )
        X, bg_model = btyd_features(X, horizon_days)
        extras["btyd_model"] = bg_model
        y = labels[target]
        if target == "churn":
            baselines.update(btyd_baselines(X))
        descriptions = FEATURE_DESCRIPTIONS_ALL
        outcome = "churn risk" if target == "churn" else "chance of high value"
    else:
        frame = read_labelled(data) if source == "data" else repo.read_table(str(table))
        X, y = labelled_table(frame, target, id_column=id_column, positive=positive, drop=tuple(drop))
        params.update(
            id_column=id_column, positive=positive, drop=list(drop), columns=list(map(str, X.columns))
        )
        if source == "table":
            params["table"] = table
        descriptions = {}
        outcome = f"chance of {target} = {positive}" if positive is not None else f"chance of {target}"
    with repo.run(FIT_KIND, params) as run:
        with run.timed("fit_evaluate"):
            evaluation = train_and_evaluate(
                X,
                y,
                calibration=calibration,
                evaluation=evaluation,
                folds=folds,
                test_size=test_size,
                random_state=random_state,
                baselines=baselines,
                step=lambda s: _step(progress, s),
            )
        model = ScoringModel.from_training(
            evaluation.model,
            X,
            version=run.run_id,
            outcome=outcome,
            source=source,
            params=params,
            descriptions=descriptions,
            extras=extras,
        )
        run.write("classify_metrics", evaluation.metrics)
        run.write("classify_reliability", evaluation.reliability)
        run.write("classify_lift", evaluation.lift)
        run.save_model(MODEL_NAME, model)
        name = main_model_name(calibration)
        run.report.update(
            {
                "target": target,
                "rows": len(X),
                "positive_rate": float(np.mean(y)),
                **evaluation.headline(name),
                "features": X.shape[1],
            }
        )
        return run.run_id


def load_classifier(repo: Repository, run_id: str | None = None) -> ScoringModel:
    """The model of a ``classify_fit`` run (the latest by default)."""
    return repo.load_model(MODEL_NAME, run_id=run_id, kind=FIT_KIND)


def _features_for(
    repo: Repository, model: ScoringModel, data: Any, table: str | None, as_of: Any
) -> pd.DataFrame:
    if model.source == "transactions":
        if data is not None or table is not None:
            raise ConfigError(
                "this model scores from the store's transactions: give as_of, not data or table"
            )
        return churn_features_at(repo, model, as_of)
    if data is None and table is None:
        raise ConfigError("this model was fitted on a labelled table: give data=... or table=... to score")
    frame = read_labelled(data) if data is not None else repo.read_table(str(table))
    id_column = model.params.get("id_column")
    if id_column:
        if id_column not in frame.columns:
            raise InputError(
                f"no id column {id_column!r}", column=id_column, expected="the id column of the fit"
            )
        frame = frame.set_index(id_column)
        frame.index = frame.index.astype(str)
    frame = frame.drop(columns=[model.params["target"]], errors="ignore")
    return frame


def score_classifier(
    repo: Repository,
    *,
    data: pd.DataFrame | str | Path | None = None,
    table: str | None = None,
    as_of: Any = None,
    fit_run_id: str | None = None,
    top_reasons: int = 3,
    progress: Progress | None = None,
) -> str:
    """Score customers with the latest classifier (or ``fit_run_id``) and store scores with reasons."""
    model = load_classifier(repo, fit_run_id)
    params = {
        "model_version": model.version,
        "target": model.params["target"],
        "as_of": as_of,
        "table": table,
    }
    with repo.run(SCORE_KIND, params) as run:
        _step(progress, "data")
        features = _features_for(repo, model, data, table, as_of)
        _step(progress, "score")
        with run.timed("score"):
            probability = model.predict_proba(features)
        _step(progress, "reasons")
        with run.timed("reasons"):
            reasons = model.explain(features, top=top_reasons)
        run.write(
            "classify_scores",
            pd.DataFrame(
                {
                    "customer_id": features.index.astype(str),
                    "probability": probability,
                    "model_version": model.version,
                    "scored_at": datetime.now(UTC).replace(tzinfo=None),
                    "target": model.params["target"],
                }
            ),
        )
        run.write("classify_reasons", reasons)
        run.report.update(
            {
                "customers": len(features),
                "mean_probability": float(np.mean(probability)),
                "model_version": model.version,
                "target": model.params["target"],
            }
        )
        return run.run_id

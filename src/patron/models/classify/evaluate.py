"""Fit the calibrated booster and the logistic baseline on a training split, score both (and any given baseline
scores) on a held-out split, then refit the booster on every row for scoring.

The held-out split is stratified and drawn once with ``random_state``; nothing of it is seen by any fit (the
calibrator's out-of-fold predictions come from the training split only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from patron.errors import InputError
from patron.models.classify.calibrated import CalibratedBoostingClassifier, LogisticBaseline
from patron.models.classify.metrics import classification_metrics, lift_table, reliability_table

Step = Callable[[str], None]


@dataclass
class Evaluation:
    """What :func:`train_and_evaluate` returns: the final model and long tables of held-out results."""

    model: CalibratedBoostingClassifier
    metrics: pd.DataFrame  # model, metric, value
    reliability: pd.DataFrame  # model, bin, lower, upper, mean_predicted, fraction_positive, count
    lift: (
        pd.DataFrame
    )  # model, decile, customers, positives, mean_predicted, positive_rate, lift, cumulative_gain
    test_index: pd.Index
    test_predictions: pd.DataFrame  # one column per model, indexed like the test rows

    def metric(self, model: str, metric: str) -> float:
        row = self.metrics[(self.metrics["model"] == model) & (self.metrics["metric"] == metric)]
        return float(row["value"].iloc[0]) if len(row) else float("nan")


def main_model_name(calibration: str) -> str:
    return f"lightgbm_{'sigmoid' if calibration in ('sigmoid', 'platt') else calibration}"


def train_and_evaluate(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    calibration: str = "isotonic",
    test_size: float = 0.25,
    random_state: int = 0,
    baselines: Mapping[str, pd.Series] | None = None,
    classifier_params: Mapping[str, Any] | None = None,
    step: Step | None = None,
) -> Evaluation:
    """Hold out ``test_size`` of the rows, fit and compare the models there, refit the booster on all rows.

    ``baselines`` maps a name to ready-made probability-like scores for every row (e.g. ``1 - P(alive)``); they
    are evaluated on the same held-out rows.
    """
    y = pd.Series(np.asarray(y, dtype="int64"), index=X.index)
    counts = y.value_counts()
    if len(counts) < 2 or counts.min() < 10:
        raise InputError(
            f"the label has {dict(counts)} rows per class: too few to fit and evaluate a classifier",
            column="label",
            expected="at least 10 rows of each class",
        )
    train, test = train_test_split(X.index, test_size=test_size, stratify=y, random_state=random_state)
    params = dict(classifier_params or {})
    _say(step, "fit")
    main = CalibratedBoostingClassifier(calibration=calibration, random_state=random_state, **params)
    main.fit(X.loc[train], y.loc[train])
    logistic = LogisticBaseline().fit(X.loc[train], y.loc[train])
    _say(step, "evaluate")
    name = main_model_name(calibration)
    preds = {
        name: main.predict_proba(X.loc[test])[:, 1],
        "logistic": logistic.predict_proba(X.loc[test])[:, 1],
    }
    for base_name, scores in (baselines or {}).items():
        preds[base_name] = np.clip(scores.reindex(test).to_numpy(dtype=float), 0.0, 1.0)
    y_test = y.loc[test].to_numpy()
    metrics, reliability, lift = [], [], []
    for model_name, p in preds.items():
        for metric, value in classification_metrics(y_test, p).items():
            metrics.append({"model": model_name, "metric": metric, "value": float(value)})
        reliability.append(reliability_table(y_test, p).assign(model=model_name))
        lift.append(lift_table(y_test, p).assign(model=model_name))
    _say(step, "refit")
    final = CalibratedBoostingClassifier(calibration=calibration, random_state=random_state, **params).fit(
        X, y
    )
    return Evaluation(
        model=final,
        metrics=pd.DataFrame(metrics),
        reliability=_first(pd.concat(reliability, ignore_index=True), "model"),
        lift=_first(pd.concat(lift, ignore_index=True), "model"),
        test_index=pd.Index(test),
        test_predictions=pd.DataFrame(preds, index=pd.Index(test, name=X.index.name)),
    )


def _first(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    return frame[[col, *[c for c in frame.columns if c != col]]]


def _say(step: Step | None, name: str) -> None:
    if step is not None:
        step(name)

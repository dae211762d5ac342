"""Fit the calibrated booster and the logistic baseline, score both (and any given baseline scores) on held-out
rows, then refit the booster on every row for scoring.

Two ways to hold out (``evaluation``):

* ``"crossfit"`` (default, ``folds`` = 5): stratified K-fold; every row is predicted by models fitted on the other
  folds only (the calibrator's own out-of-fold predictions come from those training folds too), so the metrics
  use every row as a held-out row. On a few thousand customers this matters: the ECE of even a perfectly
  calibrated model is about 0.03 on 800 rows with 10 bins, from label noise alone, and about half that on 3,000.
* ``"holdout"``: one stratified split of ``test_size``.

Every model also gets ``ece_floor``: the mean ECE of labels *drawn from its own predictions* (200 draws), i.e.
what a perfectly calibrated model would score on this many rows; an ECE near it is as good as the data can show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from patron.errors import ConfigError, InputError
from patron.models.classify.calibrated import CalibratedBoostingClassifier, LogisticBaseline
from patron.models.classify.metrics import (
    classification_metrics,
    expected_calibration_error,
    lift_table,
    reliability_table,
)

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
    test_index: pd.Index  # the held-out rows (every row under cross-fitting)
    test_predictions: pd.DataFrame  # one column per model, indexed like the held-out rows

    def metric(self, model: str, metric: str) -> float:
        row = self.metrics[(self.metrics["model"] == model) & (self.metrics["metric"] == metric)]
        return float(row["value"].iloc[0]) if len(row) else float("nan")

    def headline(self, model: str) -> dict[str, Any]:
        """The figures a run reports: held-out size, the model's calibration and ranking, and the baselines'."""
        return {
            "held_out": len(self.test_index),
            "ece_floor": self.metric(model, "ece_floor"),
            "model": model,
            "ece": self.metric(model, "ece"),
            "auc": self.metric(model, "auc"),
            "brier": self.metric(model, "brier"),
            "logistic_auc": self.metric("logistic", "auc"),
            "logistic_ece": self.metric("logistic", "ece"),
            "p_alive_auc": self.metric("p_alive", "auc"),
        }


def main_model_name(calibration: str) -> str:
    return f"lightgbm_{'sigmoid' if calibration in ('sigmoid', 'platt') else calibration}"


def train_and_evaluate(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    calibration: str = "isotonic",
    evaluation: str = "crossfit",
    folds: int = 5,
    test_size: float = 0.25,
    random_state: int = 0,
    baselines: Mapping[str, pd.Series] | None = None,
    classifier_params: Mapping[str, Any] | None = None,
    step: Step | None = None,
) -> Evaluation:
    """Compare the models on held-out rows (see the module docstring), refit the booster on all rows.

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
    params = dict(classifier_params or {})
    name = main_model_name(calibration)
    if evaluation == "holdout":
        train, test = train_test_split(X.index, test_size=test_size, stratify=y, random_state=random_state)
        splits = [(train, test)]
    elif evaluation == "crossfit":
        if folds < 2:
            raise ConfigError(f"folds must be at least 2, got {folds}")
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        splits = [(X.index[tr], X.index[te]) for tr, te in cv.split(X, y)]
        test = X.index
    else:
        raise ConfigError(f"evaluation must be 'crossfit' or 'holdout', got {evaluation!r}")
    _say(step, "fit")
    oof = pd.DataFrame(index=pd.Index(test), columns=[name, "logistic"], dtype=float)
    for train, held in splits:
        main = CalibratedBoostingClassifier(calibration=calibration, random_state=random_state, **params)
        main.fit(X.loc[train], y.loc[train])
        logistic = LogisticBaseline().fit(X.loc[train], y.loc[train])
        oof.loc[held, name] = main.predict_proba(X.loc[held])[:, 1]
        oof.loc[held, "logistic"] = logistic.predict_proba(X.loc[held])[:, 1]
    _say(step, "evaluate")
    preds = {col: oof[col].to_numpy() for col in oof.columns}
    for base_name, scores in (baselines or {}).items():
        preds[base_name] = np.clip(scores.reindex(test).to_numpy(dtype=float), 0.0, 1.0)
    y_test = y.loc[test].to_numpy()
    metrics, reliability, lift = [], [], []
    for model_name, p in preds.items():
        values = {**classification_metrics(y_test, p), "ece_floor": ece_floor(p, random_state)}
        for metric, value in values.items():
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


def ece_floor(p: np.ndarray, random_state: int = 0, draws: int = 200) -> float:
    """Mean ECE of labels drawn from ``p`` itself: the ECE a perfectly calibrated model scores on this many rows."""
    rng = np.random.default_rng(random_state)
    p = np.asarray(p, dtype=float)
    return float(
        np.mean(
            [expected_calibration_error((rng.uniform(size=p.size) < p).astype(int), p) for _ in range(draws)]
        )
    )


def _first(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    return frame[[col, *[c for c in frame.columns if c != col]]]


def _say(step: Step | None, name: str) -> None:
    if step is not None:
        step(name)

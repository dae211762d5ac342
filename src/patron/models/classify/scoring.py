"""A fitted classifier packaged for scoring: the feature list, their categories, the model version and reasons.

:class:`ScoringModel` is what the services save with ``run.save_model`` and what ``score_customer`` uses, so the
columns a model was fitted on, their order and the categories of categorical columns travel with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError
from patron.explain.reasons import describe, reason_codes, tree_contributions
from patron.models.classify.calibrated import CalibratedBoostingClassifier


@dataclass
class ScoringModel:
    """A calibrated classifier with everything needed to score new customers and explain the scores.

    Attributes
    ----------
    classifier : CalibratedBoostingClassifier
    features : list of str
        Column order the classifier was fitted on.
    categories : dict
        Categories of each categorical column (new values score as missing).
    version : str
        The fit run's id (stored beside every score).
    outcome : str
        What a high probability means, for reason texts ("churn risk", "chance of high value").
    source : str
        ``"transactions"`` (features from the store at a date) or ``"table"`` (a labelled customer table).
    params : dict
        How the training data was built (cutoff, horizon, target, ...).
    descriptions : dict
        Plain-language names of the features.
    extras : dict
        Anything the feature builder needs at scoring time (e.g. the fitted BTYD model).
    """

    classifier: CalibratedBoostingClassifier
    features: list[str]
    categories: dict[str, list[Any]]
    version: str
    outcome: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_training(
        cls, classifier: CalibratedBoostingClassifier, X: pd.DataFrame, **kwargs: Any
    ) -> ScoringModel:
        categories = {
            c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
        }
        return cls(
            classifier=classifier, features=[str(c) for c in X.columns], categories=categories, **kwargs
        )

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's columns of ``frame`` in order, categoricals re-coded to the training categories."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise InputError(
                f"the data lack {len(missing)} feature column(s) the model was fitted on: {missing[:5]}",
                column=missing[0],
                expected="the columns of the training data",
            )
        X = frame[self.features].copy()
        for col in self.features:
            if col in self.categories:
                X[col] = pd.Categorical(X[col].astype(object), categories=self.categories[col])
            else:
                X[col] = pd.to_numeric(X[col], errors="coerce").astype("float64")
        return X

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class."""
        return self.classifier.predict_proba(self.prepare(frame))[:, 1]

    def explain(self, frame: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
        """Reason codes (``customer_id, rank, feature, contribution, reason``); contributions in log-odds."""
        X = self.prepare(frame)
        return reason_codes(
            tree_contributions(self.classifier, X),
            X,
            top=top,
            descriptions=self.descriptions,
            outcome=self.outcome,
        )


def score_one(model: ScoringModel, row: dict[str, Any], *, top: int = 3) -> dict[str, Any]:
    """Score and explain one customer from a dict of feature values (missing keys count as missing values).

    The fast path: one row through the booster's raw output and contributions once, the calibrator on top, no
    DataFrame round-trips beyond the one-row frame LightGBM needs for categoricals.
    """
    frame = pd.DataFrame([{c: row.get(c, np.nan) for c in model.features}])
    X = model.prepare(frame)
    contrib = model.classifier.contributions(X)[0]
    raw = float(contrib.sum())
    probability = float(model.classifier.calibrate_raw(np.array([raw]))[0])
    values = contrib[:-1]
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    context = X.iloc[0].to_dict()
    reasons = [
        {
            "rank": rank + 1,
            "feature": model.features[j],
            "contribution": float(values[j]),
            "reason": f"{describe(model.features[j], context, model.descriptions)} "
            f"({'raises' if values[j] > 0 else 'lowers'} {model.outcome})",
        }
        for rank, j in enumerate(order)
    ]
    return {
        "customer_id": row.get("customer_id"),
        "probability": probability,
        "raw_score": raw,
        "model_version": model.version,
        "reasons": reasons,
    }

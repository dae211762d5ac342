"""Calibrated gradient-boosted classifier (the default) and a logistic baseline, both scikit-learn estimators.

:class:`CalibratedBoostingClassifier` = LightGBM, calibrated with isotonic regression (Zadrozny & Elkan 2002) or
Platt's sigmoid (Platt 1999) by scikit-learn's ``CalibratedClassifierCV`` with ``ensemble=False``: the
calibrator is fitted on *out-of-fold* predictions of ``cv`` boosters (so it never sees a booster's own training
rows), and one booster fitted on all rows makes the predictions. That single booster is what
:mod:`patron.explain` decomposes with exact TreeSHAP, so the reasons describe the model that scores.

No class re-weighting (``class_weight``, ``is_unbalance``, ``scale_pos_weight``) is offered on purpose: weighting
the rare class up shifts every predicted probability towards it, so a score of 0.3 would no longer mean 30 %;
calibration would then have to undo it, and with isotonic regression that costs resolution. Imbalance is handled
by ranking metrics and thresholds, not by distorting the probabilities.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from patron.errors import ConfigError, ModelError

CALIBRATION_METHODS = {"isotonic": "isotonic", "sigmoid": "sigmoid", "platt": "sigmoid"}


def _method(calibration: str) -> str:
    try:
        return CALIBRATION_METHODS[str(calibration).lower()]
    except KeyError:
        raise ConfigError(
            f"calibration must be one of {sorted(CALIBRATION_METHODS)}, got {calibration!r}"
        ) from None


def _binary_targets(y: Any) -> tuple[np.ndarray, np.ndarray]:
    y_arr = column_or_1d(y, warn=True)
    y_type = type_of_target(y_arr, input_name="y", raise_unknown=True)
    if y_type not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: a binary target (two classes) is needed, got {y_type!r}")
    classes = unique_labels(y_arr)
    if len(classes) != 2:
        raise ValueError(
            "Only binary classification is supported: the target needs exactly 2 classes, "
            f"got {len(classes)} class(es): {list(classes)[:5]}"
        )
    return classes, y_arr


def _check_X(estimator: Any, X: Any, *, reset: bool) -> Any:
    """Validate X the scikit-learn way but keep a DataFrame as it is (LightGBM splits on its categoricals)."""
    if sp.issparse(X):
        raise TypeError("sparse input is not supported: pass a dense array or a DataFrame")
    if isinstance(X, pd.DataFrame):
        validate_data(estimator, X, skip_check_array=True, reset=reset)
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
            )
        return X
    return validate_data(estimator, X, reset=reset, ensure_all_finite="allow-nan", accept_sparse=False)


class CalibratedBoostingClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM + out-of-fold calibration (see the module docstring).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_lambda :
        LightGBM's hyperparameters (``subsample`` is row bagging each iteration).
    calibration : {"isotonic", "sigmoid" (alias "platt")}
    cv : int
        Folds for the out-of-fold predictions the calibrator is fitted on (stratified, shuffled).
    random_state : int
    n_jobs : int
        LightGBM threads.

    Attributes
    ----------
    calibrated_ : CalibratedClassifierCV
    booster_ : LGBMClassifier
        The one booster (fitted on all rows) whose output the calibrator maps to a probability.
    classes_, n_features_in_, feature_names_in_ (DataFrame input)
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 50,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 1.0,
        calibration: str = "isotonic",
        cv: int = 5,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _booster(self) -> LGBMClassifier:
        return LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> CalibratedBoostingClassifier:
        X = _check_X(self, X, reset=True)
        check_consistent_length(X, y)
        classes, y_arr = _binary_targets(y)
        folds = (
            StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
            if isinstance(self.cv, numbers.Integral)
            else self.cv
        )
        self.calibrated_ = CalibratedClassifierCV(
            self._booster(), method=_method(self.calibration), cv=folds, ensemble=False
        )
        self.calibrated_.fit(X, y_arr, sample_weight=sample_weight)
        self.booster_ = self.calibrated_.calibrated_classifiers_[0].estimator
        self.classes_ = classes
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.predict_proba(_check_X(self, X, reset=False))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "calibrated_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def raw_score(self, X: Any) -> np.ndarray:
        """The booster's raw output (log-odds of the positive class, before calibration). Not named
        ``decision_function``: scikit-learn expects ``decision_function > 0`` to agree with ``predict``, which
        uses the calibrated probability."""
        check_is_fitted(self, "booster_")
        return self.booster_.predict(_check_X(self, X, reset=False), raw_score=True)

    def contributions(self, X: Any) -> np.ndarray:
        """Exact TreeSHAP contributions (Lundberg et al. 2020) of the booster, ``(n, n_features + 1)``: the last
        column is the bias (expected raw output); each row sums to :meth:`raw_score`."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(_check_X(self, X, reset=False), pred_contrib=True))

    def calibrate_raw(self, raw: np.ndarray) -> np.ndarray:
        """Map raw booster outputs (log-odds) to calibrated probabilities of the positive class."""
        check_is_fitted(self, "calibrated_")
        calibrator = self.calibrated_.calibrated_classifiers_[0].calibrators[0]
        # CalibratedClassifierCV calibrates the booster's decision_function (LightGBM >= 4: the raw log-odds),
        # so the calibrator maps the raw output straight to the probability.
        return np.clip(calibrator.predict(np.asarray(raw, dtype=float)), 0.0, 1.0)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """Plain logistic regression: numeric columns signed-log1p'd (spend is heavy-tailed), median-imputed and
    standardised; categorical (non-numeric) columns one-hot encoded. Its probabilities are used as they come:
    this is the baseline the calibrated booster must beat."""

    def __init__(self, C: float = 1.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticBaseline:
        X = _check_X(self, X, reset=True)
        check_consistent_length(X, y)
        classes, y_arr = _binary_targets(y)
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float))
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        categorical = [c for c in frame.columns if c not in numeric]
        numeric_pipe = make_pipeline(
            FunctionTransformer(_signed_log1p), SimpleImputer(strategy="median"), StandardScaler()
        )
        parts = [("num", numeric_pipe, numeric)]
        if categorical:
            parts.append(
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="(missing)"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    categorical,
                )
            )
        self.pipeline_ = Pipeline(
            [
                ("prep", ColumnTransformer(parts)),
                ("logit", LogisticRegression(C=self.C, max_iter=self.max_iter)),
            ]
        )
        fit_params = {"logit__sample_weight": sample_weight} if sample_weight is not None else {}
        self.pipeline_.fit(_as_object_categories(frame, categorical), y_arr, **fit_params)
        self.classes_ = classes
        self.n_iter_ = self.pipeline_.named_steps["logit"].n_iter_
        return self

    def _frame(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "pipeline_")
        X = _check_X(self, X, reset=False)
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float))
        categorical = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        return _as_object_categories(frame, categorical)

    def predict_proba(self, X: Any) -> np.ndarray:
        frame = self._frame(X)
        return self.pipeline_.predict_proba(frame)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def decision_function(self, X: Any) -> np.ndarray:
        frame = self._frame(X)
        return self.pipeline_.decision_function(frame)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags


def _as_object_categories(frame: pd.DataFrame, categorical: list[Any]) -> pd.DataFrame:
    """OneHotEncoder wants plain objects (a pandas category with NaN trips SimpleImputer)."""
    if not categorical:
        return frame
    frame = frame.copy()
    for col in categorical:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def positive_proba(model: Any, X: Any) -> np.ndarray:
    """P(class 1) of a fitted binary classifier."""
    proba = model.predict_proba(X)
    if proba.ndim != 2 or proba.shape[1] != 2:
        raise ModelError(f"expected a binary classifier, its predict_proba has shape {proba.shape}")
    return proba[:, 1]

"""Calibrated binary classifiers (LightGBM + out-of-fold calibration, logistic baseline) and their metrics."""

from patron.models.classify.calibrated import CalibratedBoostingClassifier, LogisticBaseline, positive_proba
from patron.models.classify.metrics import (
    classification_metrics,
    expected_calibration_error,
    lift_table,
    reliability_table,
)
from patron.models.classify.tabular import encode_target, labelled_table

__all__ = [
    "CalibratedBoostingClassifier",
    "LogisticBaseline",
    "classification_metrics",
    "encode_target",
    "expected_calibration_error",
    "labelled_table",
    "lift_table",
    "positive_proba",
    "reliability_table",
]

"""The calibrated booster and the logistic baseline: scikit-learn's estimator contract, calibration on
simulated data with known probabilities, and the Telco table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from patron.errors import ConfigError, InputError
from patron.models.classify import (
    CalibratedBoostingClassifier,
    LogisticBaseline,
    classification_metrics,
    labelled_table,
)


@parametrize_with_checks(
    [CalibratedBoostingClassifier(n_estimators=20, cv=2, min_child_samples=2), LogisticBaseline()],
    expected_failed_checks=lambda est: (
        {
            # The baseline standardises and imputes on the rows as given; weights reach only the regression, so a
            # weight of 2 is not the same as a repeated row (the scaler's mean differs).
            "check_sample_weight_equivalence_on_dense_data": "weights reach the regression, not the scaler"
        }
        if isinstance(est, LogisticBaseline)
        else {}
    ),
)
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)


def _simulated(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.uniform(size=n)})
    logit = -1.0 + 1.5 * X["a"] - np.where(X["b"] > 0, 1.0, -0.5) + 0.5 * X["c"]
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    return X, (rng.uniform(size=n) < p).astype(int), p


@pytest.mark.parametrize("calibration", ["isotonic", "platt"])
def test_calibrated_probabilities_match_the_truth(calibration: str) -> None:
    X, y, _ = _simulated(8000, 0)
    Xt, yt, pt = _simulated(20_000, 1)
    model = CalibratedBoostingClassifier(calibration=calibration).fit(X, y)
    p = model.predict_proba(Xt)[:, 1]
    metrics = classification_metrics(yt, p)
    assert metrics["ece"] < 0.02
    assert np.mean(np.abs(p - pt)) < 0.05  # close to the true probabilities, not only calibrated on average


def test_calibrate_raw_composes_to_predict_proba() -> None:
    X, y, _ = _simulated(2000, 3)
    model = CalibratedBoostingClassifier(n_estimators=50).fit(X, y)
    np.testing.assert_allclose(
        model.calibrate_raw(model.raw_score(X)), model.predict_proba(X)[:, 1], atol=1e-12
    )
    assert clone(model).get_params() == model.get_params()


def test_unknown_calibration_is_a_config_error() -> None:
    X, y, _ = _simulated(200, 4)
    with pytest.raises(ConfigError, match="calibration must be one of"):
        CalibratedBoostingClassifier(calibration="beta").fit(X, y)


def test_telco_table_quirks(shared_data) -> None:
    frame = pd.read_csv(shared_data / "telco_customer_churn.csv.gz")
    X, y = labelled_table(frame, "Churn", id_column="customerID")
    assert len(X) == 7043 and y.sum() == 1869  # 26.54 % churn (data README)
    assert X["TotalCharges"].dtype == "float64"
    assert X["TotalCharges"].isna().sum() == 11  # the 11 blanks, all at tenure 0
    assert (X.loc[X["TotalCharges"].isna(), "tenure"] == 0).all()
    assert X["Contract"].dtype == "category"
    with pytest.raises(InputError, match=r"column 'Churn'.*positive"):
        labelled_table(frame.assign(Churn=frame["Churn"].map({"Yes": "a", "No": "b"})), "Churn")
    with pytest.raises(InputError, match="appears more than once"):
        labelled_table(pd.concat([frame.head(2), frame.head(1)]), "Churn", id_column="customerID")


@pytest.mark.slow
def test_telco_calibrated_churn(shared_data) -> None:
    """Telco, 30 % stratified hold-out: calibrated, and AUC in the range published for this data (0.83-0.85)."""
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(shared_data / "telco_customer_churn.csv.gz")
    X, y = labelled_table(frame, "Churn", id_column="customerID")
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    p = CalibratedBoostingClassifier(calibration="platt").fit(Xtr, ytr).predict_proba(Xte)[:, 1]
    metrics = classification_metrics(yte.to_numpy(), p)
    assert metrics["ece"] < 0.02
    assert metrics["auc"] > 0.83

"""TreeSHAP contributions add up to the booster's raw output exactly; reason codes read as sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.errors import InputError
from patron.explain import BIAS, describe, reason_codes, tree_contributions
from patron.models.classify import CalibratedBoostingClassifier


@pytest.fixture(scope="module")
def fitted() -> tuple[CalibratedBoostingClassifier, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 1500
    X = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 300, n).astype(float),
            "gap_mean": np.where(rng.uniform(size=n) < 0.2, np.nan, rng.uniform(5, 90, n)),
            "frequency": rng.integers(1, 30, n).astype(float),
            "plan": pd.Categorical(rng.choice(["gold", "basic"], n)),
        }
    )
    logit = X["recency_days"] / 60 - 2 - 0.05 * X["frequency"] + (X["plan"] == "basic") * 0.7
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return CalibratedBoostingClassifier(n_estimators=60).fit(X, y), X


def test_contributions_add_up_to_the_raw_output(fitted) -> None:
    model, X = fitted
    contrib = tree_contributions(model, X)
    assert list(contrib.columns) == [*X.columns, BIAS]
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_score(X), rtol=0, atol=1e-9)
    # and the booster's raw output is the uncalibrated log-odds the calibrator maps to the probability
    np.testing.assert_allclose(
        model.calibrate_raw(contrib.sum(axis=1)), model.predict_proba(X)[:, 1], atol=1e-9
    )


def test_reason_codes(fitted) -> None:
    model, X = fitted
    contrib = tree_contributions(model, X)
    reasons = reason_codes(contrib, X, top=2)
    assert list(reasons.columns) == ["customer_id", "rank", "feature", "contribution", "reason"]
    assert len(reasons) == 2 * len(X)
    assert all(r == [1, 2] for r in reasons.groupby("customer_id")["rank"].apply(list))
    first = reasons.groupby("customer_id").head(1).set_index("customer_id")
    largest = contrib.drop(columns=BIAS).abs().idxmax(axis=1)
    assert (first["feature"] == largest.loc[first.index.astype(int)].to_numpy()).all()
    assert reasons["reason"].str.contains(r"\((?:raises|lowers) churn risk\)").all()


def test_describe_reads_like_a_sentence() -> None:
    row = {"recency_days": 142.0, "gap_mean": 31.2}
    assert describe("recency_days", row, {}) == "no purchase for 142 days, usually buys every 31"
    assert "only one purchase day" in describe("recency_days", {"recency_days": 9.0, "gap_mean": np.nan}, {})
    assert describe("attr_plan", {"attr_plan": "gold"}, {}) == "plan = gold"
    assert describe("x", {"x": 2.5}, {"x": "widgets"}) == "widgets = 2.5"


def test_bad_input() -> None:
    with pytest.raises(InputError, match="DataFrame"):
        tree_contributions(object(), np.zeros((2, 2)))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="top must be"):
        reason_codes(pd.DataFrame({"a": [1.0], BIAS: [0.0]}), pd.DataFrame({"a": [1.0]}), top=0)

"""Kaplan-Meier, the Weibull AFT and the concordance index checked against lifelines (a test-only dependency) on
its packaged data sets: Rossi et al. (1980) recidivism (432 rows) and the Waltons fly lifetimes (163 rows)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter, WeibullAFTFitter
from lifelines.datasets import load_rossi, load_waltons
from lifelines.utils import concordance_index as lifelines_cindex

from patron.errors import InputError, ModelError
from patron.models.churn.survival import (
    WeibullAFTModel,
    concordance_index,
    kaplan_meier,
    weibull_aft_gradient,
    weibull_aft_loglik,
)


@pytest.mark.parametrize("group", ["miR-137", "control"])
def test_kaplan_meier_equals_lifelines(group: str) -> None:
    data = load_waltons()
    data = data[data["group"] == group]
    times, survival, at_risk, events = kaplan_meier(data["T"], data["E"])
    kmf = KaplanMeierFitter().fit(data["T"], data["E"])
    expected = kmf.survival_function_.iloc[:, 0]
    np.testing.assert_allclose(survival, expected.loc[times].to_numpy(), rtol=0, atol=1e-12)
    table = kmf.event_table.loc[times]
    np.testing.assert_array_equal(at_risk, table["at_risk"].to_numpy())
    np.testing.assert_array_equal(events, table["observed"].to_numpy())


def test_kaplan_meier_with_censoring_and_ties() -> None:
    t = [1, 1, 2, 2, 3, 4, 4, 5]
    e = [1, 0, 1, 1, 0, 1, 0, 0]
    times, survival, _, _ = kaplan_meier(t, e)
    kmf = KaplanMeierFitter().fit(t, e)
    np.testing.assert_allclose(survival, kmf.survival_function_.loc[times].iloc[:, 0].to_numpy(), atol=1e-12)


def test_weibull_aft_equals_lifelines_on_rossi() -> None:
    rossi = load_rossi()
    covariates = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    ours = WeibullAFTModel().fit(rossi[covariates], rossi["week"], rossi["arrest"])
    theirs = WeibullAFTFitter().fit(rossi, duration_col="week", event_col="arrest")
    lam = theirs.params_.loc["lambda_"]
    np.testing.assert_allclose(ours.coef_, lam.loc[covariates].to_numpy(), rtol=1e-4, atol=1e-5)
    assert ours.intercept_ == pytest.approx(lam.loc["Intercept"], rel=1e-4)
    assert np.log(ours.rho_) == pytest.approx(theirs.params_.loc[("rho_", "Intercept")], rel=1e-4)
    assert ours.log_likelihood_ == pytest.approx(theirs.log_likelihood_, rel=1e-8)
    # The concordance of the model's predicted medians equals lifelines' own.
    assert ours.score(rossi[covariates], rossi["week"], rossi["arrest"]) == pytest.approx(
        theirs.concordance_index_, abs=1e-10
    )


def test_weibull_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack((np.ones(50), rng.normal(size=(50, 2))))
    log_t = np.log(rng.weibull(1.5, 50) * 10 + 0.1)
    e = rng.integers(0, 2, 50).astype(float)
    p = np.array([2.0, 0.3, -0.2, 0.1])
    eps = 1e-6
    numeric = np.array(
        [
            (
                weibull_aft_loglik(p + eps * np.eye(4)[k], X, log_t, e)
                - weibull_aft_loglik(p - eps * np.eye(4)[k], X, log_t, e)
            )
            / (2 * eps)
            for k in range(4)
        ]
    )
    np.testing.assert_allclose(weibull_aft_gradient(p, X, log_t, e), numeric, rtol=1e-5)


def test_weibull_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    x = rng.normal(size=n)
    lam = np.exp(3.0 + 0.5 * x)
    t = lam * rng.weibull(1.7, n)
    censor = rng.uniform(0, 60, n)
    model = WeibullAFTModel().fit(x[:, None], np.minimum(t, censor), (t <= censor).astype(int))
    assert model.intercept_ == pytest.approx(3.0, abs=0.03)
    assert model.coef_[0] == pytest.approx(0.5, abs=0.03)
    assert model.rho_ == pytest.approx(1.7, abs=0.05)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=40))
def test_concordance_equals_lifelines(rows: list[tuple[int, int, int]]) -> None:
    t, e, s = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    try:
        expected = lifelines_cindex(t, s, e)
    except ZeroDivisionError:
        with pytest.raises(ModelError, match="no comparable pair"):
            concordance_index(t, s, e)
        return
    assert concordance_index(t, s, e) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 1)), min_size=1, max_size=50))
def test_kaplan_meier_is_a_non_increasing_probability(rows: list[tuple[float, int]]) -> None:
    t, e = zip(*rows, strict=True)
    _, survival, at_risk, _ = kaplan_meier(t, e)
    assert np.all((survival >= 0) & (survival <= 1))
    assert np.all(np.diff(survival) <= 1e-15)
    assert at_risk[0] == len(t)


def test_bad_input_is_named() -> None:
    with pytest.raises(InputError, match="non-negative"):
        kaplan_meier([-1, 2], [1, 0])
    with pytest.raises(InputError, match="0 \\(censored\\) or 1"):
        kaplan_meier([1, 2], [2, 0])
    with pytest.raises(ModelError, match="no observed churn"):
        WeibullAFTModel().fit(np.zeros((3, 1)), [1, 2, 3], [0, 0, 0])

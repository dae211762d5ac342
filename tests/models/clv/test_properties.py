"""Invariants of the purchase and spend numerics on any valid input (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.models.clv import BetaGeoModel, GammaGammaModel
from patron.models.clv.beta_geo import bgnbd_expected_purchases, bgnbd_loglik_grad, bgnbd_probability_alive
from patron.models.clv.gamma_gamma import gg_loglik_grad
from patron.models.clv.modified_beta_geo import (
    mbgnbd_expected_purchases,
    mbgnbd_loglik_grad,
    mbgnbd_probability_alive,
)
from patron.models.clv.pareto_nbd import pnbd_expected_purchases, pnbd_loglik_grad, pnbd_probability_alive

MODELS = {
    "bgnbd": (bgnbd_loglik_grad, bgnbd_probability_alive, bgnbd_expected_purchases),
    "mbgnbd": (mbgnbd_loglik_grad, mbgnbd_probability_alive, mbgnbd_expected_purchases),
    "pareto_nbd": (pnbd_loglik_grad, pnbd_probability_alive, pnbd_expected_purchases),
}

positive = st.floats(min_value=1e-2, max_value=50.0)


@st.composite
def customers(draw, max_x: int = 5000):
    """Valid (x, t_x, T) rows, including x = 0 with T = 0 and very frequent buyers."""
    n = draw(st.integers(1, 6))
    rows = []
    for _ in range(n):
        T = draw(st.one_of(st.just(0.0), st.floats(1e-3, 1e4)))
        x = 0 if T == 0 else draw(st.one_of(st.just(0), st.integers(1, 20), st.integers(21, max_x)))
        t_x = 0.0 if x == 0 else draw(st.floats(0.0, 1.0)) * T
        rows.append((float(x), t_x, T))
    return tuple(np.array(c) for c in zip(*rows, strict=True))


params4 = st.tuples(positive, positive, st.floats(0.05, 20.0), st.floats(0.05, 20.0))


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=params4, data=customers(), t=st.floats(0.0, 100.0))
def test_finite_probabilities_and_expectations(name, params, data, t) -> None:
    """No NaN or inf anywhere; P(alive) in [0, 1]; E[Y(t)] >= 0 and increasing in t."""
    loglik_grad, alive, expected = MODELS[name]
    x, t_x, T = data
    ll, grad = loglik_grad(*params, x, t_x, T)
    assert np.all(np.isfinite(ll))  # a density in t_x, so it may exceed 0
    assert all(np.all(np.isfinite(g)) for g in grad)
    pa = alive(*params, x, t_x, T)
    assert np.all((pa >= 0) & (pa <= 1))
    e1 = expected(t, *params, x, t_x, T)
    e2 = expected(t + 1.0, *params, x, t_x, T)
    assert np.all(np.isfinite(e1)) and np.all(e1 >= -1e-12)
    assert np.all(e2 >= e1 - 1e-9 * (1 + np.abs(e1)))


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=40, deadline=None)
@given(params=params4, data=customers(max_x=300))
def test_gradient_equals_finite_differences(name, params, data) -> None:
    loglik_grad = MODELS[name][0]
    x, t_x, T = data
    _, grad = loglik_grad(*params, x, t_x, T)
    for j in range(4):
        h = 1e-6 * params[j]
        up = list(params)
        dn = list(params)
        up[j] += h
        dn[j] -= h
        fd = (loglik_grad(*up, x, t_x, T)[0] - loglik_grad(*dn, x, t_x, T)[0]) / (2 * h)
        assert np.allclose(grad[j], fd, rtol=1e-4, atol=1e-4 * (1 + np.abs(fd).max()))


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=30, deadline=None)
@given(params=params4, data=customers())
def test_vectorised_equals_sum_of_rows(name, params, data) -> None:
    loglik_grad = MODELS[name][0]
    x, t_x, T = data
    whole = loglik_grad(*params, x, t_x, T)[0]
    rows = [loglik_grad(*params, x[i : i + 1], t_x[i], T[i])[0][0] for i in range(len(x))]
    assert whole.sum() == pytest.approx(sum(rows), rel=1e-12, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    params=st.tuples(st.floats(0.5, 20), st.floats(0.5, 20), st.floats(0.5, 100)),
    x=st.lists(st.integers(1, 1000), min_size=1, max_size=5),
    z=st.floats(0.01, 1e5),
)
def test_gamma_gamma_gradient_and_finiteness(params, x, z) -> None:
    xs = np.array(x, dtype=float)
    ll, grad = gg_loglik_grad(*params, xs, z)
    assert np.all(np.isfinite(ll))
    for j in range(3):
        h = 1e-6 * params[j]
        up, dn = list(params), list(params)
        up[j] += h
        dn[j] -= h
        fd = (gg_loglik_grad(*up, xs, z)[0] - gg_loglik_grad(*dn, xs, z)[0]) / (2 * h)
        assert np.allclose(grad[j], fd, rtol=1e-4, atol=1e-5 * (1 + np.abs(fd).max()))


@pytest.fixture(scope="module")
def cdnow_models():
    from tests.conftest import shared_data_dir
    from tests.models.clv.data import cdnow_with_spend

    data = cdnow_with_spend(shared_data_dir())
    return data, BetaGeoModel().fit(data), GammaGammaModel().fit(data)


def test_fit_log_likelihood_is_the_sum_of_individual_ones(cdnow_models) -> None:
    data, bg, _ = cdnow_models
    assert bg.individual_log_likelihood(data).sum() == pytest.approx(bg.log_likelihood_, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(d1=st.floats(0.0, 0.5), d2=st.floats(0.0, 0.5))
def test_clv_decreases_with_the_discount_rate(cdnow_models, d1, d2) -> None:
    data, bg, gg = cdnow_models
    X = data.head(30)
    lo, hi = sorted((d1, d2))
    a = gg.customer_lifetime_value(bg, X, horizon=12, discount_rate=lo)
    b = gg.customer_lifetime_value(bg, X, horizon=12, discount_rate=hi)
    assert np.all(b <= a + 1e-12)


@settings(max_examples=6, deadline=None)
@given(perm=st.permutations(list(range(40))))
def test_fit_is_invariant_to_row_order(cdnow_models, perm) -> None:
    data = cdnow_models[0]
    small = data.iloc[:40]
    a = BetaGeoModel().fit(small)
    b = BetaGeoModel().fit(small.iloc[list(perm)])
    assert np.allclose(a.params_, b.params_, rtol=1e-6)
    pd.testing.assert_series_equal(a.probability_alive(small), b.probability_alive(small))

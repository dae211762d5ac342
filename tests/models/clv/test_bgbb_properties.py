"""Invariants of the BG/BB numerics over random valid parameters and data (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.models.clv import beta_geo_beta_binom as bgbb

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)
params = st.tuples(positive, positive, positive, positive)


@st.composite
def patterns(draw, max_n: int = 60):
    n = draw(st.integers(1, max_n))
    size = draw(st.integers(1, 12))
    rows = []
    for _ in range(size):
        t_x = draw(st.integers(0, n))
        x = 0 if t_x == 0 else draw(st.integers(1, t_x))
        rows.append((x, t_x, n))
    return tuple(np.array(c, dtype=float) for c in zip(*rows, strict=True))


@settings(max_examples=150, deadline=None)
@given(params, patterns())
def test_loglik_finite_nonpositive_and_sums_match(p, data):
    x, t, n = data
    ll, grad = bgbb.log_likelihood_and_gradient(*p, x, t, n)
    assert np.all(np.isfinite(ll)) and np.all(ll <= 1e-12)
    assert all(np.all(np.isfinite(g)) for g in grad.values())
    one_by_one = sum(float(bgbb.log_likelihood(*p, x[i], t[i], n[i])) for i in range(len(x)))
    assert np.isclose(ll.sum(), one_by_one, rtol=1e-12, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(params, patterns(), st.integers(1, 40))
def test_p_alive_in_unit_interval_and_expectations_increase(p, data, horizon):
    x, t, n = data
    alive = bgbb.probability_alive(*p, x, t, n)
    assert np.all((alive >= 0) & (alive <= 1))
    e1 = bgbb.expected_purchases(*p, x, t, n, horizon)
    e2 = bgbb.expected_purchases(*p, x, t, n, horizon + 1)
    assert np.all(np.isfinite(e1)) and np.all(e1 >= 0)
    assert np.all(e2 >= e1 * (1 - 1e-12))
    # At most one transaction per opportunity.
    assert np.all(e1 <= horizon * (1 + 1e-9))


@settings(max_examples=100, deadline=None)
@given(params, st.integers(1, 30))
def test_recent_buyers_are_more_likely_alive(p, n):
    """P(alive) does not decrease with recency at fixed frequency (a later last purchase is evidence of life)."""
    t = np.arange(1, n + 1, dtype=float)
    alive = bgbb.probability_alive(*p, np.ones_like(t), t, n)
    assert np.all(np.diff(alive) >= -1e-12)

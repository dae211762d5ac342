"""Invariants of the sBG numerics (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.models.clv import shifted_beta_geo as sbg

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    positive, positive, st.lists(st.tuples(st.integers(1, 500), st.integers(0, 500)), min_size=1, max_size=20)
)
def test_loglik_finite_and_vectorised_sum(a, b, rows):
    T = np.array([r[0] for r in rows], dtype=float)
    t = np.minimum(np.array([r[1] for r in rows], dtype=float) + 1, T)
    ll, g = sbg.log_likelihood_and_gradient(a, b, t, T)
    assert np.all(np.isfinite(ll)) and np.all(ll <= 1e-12) and all(np.all(np.isfinite(v)) for v in g.values())
    assert np.isclose(
        ll.sum(), sum(float(sbg.log_likelihood(a, b, t[i], T[i])) for i in range(len(t))), atol=1e-9
    )


@settings(max_examples=200, deadline=None)
@given(positive, positive, st.floats(0.001, 2.0))
def test_curves_monotone_and_lifetime_decreasing_in_discount(a, b, d):
    t = np.arange(0, 60)
    s = sbg.survival(a, b, t)
    r = sbg.retention_rate(a, b, t[1:])
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s) <= 1e-15)
    assert np.all((r >= 0) & (r <= 1)) and np.all(np.diff(r) >= -1e-12)
    assert sbg.discounted_expected_lifetime(a, b, d * 1.5) <= sbg.discounted_expected_lifetime(a, b, d) * (
        1 + 1e-9
    )

"""E[X(t) | x, t_x, T] for BG/NBD and MBG/NBD against an independent 50-digit computation (mpmath's hyp2f1 in
FHL 2005 eq. 7 at the posterior parameters) on extreme rows: large r+x, t far beyond alpha+T, tiny and huge T, x = 0."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.models.clv.beta_geo import _nodes_for, bgnbd_expected_path, bgnbd_expected_purchases
from patron.models.clv.modified_beta_geo import mbgnbd_expected_purchases

mp = pytest.importorskip("mpmath")
mp.mp.dps = 50


def reference_new(t, r, alpha, a, b):
    """(a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))] at 50 digits (FHL 2005 eq. 7)."""
    t, r, alpha, a, b = (mp.mpf(float(v)) for v in (t, r, alpha, a, b))
    return (
        (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * mp.hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )


GRID = list(
    itertools.product(
        [0.03, 0.8, 3.0, 20.0],  # a
        [0.3, 2.5, 300.0],  # b (a + b = 1 would make the reference 2F1 singular)
        [0.05, 2.0, 40.0],  # r
        [0, 4, 300, 3000],  # x
        [1e-3, 40.0, 1e4],  # alpha + T
        [0.5, 7.0, 1e3, 1e6],  # t / (alpha + T)
    )
)


@pytest.mark.parametrize("model", ["bg", "mbg"])
def test_new_customer_expectation_at_extreme_posteriors_matches_mpmath(model) -> None:
    rows = np.array(GRID)
    a, b, r, x, alpha_T, ratio = rows.T
    bb = b + x + (1.0 if model == "mbg" else 0.0)
    t = ratio * alpha_T
    ours = np.array(
        [
            bgnbd_expected_path(np.array([ti]), ri + xi, ai_t, ai, bi)[0, 0]
            for ti, ri, xi, ai_t, ai, bi in zip(t, r, x, alpha_T, a, bb, strict=True)
        ]
    )
    ref = np.array(
        [
            float(reference_new(ti, ri + xi, ai_t, ai, bi))
            for ti, ri, xi, ai_t, ai, bi in zip(t, r, x, alpha_T, a, bb, strict=True)
        ]
    )
    rel = np.abs(ours / ref - 1.0)
    assert np.max(rel) < 1e-10, rows[np.argmax(rel)]


def test_vectorised_path_matches_mpmath_for_every_horizon() -> None:
    """Rows of mixed difficulty in one call, several horizons (the CLV discounted sums use the whole path)."""
    r, alpha, a, b = 0.2426, 4.4136, 0.7930, 2.4261
    x = np.array([0.0, 2.0, 30.0, 500.0])
    T = np.array([0.01, 38.86, 1.0, 3.0])
    times = np.array([1.0, 39.0, 500.0, 5e4])
    got = bgnbd_expected_path(times, r + x, alpha + T, a, b + x)
    for i, ti in enumerate(times):
        for j in range(len(x)):
            ref = float(reference_new(ti, r + x[j], alpha + T[j], a, b + x[j]))
            assert got[i, j] == pytest.approx(ref, rel=1e-10)


def test_published_conditional_expectation() -> None:
    """FHL (2005) section 4: E[X(39) | x=2, t_x=30.43, T=38.86] = 1.226 at r 0.2426, α 4.4136, a 0.7930, b 2.4261."""
    value = bgnbd_expected_purchases(39.0, 0.2426, 4.4136, 0.7930, 2.4261, 2.0, 30.43, 38.86)
    assert np.asarray(value).item() == pytest.approx(1.226, abs=5e-4)


def test_mbgnbd_conditional_expectation_matches_mpmath_over_a_long_horizon() -> None:
    r, alpha, a, b = 0.5248, 6.1830, 0.8913, 1.6139  # Batislam et al. (2007) CDNOW MLE
    x, t_x, T, t = 400.0, 2.9, 3.0, 520.0
    log_odds = mp.log(a) - mp.log(b + x) + (r + x) * (mp.log(alpha + T) - mp.log(alpha + t_x))
    ref = reference_new(t, r + x, alpha + T, a, b + x + 1) / (1 + mp.exp(log_odds))
    ours = mbgnbd_expected_purchases(t, r, alpha, a, b, x, t_x, T)
    assert np.asarray(ours).item() == pytest.approx(float(ref), rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    r=st.floats(0.01, 50.0),
    alpha=st.floats(1e-3, 1e3),
    a=st.floats(0.02, 50.0),
    b=st.floats(0.02, 1000.0),
    x=st.integers(0, 5000),
    T=st.floats(0.0, 1e3),
    frac=st.floats(0.0, 1.0),
    t=st.floats(1e-3, 1e6),
)
def test_expected_purchases_finite_non_negative_and_increasing_in_t(r, alpha, a, b, x, T, frac, t) -> None:
    t_x = frac * T if x > 0 else 0.0
    times = np.array([t, 2.0 * t, 10.0 * t])
    vals = [np.asarray(bgnbd_expected_purchases(s, r, alpha, a, b, x, t_x, T)).item() for s in times]
    assert all(np.isfinite(v) and v >= 0.0 for v in vals)
    assert vals[0] <= vals[1] * (1 + 1e-12) and vals[1] <= vals[2] * (1 + 1e-12)


def test_path_rows_leaving_the_node_table_mid_horizon_match_mpmath() -> None:
    """A 0..52 path where each row changes rule along the way (8 -> 12 -> ... nodes, then the split rule from
    the period where t/(alpha+T) or r+x leave the node table): every period within 1e-10 of mpmath."""
    times = np.arange(0.0, 53.0)
    r = np.array([0.3, 3.0, 15.0, 60.0, 400.0])
    alpha = np.array([40.0, 12.0, 30.0, 9.0, 3.0])
    a, b = np.array([0.8, 0.05, 3.0, 0.8, 20.0]), np.array([2.5, 300.0, 0.4, 60.0, 900.0])
    got = bgnbd_expected_path(times, r, alpha, a, b)
    assert np.all(got[0] == 0.0)
    for k in (1, 5, 13, 26, 39, 45, 52):
        ref = [float(reference_new(times[k], r[j], alpha[j], a[j], b[j])) for j in range(len(r))]
        np.testing.assert_allclose(got[k], ref, rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    r=st.floats(0.01, 500.0),
    alpha=st.floats(1e-2, 1e3),
    a=st.floats(0.02, 50.0),
    b=st.floats(0.02, 1000.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_path_value_does_not_depend_on_the_other_times(r, alpha, a, b, seed) -> None:
    """Each (time, row) takes the rule of its own t/alpha, so a time asked alone, or with others in any order,
    gives the same number as in the full path: exactly inside the node table; to the split rule's accuracy outside
    it (its nodes are placed for the longest of the times it is given)."""
    times = np.arange(0.0, 53.0)
    full = bgnbd_expected_path(times, r, alpha, a, b)[:, 0]
    rng = np.random.default_rng(seed)
    some = rng.choice(times, 7, replace=False)
    got = bgnbd_expected_path(some, r, alpha, a, b)[:, 0]
    np.testing.assert_allclose(got, full[some.astype(int)], rtol=1e-11)
    inside = _nodes_for(some / alpha, np.full(7, r)) < 32
    assert np.array_equal(got[inside], full[some.astype(int)][inside])

"""P(X(t) = n) of a new BG/NBD customer (FHL 2005 eq. 8) against an independent 50-digit mpmath computation,
including probabilities far in the tail, where ``1 - I_p(r, n)`` computed in floats cancels."""

from __future__ import annotations

import itertools

import pytest

from patron.models.clv.beta_geo import bgnbd_pmf_new

mp = pytest.importorskip("mpmath")


def _reference(n: int, t: float, r: float, alpha: float, a: float, b: float) -> float:
    mp.mp.dps = 50
    r, alpha, a, b, t = (mp.mpf(v) for v in (r, alpha, a, b, t))
    p0 = alpha / (alpha + t)
    nbd = mp.gamma(r + n) / (mp.gamma(r) * mp.factorial(n)) * p0**r * (1 - p0) ** n
    value = mp.beta(a, b + n) / mp.beta(a, b) * nbd
    if n > 0:
        tail = 1 - mp.betainc(r, n, 0, p0, regularized=True)
        value += mp.beta(a + 1, b + n - 1) / mp.beta(a, b) * tail
    return float(value)


GRID = list(
    itertools.product(
        [0, 1, 3, 10, 50],  # n
        [0.01, 1.0, 39.0, 1000.0],  # t
        [(0.2426, 4.4136), (5.0, 0.1), (50.0, 10.0)],  # (r, alpha): CDNOW's and two extremes
        [(0.793, 2.4261), (5.0, 50.0)],  # (a, b)
    )
)


@pytest.mark.parametrize(("n", "t", "ra", "ab"), GRID)
def test_new_customer_pmf_matches_mpmath_deep_in_the_tail(n, t, ra, ab) -> None:
    want = _reference(n, t, *ra, *ab)
    got = float(bgnbd_pmf_new(n, t, *ra, *ab))
    # Below ~1e-30 scipy's incomplete beta itself keeps only a few digits (5 % at 1e-136); such probabilities only
    # need their order of magnitude. Above, 1e-9 (the old ``1 - betainc`` was 8 % off at 2.7e-20).
    assert got == pytest.approx(want, rel=1e-9 if want > 1e-30 else 0.1, abs=1e-300)

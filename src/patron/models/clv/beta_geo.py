"""BG/NBD: the beta-geometric / negative binomial distribution model of Fader, Hardie & Lee (2005).

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your Customers' the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2), 275-284 (equations numbered as in the paper), and the companion note
Fader, Hardie & Lee (2008), "Computing P(alive) Using the BG/NBD Model".

Pure numerics first (numpy arrays in, arrays out), then the :class:`BetaGeoModel` estimator.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.linalg.lapack import dstev
from scipy.special import betaincc, betaincinv, betaln, digamma, expit, gammaln, hyp2f1, roots_legendre

from patron.models.clv._base import CLVModel, by_value
from patron.models.clv._purchase import PurchaseModelMixin


def bgnbd_loglik(r, alpha, a, b, x, t_x, T):
    """Per-customer BG/NBD log-likelihood, FHL (2005) eq. (6), in log space.

    ``log L = lnΓ(r+x) - lnΓ(r) + r ln α + ln B(a, b+x) - ln B(a, b)
    + ln[(α+T)^-(r+x) + 1{x>0} a/(b+x-1) (α+t_x)^-(r+x)]``
    (the ratio B(a+1, b+x-1)/B(a, b+x) = a/(b+x-1) is taken out so the two terms meet in one ``logaddexp``).
    A customer with x = 0 and T = 0 contributes exactly 0.
    """
    return bgnbd_loglik_grad(r, alpha, a, b, x, t_x, T)[0]


def bgnbd_loglik_grad(r, alpha, a, b, x, t_x, T):
    """BG/NBD log-likelihood (FHL 2005 eq. 6) and its exact gradient.

    Returns ``(ll, (d_r, d_alpha, d_a, d_b))``, each per customer. Parameters may be scalars or per-customer arrays.
    """
    x = np.asarray(x, dtype=float)
    rx = r + x
    repeat = x > 0
    l_T = np.log(alpha + T)
    l_tx = np.log(alpha + t_x)
    u1 = -rx * l_T
    # log(a/(b+x-1)) only for repeaters; -inf otherwise so the second term vanishes.
    bx1 = np.where(repeat, b + x - 1.0, 1.0)
    u2 = np.where(repeat, np.log(a) - np.log(bx1) - rx * l_tx, -np.inf)
    lse = np.logaddexp(u1, u2)
    w2 = np.exp(u2 - lse)  # share of the "dropped out after the last purchase" term
    w1 = 1.0 - w2
    if np.ndim(r) == 0 and np.ndim(a) == 0 and np.ndim(b) == 0:
        # Terms that depend on the customer only through x: computed once per distinct x.
        cx, psi_rx, psi_bx, psi_abx = by_value(
            x,
            lambda u: (
                gammaln(r + u) + betaln(a, b + u),
                digamma(r + u),
                digamma(b + u),
                digamma(a + b + u),
            ),
        )
    else:
        cx = gammaln(rx) + betaln(a, b + x)
        psi_rx, psi_bx, psi_abx = digamma(rx), digamma(b + x), digamma(a + b + x)
    ll = cx - gammaln(r) + r * np.log(alpha) - betaln(a, b) + lse
    d_r = psi_rx - digamma(r) + np.log(alpha) - w1 * l_T - w2 * l_tx
    d_alpha = r / alpha - rx * (w1 / (alpha + T) + w2 / (alpha + t_x))
    psi_ab = digamma(a + b)
    d_a = psi_ab - psi_abx + w2 / a
    d_b = psi_bx - psi_abx - digamma(b) + psi_ab - np.where(repeat, w2 / bx1, 0.0)
    return ll, (d_r, d_alpha, d_a, d_b)


def bgnbd_probability_alive(r, alpha, a, b, x, t_x, T):
    """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x)), FHL (2008) eq. (1), via expit of
    the log-odds so large x or T cannot overflow."""
    x = np.asarray(x, dtype=float)
    repeat = x > 0
    bx1 = np.where(repeat, b + x - 1.0, 1.0)
    log_odds = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, expit(-log_odds), 1.0)


_JACOBI_NODES = 32


def beta_quadrature(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Cached :func:`_beta_quadrature`: scoring asks for the same (a, b) once per horizon period and per request,
    and the eigen-decomposition was most of a one-customer CLV score. The arrays are read-only."""
    return _beta_quadrature_cached(int(n), float(a), float(b))


@functools.lru_cache(maxsize=512)
def _beta_quadrature_cached(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = _beta_quadrature(n, a, b)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def _beta_quadrature(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Jacobi nodes on (0, 1) and weights summing to 1 for the Beta(a, b) law (Golub & Welsch 1969).

    Built from the three-term recurrence of the Jacobi polynomials with exponents (b-1, a-1) on [-1, 1]; unlike
    ``scipy.special.roots_jacobi`` it never forms the total mass 2^(a+b-1) B(a, b), which overflows for large b.
    """
    al, be = b - 1.0, a - 1.0
    k = np.arange(n, dtype=float)
    s = 2.0 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = np.where(
            np.abs(s * (s + 2.0)) > 0, (be**2 - al**2) / (s * (s + 2.0)), (be - al) / (al + be + 2.0)
        )
    diag[0] = (be - al) / (al + be + 2.0)
    m = k[1:]
    sm = 2.0 * m + al + be
    off = np.sqrt(4.0 * m * (m + al) * (m + be) * (m + al + be) / (sm**2 * (sm + 1.0) * (sm - 1.0)))
    try:
        u, vecs = eigh_tridiagonal(diag, off)
        w = vecs[0] ** 2
        w = w / w.sum()
    except (np.linalg.LinAlgError, ValueError):
        u = w = np.array([np.nan])
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(w))):
        # Degenerate law (a or b at the edge of the parameter space, e.g. a ~ 1e-13): a point mass at its mean.
        return np.array([a / (a + b)]), np.array([1.0])
    return 0.5 * (np.clip(u, -1.0, 1.0) + 1.0), w


def bgnbd_expected_new(t, r, alpha, a, b):
    """E[X(t)] for a customer just acquired, FHL (2005) eq. (7).

    Eq. (7) is ``(a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]``; that closed form cancels
    catastrophically (and scipy's 2F1 overflows) for large t/α or b, and it has a removable singularity at a = 1.
    We evaluate the expectation it comes from instead (FHL 2005, appendix):
    ``E[X(t)] = E_p[(1 - (α/(α+pt))^r) / p]``, p ~ Beta(a, b), by Gauss-Jacobi quadrature (the beta weight is exact,
    the integrand is smooth and bounded by r t/α), grouped by distinct (a, b). Agrees with eq. (7) to ~1e-12
    where eq. (7) is accurate (tested). Broadcasts like a ufunc over t and the parameters.
    """
    t = np.asarray(t, dtype=float)
    if t.ndim == 0:
        return bgnbd_expected_path(t[None], r, alpha, a, b)[0]
    if all(np.ndim(v) == 0 for v in (r, alpha, a, b)):
        return bgnbd_expected_path(t.ravel(), r, alpha, a, b)[:, 0].reshape(t.shape)
    shape = np.broadcast_shapes(t.shape, *(np.shape(v) for v in (r, alpha, a, b)))
    tt = np.broadcast_to(t, shape)
    out = np.empty(shape)
    for value in np.unique(tt):
        sel = tt == value
        args = [np.broadcast_to(np.asarray(v, dtype=float), shape)[sel] for v in (r, alpha, a, b)]
        out[sel] = bgnbd_expected_path(np.array([value]), *args)[0]
    return out


def beta_quadratures(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_beta_quadrature` for many (a, b) at once: nodes and weights of shape (len(a), n).

    The recurrences are built for all laws at once and each tridiagonal matrix goes straight to LAPACK's ``dstev``
    (intervals draw hundreds of parameter sets, so this runs thousands of times per prediction).
    Degenerate laws (non-finite recurrence, a or b at the edge of the parameter space) become a point mass at the
    mean, as in :func:`_beta_quadrature`.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[:, None], b[:, None]
    al, be = b - 1.0, a - 1.0
    k = np.arange(n, dtype=float)[None, :]
    s = 2.0 * k + al + be
    with np.errstate(all="ignore"):
        den = s * (s + 2.0)
        first = (be - al) / (al + be + 2.0)
        diag = np.where(np.abs(den) > 0, (be**2 - al**2) / np.where(den == 0, 1.0, den), first)
        diag[:, 0] = first[:, 0]
        m = k[:, 1:]
        sm = 2.0 * m + al + be
        off = np.sqrt(4.0 * m * (m + al) * (m + be) * (m + al + be) / (sm**2 * (sm + 1.0) * (sm - 1.0)))
    ok = np.all(np.isfinite(diag), axis=1) & np.all(np.isfinite(off), axis=1)
    nodes = np.empty((a.shape[0], n))
    w = np.empty((a.shape[0], n))
    for i in range(a.shape[0]):
        if ok[i]:
            # LAPACK's tridiagonal solver directly: scipy's eigh_tridiagonal wrapper costs more than the solve.
            u, vecs, info = dstev(diag[i], off[i], compute_v=1)
            ok[i] = info == 0
            if ok[i]:
                nodes[i], w[i] = u, vecs[0] ** 2
    with np.errstate(all="ignore"):
        w = w / w.sum(axis=1, keepdims=True)
    ok &= np.all(np.isfinite(nodes), axis=1) & np.all(np.isfinite(w), axis=1)
    nodes = 0.5 * (np.clip(nodes, -1.0, 1.0) + 1.0)
    mean = (a / (a + b))[:, 0]
    nodes[~ok] = mean[~ok, None]
    w[~ok] = 1.0 / n
    return nodes, w


# Gauss-Jacobi node counts by (t_max/α, r): rows of (z < z_top, r < r_top) need at most `nodes` for 1e-12
# relative accuracy, measured against a 96-node rule on 30k random laws (a 0.05..50, b 0.05..1000) per cell.
# Everything else keeps the 32-node rule used for every row before (whose own error grows beyond z ~ 5 with large
# r: a customer observed briefly who bought often, scored over a long horizon).
_NODE_TABLE = (  # (z_top, ((r_top, nodes), ...))
    (0.1, ((20.0, 8), (100.0, 12), (1000.0, 24))),
    (0.5, ((5.0, 8), (20.0, 12), (100.0, 24))),
    (1.0, ((1.0, 8), (5.0, 12), (20.0, 16))),
    (2.0, ((1.0, 12), (5.0, 16), (20.0, 24))),
    (5.0, ((1.0, 16), (5.0, 24))),
)


def _nodes_for(z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Node count per row for E_p[(1 - (1 + p z)^-r) / p], p ~ Beta(a, b), z = t_max/α (see _NODE_TABLE)."""
    out = np.full(np.shape(z), _JACOBI_NODES)
    done = np.zeros(np.shape(z), dtype=bool)
    for z_top, cells in _NODE_TABLE:
        for r_top, nodes in cells:
            hit = ~done & (z < z_top) & (r < r_top)
            out[hit] = nodes
            done |= hit
    return out


# Rows outside _NODE_TABLE (horizon beyond ~5 (α+T), or large r+x) go to a split rule instead of the 32-node one.
# Why: there (1 - (1 + p t/α)^-r)/p turns over at p ~ α/(r t), far below the bulk of Beta(a, b), and a single
# Gauss-Jacobi rule has no node there (errors 1e-6..1e-1, growing with t/α). The closed form (eq. 7) needs
# 2F1(r, b; a+b-1; t/(α+t)) with r, b in the thousands and its argument near 1, where scipy's hyp2f1 is not
# reliable and the bracket cancels; its Euler/Pfaff transforms each fail in some corner (measured against mpmath).
# Splitting the p-integral where the scales change works everywhere: [0, p0] below the turnover with the exact
# p^(a-1) weight (Jacobi rule in v = p/p0), [p0, p1] in log p (both the turnover and the beta bulk are O(1) wide
# there) by Gauss-Legendre, [p1, 1] with the exact (1-p)^(b-1) weight. p0 and p1 are moved inwards to quantiles
# of the beta law beyond which the integral provably contributes < 1e-16 relative, so the log range stays short.
_SPLIT_END_NODES = 24
_SPLIT_MID_NODES = 96
_TAIL = 1e-16


@functools.lru_cache(maxsize=4)
def _legendre01(n: int) -> tuple[np.ndarray, np.ndarray]:
    u, w = roots_legendre(n)
    return 0.5 * (u + 1.0), 0.5 * w


def _turnover_ratio(times, r, alpha, p):
    """(1 - (1 + p t/α)^-r) / p for every time: shape (len(times), rows, nodes); r t/α in the p -> 0 limit."""
    zt = times[:, None, None] / alpha[None, :, None]
    rr = r[None, :, None]
    zp = zt * p[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = -np.expm1(-rr * np.log1p(zp)) / p[None]
    return np.where(zp > 1e-300, f, rr * zt)


def _rules_by_value(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jacobi rules of Beta(c, 1) per row, built once per distinct c (one LAPACK solve each, not one per row)."""
    keys, inverse = np.unique(c, return_inverse=True)
    nodes, weights = beta_quadratures(_SPLIT_END_NODES, keys, np.ones(keys.shape[0]))
    inverse = inverse.ravel()
    return nodes[inverse], weights[inverse]


def bgnbd_expected_split(times, r, alpha, a, b):
    """E_p[(1 - (α/(α+pt))^r) / p], p ~ Beta(a, b), by the three-piece rule described above: an array
    (len(times), n) for per-row parameters of length n. Accurate to ~1e-12 relative for any t/α, r, a, b
    (tested against 50-digit mpmath); costs ~4.5x the 32-node rule, so only the rows that need it use it."""
    times = np.asarray(times, dtype=float)
    r, alpha, a, b = (np.atleast_1d(np.asarray(v, dtype=float)) for v in np.broadcast_arrays(r, alpha, a, b))
    n = r.shape[0]
    z_max = float(np.max(times)) / alpha
    # Below p0 the integrand is smooth on the scale of p0: p0 ~ 1/(r t/α) (turnover) and <= 1/b (beta bulk).
    p0 = 1.0 / np.maximum.reduce([z_max * np.maximum(r, 1.0), b, np.full(n, 4.0)])
    # Quantiles per distinct (a, b). Above p1 = the (1 - 1e-16) quantile, the integrand being decreasing in p, the
    # part is < 1e-16 of the whole; for a > 2 the part below the 1e-16 quantile of Beta(a-1, b) is < 1e-16 E[1/p].
    keys, inverse = np.unique(a + 1j * b, return_inverse=True)
    ka, kb = keys.real, keys.imag
    hi = np.minimum(0.5, betaincinv(ka, kb, 1.0 - _TAIL))
    lo = np.where(ka > 2.0, betaincinv(np.maximum(ka - 1.0, 1.0), kb, _TAIL), 0.0)
    inverse = inverse.ravel()
    p1 = np.maximum(hi[inverse], 1e-300)
    p0 = np.minimum(np.maximum(p0, lo[inverse]), 0.5 * p1)
    lnorm = -betaln(a, b)
    out = np.zeros((times.shape[0], n))
    # [0, p0]: p = p0 v, weight v^(a-1) exactly (Jacobi rule of Beta(a, 1); its mass 1/a put back).
    V, WV = _rules_by_value(a)
    p = p0[:, None] * V
    w = WV * np.exp((a * np.log(p0) - np.log(a) + lnorm)[:, None] + (b[:, None] - 1.0) * np.log1p(-p))
    out += np.einsum("tmk,mk->tm", _turnover_ratio(times, r, alpha, p), w)
    # [p0, p1] in s = log p: dp = p ds.
    u, wu = _legendre01(_SPLIT_MID_NODES)
    s0, s1 = np.log(p0), np.log(p1)
    s = s0[:, None] + (s1 - s0)[:, None] * u
    p = np.exp(s)
    w = (s1 - s0)[:, None] * wu * np.exp(a[:, None] * s + (b[:, None] - 1.0) * np.log1p(-p) + lnorm[:, None])
    out += np.einsum("tmk,mk->tm", _turnover_ratio(times, r, alpha, p), w)
    # [p1, 1]: p = 1 - (1 - p1) u, weight u^(b-1) exactly (Jacobi rule of Beta(b, 1)).
    U, WU = _rules_by_value(b)
    p = 1.0 - (1.0 - p1)[:, None] * U
    w = WU * np.exp((b * np.log1p(-p1) - np.log(b) + lnorm)[:, None] + (a[:, None] - 1.0) * np.log(p))
    out += np.einsum("tmk,mk->tm", _turnover_ratio(times, r, alpha, p), w)
    return out


# Per-horizon evaluation: each (time, row) pair gets the node count of its own t/α (the table's cells are
# nested, so a row's count only grows with t and, once outside the table, stays outside). With the count chosen
# for the longest horizon, a 52-period CLV path paid the longest horizon's count (or the split rule) at every
# period; per horizon the early periods take 8-12 nodes.
_PATH_ROWS = 8192  # rows per block: bounds the (time, row) index arrays to ~0.4M pairs per block
_PATH_CHUNK = 65536  # elements (pairs x nodes) per evaluation: temporaries stay in the CPU cache


def _level_steps() -> tuple[np.ndarray, np.ndarray]:
    """_NODE_TABLE as step functions of r, one per z-level (z < 0.1, [0.1, 0.5), ..., [2, 5), >= 5): the
    breakpoints (every r_top) and, per level, the node count on each interval between them, read off
    :func:`_nodes_for` itself at each interval's lower end (the conditions are r < r_top)."""
    r_tops = np.unique([r_top for _, cells in _NODE_TABLE for r_top, _ in cells])
    lows = [0.0] + [z_top for z_top, _ in _NODE_TABLE]
    reps = np.concatenate([[0.0], r_tops])
    return r_tops, np.stack([_nodes_for(np.full(reps.shape, z), reps) for z in lows])


_R_TOPS, _LEVEL_STEPS = _level_steps()
_Z_TOPS = np.array([z_top for z_top, _ in _NODE_TABLE])


def _level_nodes(r: np.ndarray) -> np.ndarray:
    """(levels, rows): each row's node count per z-level, as :func:`_nodes_for` gives it (_JACOBI_NODES meaning
    the split rule); one searchsorted instead of the table's 13 masked passes per level."""
    return _LEVEL_STEPS[:, np.searchsorted(_R_TOPS, r, side="right")]


def _pair_index(rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat (row, time index) pairs of the non-empty segments [lo, hi) of each row."""
    lengths = hi - lo
    total = int(lengths.sum())
    starts = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths)
    return np.repeat(rows, lengths), starts + np.arange(total)


def _table_pairs(ts, r, alpha, P, Wp, W, key, rows, ks, tiny):
    """E_p[(1 - (1 + p t/α)^-r) / p] for the pairs (rows[q], ts[ks[q]]) by the Jacobi rules P[key], weights W
    (Wp = -W/P): -expm1(-r log1p(z)) / p summed against W is expm1(...) summed against -W/p, one pass fewer.
    Laws with a node below 1e-100 (tiny[key]) keep the division and the p -> 0 limit r t/α, which -W/p would lose."""
    n = P.shape[1]
    out = np.empty(rows.shape[0])
    step = max(1, _PATH_CHUNK // n)
    for start in range(0, rows.shape[0], step):
        sel = slice(start, start + step)
        ii = rows[sel]
        kk = key.take(ii)
        zt = ts.take(ks[sel]) / alpha.take(ii)
        # np.take, not P[kk]: numpy's fancy indexing of rows costs 4x more, and this runs ~10^8 times per batch.
        z = np.take(P, kk, axis=0)
        z *= zt[:, None]
        if tiny.take(kk).any():
            with np.errstate(divide="ignore", invalid="ignore"):
                f = -np.expm1(-r.take(ii)[:, None] * np.log1p(z)) / np.take(P, kk, axis=0)
            f = np.where(z > 1e-300, f, (r.take(ii) * zt)[:, None])
            out[sel] = np.einsum("qk,qk->q", f, np.take(W, kk, axis=0))
            continue
        np.log1p(z, out=z)
        z *= -r.take(ii)[:, None]
        np.expm1(z, out=z)
        out[sel] = np.einsum("qk,qk->q", z, np.take(Wp, kk, axis=0))
    return out


_RULE_CACHE: dict[tuple[int, complex], tuple[np.ndarray, ...]] = {}
_RULE_CACHE_SIZE = 8192


def _path_rules(nodes: int, keys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Jacobi nodes P, weights W, -W/P and the 'tiny node' flag per law a + ib of ``keys``, for
    :func:`_table_pairs`. Laws seen before come from a cache (a one-customer score asks for the same few laws on
    every request; solving them again was most of its cost); each law's rule is solved on its own, so a cached
    rule is the very one a batch would compute."""
    wanted = keys.tolist()
    got = [_RULE_CACHE.get((nodes, k)) for k in wanted]  # .get, not [ ]: another thread may clear the cache
    missing = [i for i, g in enumerate(got) if g is None]
    if missing:
        m = keys[missing]
        P, W = beta_quadratures(nodes, m.real, m.imag)
        with np.errstate(divide="ignore", invalid="ignore"):
            Wp = -W / P
        tiny = ~(np.min(P, axis=1) > 1e-100) | ~np.all(np.isfinite(Wp), axis=1)
        if len(missing) == len(wanted):
            fresh = (P, W, Wp, tiny)
        if len(_RULE_CACHE) + len(missing) > _RULE_CACHE_SIZE:
            _RULE_CACHE.clear()
        for j, i in enumerate(missing):
            got[i] = (P[j], W[j], Wp[j], tiny[j])
            if j < _RULE_CACHE_SIZE:
                _RULE_CACHE[(nodes, wanted[i])] = got[i]
        if len(missing) == len(wanted):
            return fresh
    return tuple(np.array(v) for v in zip(*got, strict=True))


def bgnbd_expected_path(times, r, alpha, a, b):
    """E[X(t)] (FHL 2005 eq. 7, by the quadrature of :func:`bgnbd_expected_new`) for each time in the 1-D
    ``times`` and each customer's parameters: an array (len(times), n), n the broadcast length of the parameters
    (1 if all are scalars).

    Each (time, row) pair takes the node count of its own t/α and r (:func:`_nodes_for`); pairs outside the
    table go to :func:`bgnbd_expected_split`, per row for its times from the first one outside on. Inside the
    table a value therefore does not depend on the other times asked for (outside it, only to ~1e-12: the split
    rule places its nodes for the longest time). Rules are built once per distinct (a, b)."""
    times = np.asarray(times, dtype=float)
    r, alpha, a, b = (
        np.atleast_1d(v) for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, alpha, a, b)))
    )
    n = r.shape[0]
    out = np.empty((times.shape[0], n))
    if times.shape[0] == 0 or n == 0:
        return out
    order = np.argsort(times, kind="stable")
    ts = times[order]
    # Sorted already (a CLV path): plain slices below instead of fancy indexing by the order.
    in_order = bool(np.all(order == np.arange(len(order))))
    levels = _level_nodes(r)
    # Distinct (a, b) by one 1-D unique over complex numbers a + ib; rules per node count on demand.
    keys, key = np.unique(a + 1j * b, return_inverse=True)
    key = key.ravel()
    rules: dict[int, tuple[np.ndarray, ...]] = {}
    for block in range(0, n, _PATH_ROWS):
        m = min(n, block + _PATH_ROWS) - block
        # Level j of row i spans the sorted times [edges[j, i], edges[j + 1, i]): edges[j] counts the times
        # below level j-1's z_top (t/α < z_top).
        edges = np.empty((len(_Z_TOPS) + 2, m), dtype=np.int64)
        edges[0], edges[-1] = 0, len(ts)
        with np.errstate(invalid="ignore"):
            edges[1:-1] = np.searchsorted(
                ts, (_Z_TOPS[:, None] * alpha[None, block : block + m]).ravel()
            ).reshape(len(_Z_TOPS), m)
        counts = levels[:, block : block + m]
        outside = counts == _JACOBI_NODES
        # Outside the table at one level means outside at every later one: the split rule from there on.
        split_from = np.where(outside, edges[:-1], len(ts)).min(axis=0)
        # The block's values row-major (row, sorted time): the pairs of a row are adjacent, so the scatter below
        # writes contiguous memory.
        local = np.empty((m, len(ts)))
        seg_rows = np.broadcast_to(np.arange(m), counts.shape)
        used = ~outside & (edges[1:] > edges[:-1])
        for nodes in np.unique(counts[used]):
            sel = used & (counts == nodes)
            pr, pk = _pair_index(seg_rows[sel], edges[:-1][sel], edges[1:][sel])
            if nodes not in rules:
                rules[nodes] = _path_rules(int(nodes), keys)
            P, W, Wp, tiny = rules[nodes]
            # 1-D positions: numpy's 2-D fancy assignment costs several times more per element.
            local.ravel()[pr * len(ts) + pk] = _table_pairs(ts, r, alpha, P, Wp, W, key, pr + block, pk, tiny)
        # Split rule: per distinct first index outside the table, for those rows' remaining times.
        for s in np.unique(split_from[split_from < len(ts)]):
            srows = np.flatnonzero(split_from == s)
            chunk = max(1, 2_000_000 // ((2 * _SPLIT_END_NODES + _SPLIT_MID_NODES) * (len(ts) - s)))
            for start in range(0, len(srows), chunk):
                sr = srows[start : start + chunk]
                g = sr + block
                local[sr, s:] = bgnbd_expected_split(ts[s:], r[g], alpha[g], a[g], b[g]).T
        if in_order:
            out[:, block : block + m] = local.T
        else:
            out[order, block : block + m] = local.T
    return out


def bgnbd_expected_new_closed_form(t, r, alpha, a, b):
    """FHL (2005) eq. (7) as printed (for reference and tests; accurate only for moderate t/α and a != 1)."""
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    head = np.exp(r * (np.log(alpha) - np.log(alpha + t)))
    return (a + b - 1.0) / (a - 1.0) * (1.0 - head * hyp2f1(r, b, a + b - 1.0, z))


def bgnbd_expected_purchases(t, r, alpha, a, b, x, t_x, T):
    """E[Y(t) | x, t_x, T], FHL (2005) eq. (10): the new-customer expectation (eq. 7) at the posterior parameters
    (r+x, α+T, a, b+x), times P(alive)."""
    x = np.asarray(x, dtype=float)
    return bgnbd_probability_alive(r, alpha, a, b, x, t_x, T) * bgnbd_expected_new(
        t, r + x, alpha + T, a, b + x
    )


def bgnbd_pmf_new(n, t, r, alpha, a, b):
    """P(X(t) = n) for a customer just acquired, FHL (2005) eq. (8). The negative binomial partial sum is the
    regularised incomplete beta ``1 - I_{α/(α+t)}(r, n)``, taken as the complement ``betaincc`` directly:
    ``1 - betainc`` cancels when the tail is tiny (8 % off at P ~ 1e-20 for short horizons, against mpmath)."""
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    p0 = alpha / (alpha + t)
    log_nb = gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * np.log(p0) + n * np.log1p(-p0)
    first = np.exp(betaln(a, b + n) - betaln(a, b) + log_nb)
    tail = np.where(n > 0, betaincc(r, np.maximum(n, 1.0), p0), 0.0)
    second = np.where(n > 0, np.exp(betaln(a + 1, np.maximum(b + n - 1, 1e-300)) - betaln(a, b)) * tail, 0.0)
    return first + second


def bgnbd_pmf(n, t, r, alpha, a, b, x, t_x, T):
    """P(Y(t) = n | x, t_x, T): alive customers follow eq. (8) at the posterior parameters (r+x, α+T, a, b+x);
    a customer who has dropped out makes no purchase."""
    x = np.asarray(x, dtype=float)
    alive = bgnbd_probability_alive(r, alpha, a, b, x, t_x, T)
    return alive * bgnbd_pmf_new(n, t, r + x, alpha + T, a, b + x) + (1.0 - alive) * (np.asarray(n) == 0)


def bgnbd_simulate(params, T, rng: np.random.Generator):
    """Simulate (frequency, recency) for customers observed for T after their first purchase under BG/NBD.

    λ ~ Gamma(r, rate α), p ~ Beta(a, b); repeat purchases arrive as a Poisson(λ) process and after each one the
    customer drops out with probability p (FHL 2005, assumptions i-v). The number of repeat purchases until dropout
    K ~ Geometric(p) on {1, 2, ...}; x = min(K, N(T)) and, given N(T) = N, the x-th arrival time is T times a
    Beta(x, N - x + 1) order statistic.
    """
    r, alpha, a, b = params
    T = np.asarray(T, dtype=float)
    n = T.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    N = rng.poisson(lam * T)
    K = rng.geometric(p)
    x = np.minimum(K, N)
    t_x = np.zeros(n)
    pos = x > 0
    t_x[pos] = T[pos] * rng.beta(x[pos], N[pos] - x[pos] + 1)
    return x.astype(float), t_x


class BetaGeoFamily(PurchaseModelMixin, CLVModel):
    """What BG/NBD and MBG/NBD share: parameters ``r, alpha, a, b``, covariates on alpha, and starting points.

    Each model supplies its own likelihood and expectations.
    """

    _param_names = ("r", "alpha", "a", "b")
    _linked_param = "alpha"
    _coarse_columns = ("recency", "T")

    def _start_points(self, data, weights):
        return [
            np.array([1.0, 1.0, 1.0, 1.0]),
            np.array([0.5, max(float(np.average(data["T"], weights=weights)), 1e-3), 0.5, 2.0]),
            np.array([0.1, 0.1, 2.0, 5.0]),
        ]


class BetaGeoModel(BetaGeoFamily):
    """BG/NBD purchase model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

    Parameters ``r, alpha`` (gamma heterogeneity of the purchase rate) and ``a, b`` (beta heterogeneity of the dropout
    probability). With ``covariates``, ``alpha_i = alpha * exp(z_i @ coef)``: a positive coefficient lowers the
    purchase rate.
    """

    def _loglik_grad(self, params: Mapping[str, Any], data: Mapping[str, np.ndarray]):
        p = params
        ll, g = bgnbd_loglik_grad(
            p["r"], p["alpha"], p["a"], p["b"], data["frequency"], data["recency"], data["T"]
        )
        return ll, dict(zip(self._param_names, g, strict=True))

    @staticmethod
    def _alive(p, d):
        return bgnbd_probability_alive(
            p["r"], p["alpha"], p["a"], p["b"], d["frequency"], d["recency"], d["T"]
        )

    @staticmethod
    def _expected(p, d, t):
        return bgnbd_expected_purchases(
            t, p["r"], p["alpha"], p["a"], p["b"], d["frequency"], d["recency"], d["T"]
        )

    @staticmethod
    def _expected_path(p, d, times):
        x = d["frequency"]
        alive = bgnbd_probability_alive(p["r"], p["alpha"], p["a"], p["b"], x, d["recency"], d["T"])
        return alive * bgnbd_expected_path(times, p["r"] + x, p["alpha"] + d["T"], p["a"], p["b"] + x)

    @staticmethod
    def _pmf(p, d, t, n):
        return bgnbd_pmf(n, t, p["r"], p["alpha"], p["a"], p["b"], d["frequency"], d["recency"], d["T"])

    @staticmethod
    def _expected_new(p, t):
        return bgnbd_expected_new(t, p["r"], p["alpha"], p["a"], p["b"])

    @staticmethod
    def _simulate(p, T, rng):
        return bgnbd_simulate((p["r"], p["alpha"], p["a"], p["b"]), T, rng)

"""Losses of Generalized Low Rank Models, with their gradients: pure numpy functions.

Reference: M. Udell, C. Horn, R. Zadeh and S. Boyd (2016), "Generalized Low Rank Models", Foundations and Trends
in Machine Learning 9(1), section 3 (losses per data type), section 4.3 (offsets and scaling) and section 6
(multidimensional losses for categorical and ordinal data).

Every loss ``f(u, a)`` takes the model's value ``u = x_i y_j + b_j`` and the observed entry ``a`` and returns
``(L, dL/du, h)``: the loss element by element, its gradient and a curvature ``h`` (the local second derivative,
or its diagonal, floored; a constant bound for the quadratic and Huber losses) that the solver uses to scale its
steps like a Newton step, with backtracking where the local model is too optimistic. Missing entries are not handled here: the caller
drops them from the sum (paper eq. 2.2 sums over the observed set Omega only).

Conventions of the observed ``a``:

* quadratic, Huber: a real number;
* logistic: ``a`` in {-1, +1};
* Poisson: a count ``a >= 0``; ``u`` is on the log scale (log link);
* ordinal: a level in {1, ..., d};
* multinomial and one-vs-all: an integer code in {0, ..., L-1}, ``u`` has one column per level.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

# exp(u) overflows past ~709; a model value of 50 on the log scale is already e^50 counts, so clipping there only
# keeps a rejected trial step from producing inf/nan; it never binds at a sensible solution.
_MAX_LOG_RATE = 50.0
# floor of the local curvatures, so that a saturated entry (p near 0 or 1) cannot make a step unbounded
_MIN_CURVATURE = 1e-3


Result = tuple[np.ndarray, np.ndarray, np.ndarray | float]


def quadratic(u: np.ndarray, a: np.ndarray) -> Result:
    """Quadratic loss ``(u - a)^2`` (paper sec. 3.1, eq. 2.2); curvature 2."""
    r = u - a
    return r * r, 2.0 * r, 2.0


def huber(u: np.ndarray, a: np.ndarray) -> Result:
    """Huber loss ``huber(u - a)``, ``huber(z) = z^2/2`` for ``|z| <= 1`` and ``|z| - 1/2`` beyond (sec. 3.2).

    The threshold is 1 in the units of the (robustly standardised) column: entries more than about one robust
    standard deviation from the model pull on it linearly, not quadratically. Curvature bound 1.
    """
    r = u - a
    z = np.abs(r)
    return np.where(z <= 1.0, 0.5 * r * r, z - 0.5), np.clip(r, -1.0, 1.0), 1.0


def logistic(u: np.ndarray, a: np.ndarray) -> Result:
    """Logistic loss ``log(1 + exp(-a u))`` for ``a`` in {-1, +1} (sec. 3.3); local curvature ``p (1 - p)``."""
    m = -a * u
    p = expit(m)
    return np.logaddexp(0.0, m), -a * p, p * (1.0 - p) + _MIN_CURVATURE


def poisson(u: np.ndarray, a: np.ndarray) -> Result:
    """Poisson loss with log link, ``exp(u) - a u + a log a - a`` (sec. 3.5, "Poisson PCA").

    The constant ``a log a - a`` makes the minimum over ``u`` zero (at ``u = log a``), which the column scaling of
    sec. 4.3 relies on. The curvature ``exp(u)`` has no global bound: it is the local second derivative.
    """
    u = np.minimum(u, _MAX_LOG_RATE)
    rate = np.exp(u)
    return rate - a * u + xlogy(a, a) - a, rate - a, np.maximum(rate, 1e-6)


def ordinal(u: np.ndarray, a: np.ndarray, n_levels: int) -> Result:
    """Ordinal logistic loss over ``d = n_levels`` levels (sec. 3.6 and 6.1).

    The paper's ordinal hinge loss ``sum_{a' < a} (1 - u + a')_+ + sum_{a' > a} (1 + u - a')_+`` asks ``u`` to lie on
    the right side of every threshold between consecutive levels. We use its smooth counterpart (the paper's
    "bigger-vs-smaller" construction with the logistic loss, sec. 6.1): with thresholds ``t_k = k + 1/2``,
    ``L(u, a) = sum_{k < a} log(1 + exp(-(u - t_k))) + sum_{k >= a} log(1 + exp(u - t_k))``, ``k = 1..d-1``.
    It is differentiable, so the proximal gradient method needs no subgradients, and since
    ``L(u, a) - L(u, a + 1) = u - t_a``, decoding by ``argmin_a L(u, a)`` is rounding ``u`` to the nearest level.
    The curvature returned is the local second derivative (plus a small floor).
    """
    u = np.asarray(u, dtype=float)
    t = np.arange(1, n_levels, dtype=float) + 0.5
    z = u[..., None] - t
    below = t < np.asarray(a, dtype=float)[..., None]  # thresholds under the observed level: softplus(-z)
    # This loss dominated the solver's time, so one exp serves everything: with e = exp(-|z|), softplus(z) =
    # max(z, 0) + log1p(e), softplus(-z) = softplus(z) - z, the logistic function p = 1/(1+e) or e/(1+e) by
    # sign (the derivative of softplus(z); that of softplus(-z) is p - 1), and the curvature is e/(1+e)^2.
    e = np.exp(-np.abs(z))
    inv = 1.0 / (1.0 + e)
    p = np.where(z >= 0, inv, e * inv)
    softplus = np.maximum(z, 0.0) + np.log1p(e)
    n_below = below.sum(axis=-1)
    loss = softplus.sum(axis=-1) - (z * below).sum(axis=-1)
    return loss, p.sum(axis=-1) - n_below, (e * inv * inv).sum(axis=-1) + 0.01


def ordinal_decode(u: np.ndarray, n_levels: int) -> np.ndarray:
    """``argmin_a L(u, a)`` over the levels 1..d of :func:`ordinal`: ``u`` rounded and clipped (sec. 5.1)."""
    return np.clip(np.floor(np.asarray(u, dtype=float) + 0.5), 1, n_levels)


def multinomial(U: np.ndarray, a: np.ndarray) -> Result:
    """Multinomial loss ``-u_a + log sum_l exp(u_l)`` over one column per level (sec. 6.1, "multinomial loss").

    ``U`` has shape ``(n, L)``, ``a`` holds integer codes in ``0..L-1``; returns one loss per row, the gradient
    ``softmax(u) - onehot(a)`` of shape ``(n, L)`` and the diagonal ``p (1 - p)`` of the Hessian as curvature.
    """
    a = np.asarray(a, dtype=np.intp)
    rows = np.arange(len(a))
    top = U.max(axis=1, keepdims=True)
    e = np.exp(U - top)  # shifted by the row maximum so exp cannot overflow
    total = e.sum(axis=1, keepdims=True)
    loss = (top + np.log(total))[:, 0] - U[rows, a]
    P = e / total
    H = P * (1.0 - P) + _MIN_CURVATURE
    P[rows, a] -= 1.0
    return loss, P, H


def one_vs_all(U: np.ndarray, a: np.ndarray) -> Result:
    """One-vs-all loss ``sum_l log(1 + exp(-s_l u_l))``, ``s_l = +1`` if ``l == a`` else -1 (sec. 6.1)."""
    S = -np.ones(U.shape)
    S[np.arange(U.shape[0]), np.asarray(a, dtype=np.intp)] = 1.0
    M = -S * U
    P = expit(M)
    return np.logaddexp(0.0, M).sum(axis=1), -S * P, P * (1.0 - P) + _MIN_CURVATURE


#: Losses of one model value per column.
SCALAR_LOSSES = {"quadratic": quadratic, "huber": huber, "logistic": logistic, "poisson": poisson}
#: Losses over one model value per level.
BLOCK_LOSSES = {"categorical": multinomial, "one_vs_all": one_vs_all}

"""Lift scan: which conjunctions of behaviours and attributes make a target (top value band, churn, ...) likelier.

Over a customer x item incidence matrix ``X`` (sparse, boolean: "bought in category DOG FOODS", "age 35-44",
"income band 100-124K") and a boolean target ``y`` (e.g. "in the top 20 % by revenue"), every conjunction of one,
two or three items with enough support is a *pattern* ``A``. For each pattern we report

* support ``a = |A|`` (count and share of customers) and hits ``k = |A and y|``;
* ``p = P(y | A) = k / a`` and ``lift = p / P(y)`` with ``P(y) = K / n`` (``K`` targets among ``n`` customers);
* a confidence interval for the lift (delta method on log-lift, see :func:`lift_interval`);
* an exact one-sided p-value: under "A is unrelated to y", ``k`` is hypergeometric (drawing ``a`` customers from
  ``n`` of whom ``K`` are targets), which is Fisher's exact test of the 2 x 2 table pattern x target;
* Benjamini-Hochberg q-values over *all* patterns tested (every pattern that reached the minimum support).

Written by hand on scipy.sparse: association-rule libraries (mlxtend, efficient-apriori) enumerate itemsets and
report lift but neither an interval, an exact test nor FDR control, and they work from a dense one-hot frame that
does not fit a 100k-customer x 5k-item incidence. Counting here is three sparse matrix products (Apriori-style:
triples are grown only from frequent pairs, pairs only from frequent items).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from patron.errors import ConfigError, InputError

RESULT_COLUMNS: tuple[str, ...] = (
    "pattern",
    "order",
    "support",
    "support_share",
    "hits",
    "p",
    "lift",
    "lift_lower",
    "lift_upper",
    "p_value",
    "q_value",
    "improvement",
)


# --- pure numerics over arrays ----------------------------------------------------------------------------------
def hypergeometric_p_value(
    hits: np.ndarray, support: np.ndarray, n_target: int, n: int, *, alternative: str = "greater"
) -> np.ndarray:
    """Exact one-sided p-value of ``hits`` targets among ``support`` customers (Fisher's exact test).

    Under independence of pattern and target, with ``n`` customers of whom ``n_target`` are targets, the number of
    targets inside a pattern of size ``support`` is Hypergeometric(n, n_target, support) (Fisher 1922; Agresti,
    *Categorical Data Analysis*, 3rd ed., sec. 3.5.1). ``alternative="greater"`` is P(X >= hits) (the pattern
    enriches the target), ``"less"`` is P(X <= hits).
    """
    if alternative not in ("greater", "less"):
        raise ConfigError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    hits = np.asarray(hits, dtype=np.int64)
    support = np.asarray(support, dtype=np.int64)
    if alternative == "greater":
        return hypergeometric_tail(hits, support, n_target, n, upper=True)
    return hypergeometric_tail(hits, support, n_target, n, upper=False)


def hypergeometric_tail(k: np.ndarray, a: np.ndarray, K: int, n: int, *, upper: bool) -> np.ndarray:
    """P(X >= k) (``upper``) or P(X <= k) for X ~ Hypergeometric(n, K, a), vectorised over (k, a).

    Hand-written because scipy's ``hypergeom.sf`` sums every term of the tail per element (about 0.1 ms per
    pattern when supports are in the tens of thousands, i.e. seconds per scan). Here the tail on the far side of
    the mode is summed from its first term (``scipy.stats.hypergeom.logpmf``) with the pmf ratio recurrence
    pmf(x+1)/pmf(x) = (a-x)(K-x) / ((x+1)(n-a-K+x+1)), stopping once terms fall below 1e-17 of the sum; a tail that
    contains the mode is 1 minus the opposite tail. The tests check agreement with scipy to 1e-9 (relative).
    """
    k = np.asarray(k, dtype=np.int64).ravel()
    a = np.asarray(a, dtype=np.int64).ravel()
    lo = np.maximum(0, a + K - n)
    hi = np.minimum(a, K)
    mode = np.floor((a + 1.0) * (K + 1.0) / (n + 2.0))
    # Which far-side tail to sum: for P(X >= k) that is [k, hi] when k > mode, else 1 - [lo, k-1].
    if upper:
        direct = k > mode
        start = np.where(direct, k, k - 1)
    else:
        direct = k < mode
        start = np.where(direct, k, k + 1)
    going_up = direct == upper  # sum upwards from start (towards hi) or downwards (towards lo)
    empty = np.where(going_up, start > hi, start < lo)
    x = np.clip(start, lo, hi).astype(float)
    term = np.where(empty, 0.0, np.exp(stats.hypergeom.logpmf(x, n, K, a)))
    total = term.copy()
    af, Kf, nf = a.astype(float), float(K), float(n)
    active = np.flatnonzero(~empty & (term > 0))
    while active.size:
        xa, up = x[active], going_up[active]
        ratio = np.where(
            up,
            (af[active] - xa) * (Kf - xa) / ((xa + 1) * (nf - af[active] - Kf + xa + 1)),
            xa * (nf - af[active] - Kf + xa) / ((af[active] - xa + 1) * (Kf - xa + 1)),
        )
        x[active] = np.where(up, xa + 1, xa - 1)
        term[active] *= ratio
        total[active] += term[active]
        done = (term[active] <= 1e-17 * total[active]) | np.where(
            up, x[active] >= hi[active], x[active] <= lo[active]
        )
        active = active[~done]
    p = np.where(direct, total, 1.0 - total)
    return np.clip(p, 0.0, 1.0)


def lift_interval(
    hits: np.ndarray, support: np.ndarray, n_target: int, n: int, *, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wald interval for the lift ``(k/a) / (K/n)`` on the log scale (delta method).

    The lift shares data with its denominator (the ``k`` hits inside the pattern are part of the ``K`` targets), so
    the usual Katz interval for a ratio of two *independent* proportions (Katz et al. 1978, Biometrics 34:469) does
    not apply directly. Write ``K = k + m`` with ``m`` the targets outside the pattern (``b = n - a`` customers);
    given the pattern, ``k ~ Bin(a, p1)`` and ``m ~ Bin(b, p2)`` independently, and

        log L = log k - log a + log n - log(k + m)
        Var(log L) ~= (1/k - 1/K)^2 * k (1 - k/a) + (1/K)^2 * m (1 - m/b)

    (first-order Taylor expansion, plug-in p1 = k/a, p2 = m/b). Where a cell of the 2 x 2 table is zero the
    variance degenerates, so 0.5 is added to each of the four cells of that table for the interval only (the
    Haldane-Anscombe correction); the point estimate is never corrected.
    """
    k = np.asarray(hits, dtype=float)
    a = np.asarray(support, dtype=float)
    m = n_target - k
    b = n - a
    zero_cell = (k == 0) | (a - k == 0) | (m == 0) | (b - m == 0)
    # Haldane-Anscombe: +0.5 to the four cells k, a-k, m, b-m where one of them is zero.
    kc = np.where(zero_cell, k + 0.5, k)
    ac = np.where(zero_cell, a + 1.0, a)
    mc = np.where(zero_cell, m + 0.5, m)
    bc = np.where(zero_cell, b + 1.0, b)
    Kc = kc + mc
    nc = ac + bc
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (1 / kc - 1 / Kc) ** 2 * kc * (1 - kc / ac) + np.where(
            bc > 0, (1 / Kc) ** 2 * mc * (1 - mc / bc), 0.0
        )
        log_lift = np.log(kc / ac) - np.log(Kc / nc)
    z = stats.norm.ppf(0.5 + level / 2)
    half = z * np.sqrt(np.maximum(var, 0.0))
    lower = np.where(k == 0, 0.0, np.exp(log_lift - half))
    upper = np.exp(log_lift + half)
    return lower, upper


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values (q-values); uses scipy's implementation."""
    p_values = np.asarray(p_values, dtype=float)
    if p_values.size == 0:
        return p_values
    return stats.false_discovery_control(p_values, method="bh")


def min_support_count(min_support: float, n: int) -> int:
    """A minimum support given as a share (0 < s < 1) or a count (s >= 1) -> a count of customers (>= 1)."""
    if min_support <= 0:
        raise ConfigError(f"min_support must be a share in (0, 1) or a count >= 1, got {min_support!r}")
    if min_support < 1:
        return max(1, int(np.ceil(min_support * n)))
    return int(min_support)


@dataclass(frozen=True)
class Itemsets:
    """Frequent itemsets of one order: ``items`` (m x order item indices), their support and target hits."""

    items: np.ndarray
    support: np.ndarray
    hits: np.ndarray


def frequent_itemsets(X: sp.spmatrix, y: np.ndarray, min_count: int, max_order: int = 3) -> list[Itemsets]:
    """Support and target hits of every 1-, 2- and 3-item conjunction with support >= ``min_count`` (Apriori).

    Pairs are counted only among frequent items (``X_f' X_f``); triples {i < j < l} only where (i, j), (i, l) and
    (j, l) are all frequent pairs (Agrawal & Srikant 1994: every subset of a frequent itemset is frequent), by one
    sparse product per first item i over the customers who have i.
    """
    if max_order not in (1, 2, 3):
        raise ConfigError(f"max_order must be 1, 2 or 3, got {max_order!r}")
    X = sp.csc_matrix(X, dtype=np.float64)
    X.data[:] = 1.0  # incidence: several rows of the same customer and item count once
    y = np.asarray(y, dtype=bool)
    Xt = X[y]  # the target customers' rows

    support1 = np.asarray(X.sum(axis=0)).ravel()
    hits1 = np.asarray(Xt.sum(axis=0)).ravel()
    keep = np.flatnonzero(support1 >= min_count)
    out = [Itemsets(keep[:, None], support1[keep].astype(np.int64), hits1[keep].astype(np.int64))]
    if max_order == 1 or keep.size < 2:
        return out

    Xf, Xft = X[:, keep], Xt[:, keep]
    support2 = (Xf.T @ Xf).toarray()
    hits2 = (Xft.T @ Xft).toarray()
    frequent2 = np.triu(support2 >= min_count, k=1)
    i2, j2 = np.nonzero(frequent2)
    out.append(
        Itemsets(
            np.column_stack([keep[i2], keep[j2]]),
            support2[i2, j2].astype(np.int64),
            hits2[i2, j2].astype(np.int64),
        )
    )
    if max_order == 2 or i2.size == 0:
        return out

    # Triples {i < j < l}: for each first item i, the customers who have it (rows of Xf) restricted to the
    # columns j > i that form a frequent pair with i; S' S then counts every (j, l) among them. The work is
    # proportional to the triples that occur in the data, and a pair that failed support is never extended.
    rows_csr = sp.csr_matrix(Xf)
    triples, support3, hits3 = [], [], []
    for i in range(keep.size):
        partners = np.flatnonzero(frequent2[i])
        if partners.size < 2:
            continue
        members = Xf.indices[Xf.indptr[i] : Xf.indptr[i + 1]]
        sub = rows_csr[members][:, partners]
        counts = (sub.T @ sub).toarray()
        ok = np.triu(counts >= min_count, k=1) & frequent2[np.ix_(partners, partners)]
        a, b = np.nonzero(ok)
        if a.size == 0:
            continue
        target_rows = sub[y[members]]
        hit_counts = (target_rows.T @ target_rows).toarray()
        triples.append(np.column_stack([np.full(a.size, i), partners[a], partners[b]]))
        support3.append(counts[a, b])
        hits3.append(hit_counts[a, b])
    if triples:
        idx = np.concatenate(triples)
        out.append(
            Itemsets(
                keep[idx],
                np.concatenate(support3).astype(np.int64),
                np.concatenate(hits3).astype(np.int64),
            )
        )
    else:
        out.append(Itemsets(np.zeros((0, 3), dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)))
    return out


def pattern_improvement(
    items: Sequence[tuple[str, ...]], p: np.ndarray, base: float, *, alternative: str = "greater"
) -> np.ndarray:
    """How far P(target | A) goes beyond the base rate and every generalisation of A (its proper subsets).

    ``improvement = p(A) - max(base, p(B) for B a proper subset of A)`` (for ``alternative="less"``,
    ``min(...) - p(A)``). A pattern with improvement <= 0 adds nothing to a shorter pattern it contains (Webb 2007,
    "Discovering significant patterns", Machine Learning 68:1-33: *productive* rules), so
    ``"having": {"improvement": {"$gt": 0}}`` keeps only patterns that are more than the sum of their parts.
    Every subset of a tested pattern was tested too (Apriori), so all the p's needed are at hand.
    """
    p_of = dict(zip(items, p, strict=True))
    out = np.empty(len(items))
    pick = max if alternative == "greater" else min
    for idx, pattern in enumerate(items):
        reference = pick(
            [base, *(p_of[sub] for r in range(1, len(pattern)) for sub in combinations(pattern, r))]
        )
        out[idx] = p[idx] - reference if alternative == "greater" else reference - p[idx]
    return out


def lift_scan(
    X: sp.spmatrix | np.ndarray,
    y: np.ndarray,
    item_names: Sequence[str],
    *,
    max_order: int = 3,
    min_support: float = 0.01,
    level: float = 0.95,
    alternative: str = "greater",
) -> pd.DataFrame:
    """Scan every 1-, 2- and 3-way conjunction of items for lift on the target.

    Parameters
    ----------
    X : (n_customers, n_items) sparse or dense matrix; non-zero means the customer has the item.
    y : (n_customers,) boolean target.
    item_names : one label per column of ``X`` (e.g. ``"category=DOG FOODS"``).
    max_order : largest conjunction scanned (1, 2 or 3).
    min_support : a share of customers (0 < s < 1) or a count (>= 1); patterns below it are not tested.
    level : confidence level of the lift interval.
    alternative : ``"greater"`` tests enrichment (lift > 1), ``"less"`` depletion.

    Returns
    -------
    DataFrame with one row per tested pattern and columns :data:`RESULT_COLUMNS` plus ``items`` (tuple of item
    names), sorted by lift (descending) then p-value. ``q_value`` is Benjamini-Hochberg over all rows.
    """
    X = sp.csc_matrix(X)
    y = np.asarray(y).astype(bool).ravel()
    n = X.shape[0]
    if y.shape[0] != n:
        raise InputError(f"the target has {y.shape[0]:,} entries but the incidence has {n:,} customers")
    if len(item_names) != X.shape[1]:
        raise InputError(f"{len(item_names):,} item names given for {X.shape[1]:,} incidence columns")
    if n == 0:
        raise InputError("no customers to scan (the query selected no rows)")
    n_target = int(y.sum())
    if n_target == 0 or n_target == n:
        raise InputError(
            f"the target holds for {n_target:,} of {n:,} customers; a lift scan needs both targets and non-targets"
        )
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level!r}")

    sets = frequent_itemsets(X, y, min_support_count(min_support, n), max_order)
    names = np.asarray(item_names, dtype=object)
    items = [tuple(names[row]) for s in sets for row in s.items]
    support = np.concatenate([s.support for s in sets])
    hits = np.concatenate([s.hits for s in sets])
    order = np.concatenate([np.full(s.support.size, s.items.shape[1]) for s in sets])

    base = n_target / n
    p = hits / support
    lift = p / base
    lower, upper = lift_interval(hits, support, n_target, n, level=level)
    p_value = hypergeometric_p_value(hits, support, n_target, n, alternative=alternative)
    improvement = pattern_improvement(items, p, base, alternative=alternative)
    frame = pd.DataFrame(
        {
            "pattern": [" AND ".join(i) for i in items],
            "items": items,
            "order": order.astype(np.int64),
            "support": support,
            "support_share": support / n,
            "hits": hits,
            "p": p,
            "lift": lift,
            "lift_lower": lower,
            "lift_upper": upper,
            "p_value": p_value,
            "q_value": benjamini_hochberg(p_value),
            "improvement": improvement,
        }
    )
    ascending_lift = alternative == "less"
    frame = frame.sort_values(["lift", "p_value", "pattern"], ascending=[ascending_lift, True, True])
    frame.attrs.update(n_customers=n, n_target=n_target, base_rate=base, n_tested=len(frame))
    return frame.reset_index(drop=True)


class LiftScan:
    """Estimator wrapper of :func:`lift_scan` (scikit-learn style: hyperparameters in ``__init__``).

    ``fit(X, y)`` takes a customer x item matrix (a DataFrame's column names become the item names) and a boolean
    target; the tested patterns land in ``patterns_`` with ``base_rate_`` and ``n_tested_``.
    """

    def __init__(
        self,
        *,
        max_order: int = 3,
        min_support: float = 0.01,
        level: float = 0.95,
        alternative: str = "greater",
    ) -> None:
        self.max_order = max_order
        self.min_support = min_support
        self.level = level
        self.alternative = alternative

    def get_params(self, deep: bool = True) -> dict[str, object]:
        return {
            "max_order": self.max_order,
            "min_support": self.min_support,
            "level": self.level,
            "alternative": self.alternative,
        }

    def set_params(self, **params: object) -> LiftScan:
        for key, value in params.items():
            if key not in self.get_params():
                raise ConfigError(f"LiftScan has no parameter {key!r}; valid: {sorted(self.get_params())}")
            setattr(self, key, value)
        return self

    def fit(self, X: pd.DataFrame | sp.spmatrix | np.ndarray, y: np.ndarray, item_names=None) -> LiftScan:
        if item_names is None:
            if not isinstance(X, pd.DataFrame):
                raise InputError("pass item_names when X is not a DataFrame with named columns")
            item_names = [str(c) for c in X.columns]
        matrix = sp.csc_matrix(X.to_numpy(dtype=float)) if isinstance(X, pd.DataFrame) else X
        self.patterns_ = lift_scan(
            matrix,
            np.asarray(y),
            item_names,
            max_order=self.max_order,
            min_support=self.min_support,
            level=self.level,
            alternative=self.alternative,
        )
        self.base_rate_ = self.patterns_.attrs["base_rate"]
        self.n_tested_ = self.patterns_.attrs["n_tested"]
        return self


def incidence_from_pairs(
    customer_ids: Sequence[object], item_labels: Sequence[str], universe: Sequence[object] | None = None
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
    """Long (customer, item) pairs -> (sparse incidence, customer ids in row order, item labels in column order).

    ``universe`` fixes the rows (customers with no item get an empty row); pairs of customers outside it are an
    error, not silently dropped.
    """
    cust = pd.Index(pd.unique(np.asarray(customer_ids, dtype=object)) if universe is None else universe)
    if not cust.is_unique:
        raise InputError("the customer universe has duplicate ids")
    items_codes, items = pd.factorize(np.asarray(item_labels, dtype=object), sort=True)
    rows = cust.get_indexer(np.asarray(customer_ids, dtype=object))
    if (rows < 0).any():
        missing = np.asarray(customer_ids, dtype=object)[rows < 0]
        raise InputError(
            f"{int((rows < 0).sum()):,} item rows belong to customers outside the universe "
            f"(first: {missing[0]!r})"
        )
    data = np.ones(rows.size, dtype=np.float64)
    X = sp.csc_matrix((data, (rows, items_codes)), shape=(len(cust), len(items)))
    X.sum_duplicates()
    X.data[:] = 1.0
    return X, np.asarray(cust, dtype=object), np.asarray(items, dtype=object)

"""Lift scan: exact agreement with independent pandas counts, planted patterns, FDR under noise."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from patron.errors import ConfigError, InputError
from patron.models.segmentation.relate import (
    LiftScan,
    hypergeometric_p_value,
    incidence_from_pairs,
    lift_interval,
    lift_scan,
)


def _random_incidence(seed: int, n: int = 600, m: int = 8, density: float = 0.3):
    rng = np.random.default_rng(seed)
    X = rng.random((n, m)) < rng.uniform(0.1, density + 0.3, size=m)
    y = rng.random(n) < 0.25
    return X, y, [f"item{i}" for i in range(m)]


def _pandas_counts(X: np.ndarray, y: np.ndarray, names: list[str], min_count: int) -> pd.DataFrame:
    """Every conjunction counted the slow, obvious way, with a pandas frame of booleans."""
    frame = pd.DataFrame(X, columns=names)
    rows = []
    for order in (1, 2, 3):
        for combo in combinations(names, order):
            mask = frame[list(combo)].all(axis=1)
            support = int(mask.sum())
            if support < min_count:
                continue
            hits = int((mask & y).sum())
            rows.append({"pattern": " AND ".join(combo), "support": support, "hits": hits})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_lift_and_p_match_pandas_exactly(seed: int) -> None:
    X, y, names = _random_incidence(seed)
    got = lift_scan(sp.csc_matrix(X), y, names, min_support=20).set_index("pattern")
    want = _pandas_counts(X, y, names, 20).set_index("pattern")
    assert set(got.index) == set(want.index)
    got = got.loc[want.index]
    base = y.sum() / len(y)
    assert (got["support"] == want["support"]).all()
    assert (got["hits"] == want["hits"]).all()
    p = want["hits"] / want["support"]
    assert (got["p"] == p).all()
    assert (got["lift"] == p / base).all()
    assert (got["support_share"] == want["support"] / len(y)).all()
    # p-value: Fisher's exact test (one-sided) of the 2x2 table pattern x target, computed by scipy per row.
    for pattern, row in got.sample(15, random_state=seed).iterrows():
        a, k, K, n = row["support"], row["hits"], int(y.sum()), len(y)
        table = [[k, a - k], [K - k, n - a - (K - k)]]
        assert row["p_value"] == pytest.approx(
            stats.fisher_exact(table, alternative="greater").pvalue, rel=1e-9, abs=1e-300
        ), pattern
    # q-values: Benjamini-Hochberg over all tested rows.
    pv = got["p_value"].to_numpy()
    order = np.argsort(pv)
    ranked = pv[order] * len(pv) / np.arange(1, len(pv) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    np.testing.assert_allclose(got["q_value"].to_numpy()[order], q, rtol=1e-12)


def test_apriori_pruning_never_scans_a_triple_with_an_infrequent_pair() -> None:
    X, y, names = _random_incidence(5, n=400)
    result = lift_scan(X, y, names, min_support=40)
    frequent_pairs = {frozenset(p.split(" AND ")) for p in result.loc[result["order"] == 2, "pattern"]}
    for pattern in result.loc[result["order"] == 3, "pattern"]:
        items = pattern.split(" AND ")
        assert all(frozenset(pair) in frequent_pairs for pair in combinations(items, 2))
    assert (result["support"] >= 40).all()


def test_planted_two_way_pattern_is_found_at_the_top() -> None:
    rng = np.random.default_rng(11)
    n, m = 5000, 20
    X = rng.random((n, m)) < 0.2
    planted = X[:, 3] & X[:, 7]
    y = np.where(planted, rng.random(n) < 0.6, rng.random(n) < 0.1)
    names = [f"cat{i}" for i in range(m)]
    result = lift_scan(X, y, names, min_support=0.02, max_order=2)
    top = result.iloc[0]
    assert top["pattern"] == "cat3 AND cat7"
    assert top["q_value"] < 1e-10
    assert top["lift_lower"] < top["lift"] < top["lift_upper"]
    # roughly 0.6 / base
    assert top["lift"] == pytest.approx(0.6 / y.mean(), rel=0.15)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_pure_noise_yields_no_significant_pattern(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 2000, 15
    X = rng.random((n, m)) < rng.uniform(0.1, 0.5, size=m)
    y = rng.random(n) < 0.2
    result = lift_scan(X, y, [f"x{i}" for i in range(m)], min_support=0.01)
    assert result.attrs["n_tested"] > 300  # singles, pairs and triples were scanned
    assert (result["q_value"] >= 0.05).all()


def test_lift_interval_covers_the_true_lift_about_95_percent() -> None:
    # Simulate the two independent binomials of the derivation and check coverage of the true lift.
    rng = np.random.default_rng(3)
    a, b, p1, p2 = 300, 2700, 0.3, 0.1
    true_lift = p1 / ((a * p1 + b * p2) / (a + b))
    k = rng.binomial(a, p1, size=20000)
    m = rng.binomial(b, p2, size=20000)
    lower, upper = np.empty(k.size), np.empty(k.size)
    for K in np.unique(k + m):  # n_target varies per replicate: group by it to stay vectorised
        idx = np.flatnonzero(k + m == K)
        lower[idx], upper[idx] = lift_interval(k[idx], np.full(idx.size, a), int(K), a + b)
    coverage = np.mean((lower <= true_lift) & (true_lift <= upper))
    assert 0.935 <= coverage <= 0.965


def test_zero_hits_gives_zero_lift_and_finite_interval() -> None:
    lower, upper = lift_interval(np.array([0]), np.array([50]), 100, 1000)
    assert lower[0] == 0 and np.isfinite(upper[0]) and upper[0] > 0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(10, 200),
    n_target=st.integers(1, 9),
    support=st.integers(1, 10),
    hits=st.integers(0, 10),
)
def test_p_value_is_a_probability_and_decreases_with_hits(n, n_target, support, hits) -> None:
    hits = min(hits, support, n_target)
    p = hypergeometric_p_value(np.array([hits, hits + 1]), np.array([support, support]), n_target, n)
    assert ((0 <= p) & (p <= 1)).all()
    assert p[1] <= p[0]


def test_row_order_does_not_change_results() -> None:
    X, y, names = _random_incidence(9)
    perm = np.random.default_rng(0).permutation(len(y))
    a = lift_scan(X, y, names, min_support=20)
    b = lift_scan(X[perm], y[perm], names, min_support=20)
    pd.testing.assert_frame_equal(a, b)


def test_estimator_wrapper_uses_column_names() -> None:
    X, y, names = _random_incidence(4)
    scan = LiftScan(max_order=2, min_support=30).fit(pd.DataFrame(X, columns=names), y)
    assert scan.patterns_["order"].max() == 2
    assert scan.base_rate_ == pytest.approx(y.mean())
    with pytest.raises(ConfigError, match="no parameter 'depth'"):
        scan.set_params(depth=3)


def test_bad_input_is_named() -> None:
    X, y, names = _random_incidence(4)
    with pytest.raises(InputError, match="target holds for 0 of 600"):
        lift_scan(X, np.zeros(600, bool), names)
    with pytest.raises(InputError, match="7 item names given for 8"):
        lift_scan(X, y, names[:7])
    with pytest.raises(ConfigError, match="max_order must be 1, 2 or 3"):
        lift_scan(X, y, names, max_order=4)
    with pytest.raises(ConfigError, match="min_support must be"):
        lift_scan(X, y, names, min_support=0)


def test_incidence_from_pairs_counts_each_item_once() -> None:
    X, cust, items = incidence_from_pairs(["a", "a", "b"], ["x", "x", "y"], universe=["a", "b", "c"])
    assert X.toarray().tolist() == [[1, 0], [0, 1], [0, 0]]
    assert list(items) == ["x", "y"]
    assert list(cust) == ["a", "b", "c"]
    with pytest.raises(InputError, match="outside the universe"):
        incidence_from_pairs(["z"], ["x"], universe=["a"])


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(2, 60000),
    target_share=st.floats(0.001, 0.999),
    support_share=st.floats(0.0, 1.0),
    hits_share=st.floats(0.0, 1.0),
)
def test_hypergeometric_tail_matches_scipy(n, target_share, support_share, hits_share) -> None:
    K = max(1, min(n - 1, round(target_share * n)))
    a = max(1, round(support_share * n))
    lo, hi = max(0, a + K - n), min(a, K)
    k = lo + round(hits_share * (hi - lo))
    got_sf = hypergeometric_p_value(np.array([k]), np.array([a]), K, n)[0]
    got_cdf = hypergeometric_p_value(np.array([k]), np.array([a]), K, n, alternative="less")[0]
    want_sf = stats.hypergeom.sf(k - 1, n, K, a)
    want_cdf = stats.hypergeom.cdf(k, n, K, a)
    assert got_sf == pytest.approx(want_sf, rel=1e-9, abs=1e-14)
    assert got_cdf == pytest.approx(want_cdf, rel=1e-9, abs=1e-14)


def test_improvement_compares_with_every_subset() -> None:
    X, y, names = _random_incidence(6)
    result = lift_scan(X, y, names, min_support=20).set_index("pattern")
    base = y.mean()
    for pattern, row in result.sample(40, random_state=0).iterrows():
        parts = pattern.split(" AND ")
        subsets = [" AND ".join(c) for r in range(1, len(parts)) for c in combinations(parts, r)]
        reference = max([base, *(result.loc[s, "p"] for s in subsets)])
        assert row["improvement"] == pytest.approx(row["p"] - reference, abs=1e-15)


def test_planted_pair_is_productive_but_its_supersets_are_not_all() -> None:
    rng = np.random.default_rng(11)
    n, m = 5000, 12
    X = rng.random((n, m)) < 0.3
    y = np.where(X[:, 3] & X[:, 7], rng.random(n) < 0.6, rng.random(n) < 0.1)
    result = lift_scan(X, y, [f"c{i:02d}" for i in range(m)], min_support=0.01)
    productive = result[(result["improvement"] > 0) & (result["q_value"] < 0.05)]
    assert productive.sort_values("p_value")["pattern"].iloc[0] == "c03 AND c07"
    pair = result.set_index("pattern").loc["c03 AND c07"]
    assert pair["improvement"] > 0.3  # 0.6 planted vs about 0.25 for c03 or c07 alone
    # a third item adds only noise: improvements of the supersets are small next to the pair's
    supersets = result[result["pattern"].str.contains("c03 AND .*c07") & (result["order"] == 3)]
    assert len(supersets) == m - 2
    assert supersets["improvement"].abs().max() < 0.1 and (supersets["improvement"] < 0).any()

"""HDBSCAN and K-Means segmenters: planted structure, row order, assignment, stability and label alignment."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from patron.models.segmentation.clustering import align_by_members, canonical_order, robust_scale_params
from patron.models.segmentation.hdbscan import HDBSCANSegmenter
from patron.models.segmentation.kmeans import KMeansSegmenter


def planted_customers(n_per: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four customer types in (recency, tenure, log frequency, log spend, share A, share B), one skewed column.

    lapsed one-timers, loyal big spenders, new customers, category-A specialists; spend is lognormal so
    robust scaling matters.
    """
    rng = np.random.default_rng(seed)
    means = np.array(
        [
            [300, 320, 0.2, 3.0, 0.1, 0.1],
            [10, 340, 3.0, 7.0, 0.3, 0.3],
            [15, 30, 0.5, 4.0, 0.2, 0.2],
            [120, 200, 1.5, 5.0, 0.9, 0.0],
        ]
    )
    sd = np.array([12, 12, 0.15, 0.25, 0.03, 0.03])
    X = np.vstack([rng.normal(m, sd, size=(n_per, 6)) for m in means])
    y = np.repeat(np.arange(4), n_per)
    return X, y


@pytest.mark.parametrize(
    "model", [HDBSCANSegmenter(min_cluster_size=50), KMeansSegmenter()], ids=["hdbscan", "kmeans"]
)
def test_planted_segments_recovered(model) -> None:
    X, y = planted_customers()
    model.fit(X)
    assert adjusted_rand_score(y, model.labels_) >= 0.9
    assert model.n_clusters_ == 4
    assert model.stability_ >= 0.9 and len(model.stability_runs_) == model.stability_runs
    # predicting the training customers again gives their labels back, with a strength in [0, 1]
    labels, strength = model.predict_with_strength(X)
    assert (labels == model.labels_).mean() >= 0.99
    assert ((strength >= 0) & (strength <= 1)).all()
    # canonical numbering: segment 0 is the largest
    assert model.sizes_[0] == model.sizes_.max()


@pytest.mark.parametrize("cls", [HDBSCANSegmenter, KMeansSegmenter])
def test_assignment_invariant_to_row_order(cls) -> None:
    X, _ = planted_customers(n_per=150, seed=4)
    perm = np.random.default_rng(1).permutation(len(X))
    a = cls(stability_runs=0).fit(X)
    b = cls(stability_runs=0).fit(X[perm])
    np.testing.assert_array_equal(a.labels_[perm], b.labels_)
    new = planted_customers(n_per=20, seed=9)[0]
    np.testing.assert_array_equal(a.predict(new), b.predict(new))


def test_hdbscan_noise_and_new_customer_strength() -> None:
    X, y = planted_customers(seed=2)
    model = HDBSCANSegmenter(min_cluster_size=50, stability_runs=0).fit(X)
    far = np.array([[5000, 5000, 50, 50, 5, 5]], dtype=float)
    centre = X[y == 1].mean(axis=0, keepdims=True)
    edge = centre + np.array([[36, 36, 0.45, 0.75, 0.09, 0.09]])  # 3 sd out on every axis
    labels, strength = model.predict_with_strength(np.vstack([far, centre, edge]))
    assert labels[0] == -1 and strength[0] == 0
    member = model.labels_[y == 1][0]
    assert labels[1] == member and strength[1] > 0.5
    assert strength[2] < strength[1]
    # a pickled model (as stored with a run) predicts the same
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X[:50]), model.predict(X[:50]))


def test_kmeans_chooses_k_by_silhouette_and_respects_given_k() -> None:
    X, _ = planted_customers(n_per=100)
    auto = KMeansSegmenter(stability_runs=0).fit(X)
    assert auto.k_ == 4 and max(auto.silhouettes_, key=auto.silhouettes_.get) == 4
    assert KMeansSegmenter(n_clusters=6, stability_runs=0).fit(X).n_clusters_ == 6


@pytest.mark.parametrize("cls", [HDBSCANSegmenter, KMeansSegmenter])
def test_refit_is_aligned_so_segment_numbers_keep_their_meaning(cls) -> None:
    X, _ = planted_customers(seed=5)
    first = cls(stability_runs=0).fit(X)
    # a refit on other customers from the same population, in another order, with a different first numbering
    X2, _ = planted_customers(seed=6)
    perm = np.random.default_rng(2).permutation(len(X2))
    second = cls(stability_runs=0).fit(X2[perm][: len(X2) - 300])  # one type is now smaller: order changes
    for align in (lambda m: m.align_to(first), lambda m: m.align_to(first, X)):
        align(second)
        got = second.predict(X)
        both = (got >= 0) & (first.labels_ >= 0)  # HDBSCAN may call a few edge customers noise in one fit
        assert both.mean() > 0.97 and (got[both] == first.labels_[both]).all()
    assert sorted(second.cluster_ids_.tolist()) == sorted(first.cluster_ids_.tolist())


def test_alignment_gives_fresh_numbers_to_new_clusters() -> None:
    ref = np.array([0, 0, 1, 1, -1])
    new = np.array([1, 1, 0, 0, 2])
    assert align_by_members(new, ref) == {1: 0, 0: 1, 2: 2}


def test_robust_scale_and_canonical_order() -> None:
    X = np.column_stack([np.arange(100.0), np.r_[np.zeros(99), 1.0]])
    center, scale = robust_scale_params(X)
    assert center[0] == pytest.approx(49.5) and scale[0] == pytest.approx(49.5)
    assert scale[1] == pytest.approx(X[:, 1].std())  # IQR 0: falls back to the standard deviation
    labels = np.array([5, 5, 2, 2, 2, -1])
    mapping = canonical_order(labels, np.zeros((6, 1)))
    assert mapping[2] == 0 and mapping[5] == 1


def test_hdbscan_sample_fit_recovers_planted_segments_whatever_the_row_order() -> None:
    """Above ``max_fit_samples`` HDBSCAN fits a hashed sample and assigns the rest: same segments, order-free."""
    X, y = planted_customers(n_per=600, seed=3)
    exact = HDBSCANSegmenter(min_cluster_size=100, stability_runs=0, max_fit_samples=None).fit(X)
    sampled = HDBSCANSegmenter(min_cluster_size=100, stability_runs=2, max_fit_samples=600).fit(X)
    assert exact.n_fit_samples_ == len(X) and sampled.n_fit_samples_ == 600
    assert sampled.min_cluster_size_ == 100  # reported at the full table's scale
    assert adjusted_rand_score(y, sampled.labels_) >= 0.9
    assert adjusted_rand_score(exact.labels_, sampled.labels_) >= 0.9
    assert sampled.stability_ >= 0.9
    # the customers outside the sample got exactly what assigning them as new customers gives (the sampled
    # ones keep HDBSCAN's own membership strength, which re-assignment only approximates)
    labels, strength = sampled.predict_with_strength(X)
    assert (labels == sampled.labels_).mean() >= 0.99
    assert (strength == sampled.strengths_).sum() >= len(X) - 600
    perm = np.random.default_rng(7).permutation(len(X))
    again = HDBSCANSegmenter(min_cluster_size=100, stability_runs=0, max_fit_samples=600).fit(X[perm])
    np.testing.assert_array_equal(sampled.labels_[perm], again.labels_)
    # a small min_cluster_size enlarges the sample so the smallest segment keeps 25 expected members in it
    assert (
        HDBSCANSegmenter(min_cluster_size=20, stability_runs=0, max_fit_samples=600).fit(X).n_fit_samples_
        == 2400
    )
    with pytest.raises(ValueError, match="max_fit_samples"):
        HDBSCANSegmenter(max_fit_samples=1).fit(X)

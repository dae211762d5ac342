"""HDBSCAN segments (Campello, Moulavi & Sander 2013; McInnes, Healy & Astels 2017), the default segmenter.

No number of segments to choose, clusters of any shape, and a noise label (-1) for customers who fit no segment.
The engine is ``fast_hdbscan`` (McInnes' numba implementation with a parallel Borůvka minimum spanning tree),
measured about 15x faster than scikit-learn's ``HDBSCAN`` at 100k x 6 (see ``benchmarks/bench_segment.py``).

Assigning new customers (``predict_with_strength``). ``fast_hdbscan`` has no ``approximate_predict``, so we do
what ``hdbscan.prediction.approximate_predict`` does (McInnes et al., the hdbscan docs "Predicting clusters for
new points"), simplified to what the fit keeps:

1. the new point's core distance ``core(x)`` = distance to its ``min_samples - 1``-th nearest training point
   (the fit's definition, where a training point counts itself as its first neighbour);
2. among its ``min_samples`` nearest training points ``j`` it joins the one with the smallest mutual
   reachability distance ``mr = max(core(x), core(j), d(x, j))``: the edge by which it would enter the minimum
   spanning tree;
3. it takes ``j``'s label, and is noise if ``j`` is noise or if ``mr`` exceeds the largest core distance of
   ``j``'s cluster (it would join the tree only after every member had: below the cluster's density floor);
4. strength = ``strength(j) * core(j) / mr``: in HDBSCAN a member's strength is its exit lambda (1/distance)
   over the cluster's maximum lambda; ``x`` cannot outlast ``j`` and enters at lambda ``1/mr``, and ``j``'s exit
   lambda is at most ``1/core(j)``, so the ratio scales ``j``'s strength down by how much further out ``x`` is.

A training customer predicted again gets its own label back whenever its nearest mutual-reachability neighbour
is in its own cluster (the test suite checks agreement on planted data).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from patron.models.segmentation.clustering import NOISE, ScaledSegmenter


class HDBSCANSegmenter(ScaledSegmenter):
    """HDBSCAN on robust-scaled features, with assignment of new customers and a stability score.

    Parameters
    ----------
    min_cluster_size : int or None
        Smallest segment; ``None`` = 1 % of the customers, at least 15 (segments smaller than that are rarely
        actionable).
    min_samples : int or None
        Neighbours in the core distance (smoothing); ``None`` = ``min(min_cluster_size, 10)``.
    scale : bool
        Robust-scale the features first (median / IQR).
    stability_runs : int
        Refits on 80 % subsamples for ``stability_`` (0 disables it; ``stability_`` is then NaN).
    random_state : int or None
        Seed of the stability subsamples.
    """

    def __init__(
        self,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        *,
        scale: bool = True,
        stability_runs: int = 3,
        random_state: int | None = 0,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.scale = scale
        self.stability_runs = stability_runs
        self.random_state = random_state

    def _sizes(self, n: int) -> tuple[int, int]:
        mcs = self.min_cluster_size if self.min_cluster_size is not None else max(15, n // 100)
        if int(mcs) < 2:
            raise ValueError(f"min_cluster_size must be at least 2, got {mcs}")
        ms = self.min_samples if self.min_samples is not None else min(int(mcs), 10)
        return int(min(mcs, n)), int(max(1, min(ms, n - 1)))

    def _engine(self, Z: np.ndarray, mcs: int, ms: int) -> Any:
        from fast_hdbscan import HDBSCAN  # imported lazily: numba compiles on first import

        # the numba kernels take C-ordered float arrays only
        return HDBSCAN(min_cluster_size=max(2, mcs), min_samples=ms).fit(
            np.ascontiguousarray(Z, dtype=np.float64)
        )

    def fit(self, X: object, y: object = None) -> HDBSCANSegmenter:
        Z = self._fit_prepare(X)
        mcs, ms = self._sizes(len(Z))
        self.min_cluster_size_, self.min_samples_ = mcs, ms
        engine = self._engine(Z, mcs, ms)
        raw = np.asarray(engine.labels_, dtype=np.int64)
        self._finalize(Z, raw, np.asarray(engine.probabilities_, dtype=float))
        self._train = Z
        self._core = np.asarray(engine._core_distances, dtype=float).ravel()
        if self._core.size != len(Z):  # defensive: recompute with the fit's definition
            self._core = _core_distances(cKDTree(Z), Z, ms)
        self._cluster_reach = np.array(
            [self._core[self._canonical_labels == c].max() for c in range(self.n_clusters_)]
        )
        self._tree = cKDTree(Z)
        self._stability(Z)
        return self

    def _predict_engine(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _assign(
            self._tree,
            self._core,
            self._canonical_labels,
            self.strengths_,
            self._cluster_reach,
            Z,
            self.min_samples_,
        )

    def _refit_predict(self, Z_sub: np.ndarray, Z_eval: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # The subsample is thinner, so the smallest segment shrinks with it (same share of customers).
        share = len(Z_sub) / len(self._canonical_labels)
        mcs = max(2, round(self.min_cluster_size_ * share))
        ms = max(1, min(self.min_samples_, mcs))
        engine = self._engine(Z_sub, mcs, ms)
        labels = np.asarray(engine.labels_, dtype=np.int64)
        core = np.asarray(engine._core_distances, dtype=float).ravel()
        k = int(labels.max()) + 1 if (labels >= 0).any() else 0
        reach = np.array([core[labels == c].max() for c in range(k)])
        got, _ = _assign(cKDTree(Z_sub), core, labels, np.asarray(engine.probabilities_), reach, Z_eval, ms)
        return got

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_tree", None)  # rebuilt when loaded: cheaper to store than the tree itself
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_train" in state:
            self._tree = cKDTree(self._train)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _core_distances(tree: cKDTree, Z: np.ndarray, min_samples: int) -> np.ndarray:
    """Distance of each training point to its ``min_samples``-th neighbour, itself included (HDBSCAN's core)."""
    d, _ = tree.query(Z, k=max(1, min_samples))
    return d.reshape(len(Z), -1)[:, -1]


def _assign(
    tree: cKDTree,
    core: np.ndarray,
    labels: np.ndarray,
    strengths: np.ndarray,
    cluster_reach: np.ndarray,
    Z: np.ndarray,
    min_samples: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Label and strength of new points by their nearest mutual-reachability neighbour (module docstring)."""
    n_train = tree.n
    k = int(max(1, min(min_samples, n_train)))
    dist, idx = tree.query(Z, k=k)
    dist = dist.reshape(len(Z), k)
    idx = idx.reshape(len(Z), k)
    # core(x): the (min_samples - 1)-th other point; a training point's own core counts itself at distance 0
    core_x = dist[:, max(0, min(min_samples - 2, k - 1))] if min_samples > 1 else np.zeros(len(Z))
    mr = np.maximum(np.maximum(core_x[:, None], core[idx]), dist)
    best = np.argmin(
        mr, axis=1
    )  # first minimum: neighbours come sorted by distance, so ties are deterministic
    rows = np.arange(len(Z))
    j = idx[rows, best]
    m = mr[rows, best]
    label = labels[j].astype(np.int64)
    ok = label >= 0
    reach = np.full(len(Z), np.inf)
    reach[ok] = cluster_reach[label[ok]]
    noise = ~ok | (m > reach * (1 + 1e-9))
    label[noise] = NOISE
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(m > 0, core[j] / m, 1.0)
    strength = np.where(noise, 0.0, strengths[j] * np.clip(ratio, 0.0, 1.0))
    return label, strength

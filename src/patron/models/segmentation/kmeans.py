"""K-Means segments (Lloyd 1982, k-means++ seeding of Arthur & Vassilvitskii 2007) with k chosen by silhouette.

When ``n_clusters`` is not given, k is the value in ``k_range`` with the highest mean silhouette width
(Rousseeuw 1987) on a fixed random sample of at most 5,000 customers (silhouette is quadratic in the sample).

Membership strength of a customer: ``1 - d1 / d2`` with ``d1``, ``d2`` the distances to the nearest and second
nearest centroid: 1 at a centroid, 0 on the boundary between two segments (a margin, like the silhouette's).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from patron.models.segmentation.clustering import ScaledSegmenter, margin_from_distances


class KMeansSegmenter(ScaledSegmenter):
    """K-Means on robust-scaled features, k by silhouette when not given, with a stability score.

    Parameters
    ----------
    n_clusters : int or None
        Number of segments; ``None`` = best silhouette over ``k_range``.
    k_range : tuple of int
        Inclusive range of k tried when ``n_clusters`` is None (capped at n_samples - 1).
    n_init : int
        K-Means restarts per fit (the best inertia wins).
    scale : bool
        Robust-scale the features first (median / IQR).
    stability_runs : int
        Refits on 80 % subsamples with new seeds for ``stability_`` (0 disables it).
    random_state : int or None
        Seed of K-Means and of the samples.
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        *,
        k_range: tuple[int, int] = (2, 8),
        n_init: int = 4,
        scale: bool = True,
        stability_runs: int = 3,
        random_state: int | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.n_init = n_init
        self.scale = scale
        self.stability_runs = stability_runs
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> KMeansSegmenter:
        Z = self._fit_prepare(X)
        # Below ~50k rows OpenMP start-up costs more than it saves (100x slower on a loaded 2-core machine).
        with threadpool_limits(limits=1 if len(Z) < 50_000 else None):
            self._fit_scaled(Z)
        return self

    def _fit_scaled(self, Z: np.ndarray) -> None:
        n = len(Z)
        if self.n_clusters is not None:
            if int(self.n_clusters) < 1:
                raise ValueError(f"n_clusters must be at least 1, got {self.n_clusters}")
            k = int(min(self.n_clusters, n))
            self.silhouettes_ = {}
        else:
            lo, hi = int(self.k_range[0]), int(self.k_range[1])
            if lo < 2 or hi < lo:
                raise ValueError(f"k_range must be (lo, hi) with 2 <= lo <= hi, got {self.k_range}")
            ks = list(range(lo, min(hi, n - 1) + 1)) or [min(lo, n)]
            rng = np.random.default_rng(self.random_state)
            sample = rng.choice(n, size=min(n, 5000), replace=False)
            self.silhouettes_ = {}
            for k_try in ks:
                labels = self._kmeans(k_try, self.random_state).fit_predict(Z)
                distinct = np.unique(labels[sample]).size
                self.silhouettes_[k_try] = (
                    float(silhouette_score(Z[sample], labels[sample])) if 1 < distinct < len(sample) else -1.0
                )
            k = max(self.silhouettes_, key=lambda key: (self.silhouettes_[key], -key))
        self.k_ = k
        engine = self._kmeans(k, self.random_state).fit(Z)
        self._centers = engine.cluster_centers_
        raw = engine.labels_.astype(np.int64)
        self._finalize(Z, raw, _margin(Z, engine.cluster_centers_))
        # keep the engine's centres in canonical order, so predictions use the canonical numbering
        order = np.argsort([self._canonical_of(raw, r) for r in range(len(self._centers))])
        self._centers = self._centers[order]
        self._stability(Z)

    def _canonical_of(self, raw: np.ndarray, r: int) -> int:
        hit = np.flatnonzero(raw == r)
        return int(self._canonical_labels[hit[0]]) if hit.size else int(1e9) + r

    def _kmeans(self, k: int, seed: int | None) -> KMeans:
        return KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)

    def _predict_engine(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = np.linalg.norm(Z[:, None, :] - self._centers[None, :, :], axis=2)
        return np.argmin(d, axis=1).astype(np.int64), margin_from_distances(d)

    def _refit_predict(self, Z_sub: np.ndarray, Z_eval: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(2**31 - 1))
        engine = self._kmeans(self.k_, seed).fit(Z_sub)
        return engine.predict(Z_eval)


def _margin(Z: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return margin_from_distances(np.linalg.norm(Z[:, None, :] - centers[None, :, :], axis=2))

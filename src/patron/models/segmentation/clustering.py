"""What the clustering segmenters share: robust scaling, canonical label order, stability and label alignment.

* **Robust scaling**: centre on the median and divide by the interquartile range (Rousseeuw & Croux 1993 discuss
  robust scale estimators; the IQR is the simplest), so a few whales do not flatten everyone else. A column whose
  IQR is 0 (zero-inflated shares, mostly-one-order frequencies) falls back to its standard deviation, then to 1.
* **Canonical order**: after a fit, clusters are numbered by size (largest = 0; ties by centroid), so the numbering
  does not depend on the engine's internal order or on the row order of the input.
* **Stability** (Ben-Hur, Elisseeff & Guyon 2002, "A stability based method for discovering structure in
  clustered data", PSB): refit on random subsamples (80 % by default) and compare each refit's assignment of a
  fixed evaluation set with the full fit's by the adjusted Rand index (Hubert & Arabie 1985). 1 = the same
  partition every time; near 0 = no better than chance.
* **Alignment** across refits: the Hungarian algorithm (Kuhn 1955; ``scipy.optimize.linear_sum_assignment``)
  matches new clusters to previous ones by centroid distance (or by shared members), so "segment 3" keeps meaning
  the same kind of customer; unmatched new clusters get fresh numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.validation import check_is_fitted, validate_data

NOISE = -1


# --- pure numerics ----------------------------------------------------------------------------------------------
def margin_from_distances(d: np.ndarray) -> np.ndarray:
    """Membership strength ``1 - d1/d2`` per row of a (rows x centres) distance matrix, ``d1`` and ``d2`` the
    distances to the nearest and second-nearest centre (1 with a single centre or when ``d2`` is 0)."""
    if d.shape[1] < 2:
        return np.ones(d.shape[0])
    part = np.partition(d, 1, axis=1)
    d1, d2 = part[:, 0], part[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d2 > 0, 1 - d1 / d2, 1.0)


def robust_scale_params(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and scale (IQR, else standard deviation, else 1) of each column."""
    center = np.median(X, axis=0)
    q75, q25 = np.percentile(X, [75, 25], axis=0)
    scale = q75 - q25
    std = X.std(axis=0)
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(center)), scale, std)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return center, scale


def canonical_order(labels: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Map raw cluster ids (>= 0) to 0..k-1 by decreasing size, ties by centroid (lexicographic); noise stays -1.

    Returns ``mapping`` with ``mapping[raw] = new`` (an array over 0..max raw id).
    """
    raw = np.unique(labels[labels >= 0])
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = np.array([(labels == r).sum() for r in raw])
    centroids = np.array([Z[labels == r].mean(axis=0) for r in raw])
    keys = [*(centroids[:, j] for j in range(centroids.shape[1] - 1, -1, -1)), -sizes]
    order = raw[np.lexsort(keys)]
    mapping = np.full(int(raw.max()) + 1, NOISE, dtype=np.int64)
    mapping[order] = np.arange(order.size)
    return mapping


def apply_mapping(labels: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """Relabel: ``mapping[raw]`` for raw >= 0, noise (-1) stays -1."""
    out = np.full(labels.shape, NOISE, dtype=np.int64)
    ok = labels >= 0
    out[ok] = mapping[labels[ok]]
    return out


def match_clusters(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one matching of rows (new clusters) to columns (previous clusters): Hungarian."""
    if cost.size == 0:
        return []
    rows, cols = linear_sum_assignment(cost)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


def align_by_centroids(
    new_ids: np.ndarray, new_centroids: np.ndarray, ref_ids: np.ndarray, ref_centroids: np.ndarray
) -> dict[int, int]:
    """New id -> aligned id: Hungarian matching on Euclidean centroid distance; unmatched get fresh ids."""
    cost = np.linalg.norm(new_centroids[:, None, :] - ref_centroids[None, :, :], axis=2)
    return _finish(new_ids, ref_ids, match_clusters(cost))


def align_by_members(new_labels: np.ndarray, ref_labels: np.ndarray) -> dict[int, int]:
    """New id -> aligned id, matching clusters that share the most members (same customers, same order).

    Noise (-1) is left out of the matching and stays -1.
    """
    new_ids = np.unique(new_labels[new_labels >= 0])
    ref_ids = np.unique(ref_labels[ref_labels >= 0])
    overlap = np.zeros((new_ids.size, ref_ids.size))
    both = (new_labels >= 0) & (ref_labels >= 0)
    ni = np.searchsorted(new_ids, new_labels[both])
    ri = np.searchsorted(ref_ids, ref_labels[both])
    np.add.at(overlap, (ni, ri), 1)
    return _finish(new_ids, ref_ids, match_clusters(-overlap))


def _finish(new_ids: np.ndarray, ref_ids: np.ndarray, pairs: list[tuple[int, int]]) -> dict[int, int]:
    mapping = {int(new_ids[i]): int(ref_ids[j]) for i, j in pairs}
    fresh = int(ref_ids.max()) + 1 if ref_ids.size else 0
    for new in new_ids.tolist():
        if new not in mapping:
            mapping[int(new)] = fresh
            fresh += 1
    return mapping


def stability_score(
    fit_predict: Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray],
    Z: np.ndarray,
    labels: np.ndarray,
    *,
    runs: int,
    sample: float,
    max_samples: int,
    max_eval: int,
    rng: np.random.Generator,
) -> tuple[float, list[float]]:
    """Mean adjusted Rand index between the full fit and refits on subsamples (Ben-Hur et al. 2002).

    ``fit_predict(Z_sub, Z_eval, rng)`` fits on the subsample and returns the labels of ``Z_eval``. The evaluation
    set is a fixed random subset of at most ``max_eval`` rows (all rows when fewer), so large data stay cheap.
    """
    n = len(Z)
    if runs <= 0 or n < 4:
        return float("nan"), []
    eval_idx = np.sort(rng.choice(n, size=min(n, max_eval), replace=False))
    m = int(min(max(2, round(sample * n)), max_samples, n))
    scores = []
    for _ in range(runs):
        sub = np.sort(rng.choice(n, size=m, replace=False))
        predicted = fit_predict(Z[sub], Z[eval_idx], rng)
        scores.append(float(adjusted_rand_score(labels[eval_idx], predicted)))
    return float(np.mean(scores)), scores


# --- the estimator base ------------------------------------------------------------------------------------------
class ScaledSegmenter(ClusterMixin, BaseEstimator):
    """Base of the clustering segmenters: robust scaling, canonical numbering, alignment and stability.

    Subclasses implement ``_fit_engine(Z) -> (labels, strengths)`` (canonical-free raw ids, noise -1),
    ``_predict_engine(Z) -> (labels, strengths)`` in the *canonical* numbering, and ``_refit_predict`` for
    stability reruns. Public labels are the canonical ones passed through ``_public`` (set by :meth:`align_to`).
    """

    # --- fitting ------------------------------------------------------------------------------------------------
    def _fit_prepare(self, X: object) -> np.ndarray:
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        if self.scale:
            self.center_, self.scale_ = robust_scale_params(X)
        else:
            self.center_, self.scale_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
        return (X - self.center_) / self.scale_

    def _transform(self, X: object) -> np.ndarray:
        check_is_fitted(self, "labels_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return (X - self.center_) / self.scale_

    def _finalize(self, Z: np.ndarray, raw_labels: np.ndarray, strengths: np.ndarray) -> None:
        """Number clusters canonically, store centroids (in input units), training labels and strengths."""
        mapping = canonical_order(raw_labels, Z)
        canonical = apply_mapping(raw_labels, mapping)
        k = int(canonical.max()) + 1 if (canonical >= 0).any() else 0
        self.n_clusters_ = k
        self._canonical_labels = canonical
        self._public = np.arange(k, dtype=np.int64)
        zc = np.array([Z[canonical == c].mean(axis=0) for c in range(k)]).reshape(k, Z.shape[1])
        self.centroids_ = self.center_ + zc * self.scale_
        self.cluster_ids_ = np.arange(k, dtype=np.int64)
        self.sizes_ = np.bincount(canonical[canonical >= 0], minlength=k)
        self.labels_ = canonical.copy()
        self.strengths_ = np.asarray(strengths, dtype=float)

    def _stability(self, Z: np.ndarray) -> None:
        rng = np.random.default_rng(self.random_state)
        self.stability_, self.stability_runs_ = stability_score(
            self._refit_predict,
            Z,
            self._canonical_labels,
            runs=self.stability_runs,
            sample=0.8,
            max_samples=20_000,
            max_eval=20_000,
            rng=rng,
        )

    # --- prediction ---------------------------------------------------------------------------------------------
    def predict_with_strength(self, X: object) -> tuple[np.ndarray, np.ndarray]:
        """Labels (public numbering; -1 = noise) and membership strengths in [0, 1] of new customers."""
        canonical, strength = self._predict_engine(self._transform(X))
        return self._to_public(canonical), strength

    def predict(self, X: object) -> np.ndarray:
        return self.predict_with_strength(X)[0]

    def membership_strength(self, X: object) -> np.ndarray:
        return self.predict_with_strength(X)[1]

    def _to_public(self, canonical: np.ndarray) -> np.ndarray:
        out = np.full(canonical.shape, NOISE, dtype=np.int64)
        ok = canonical >= 0
        out[ok] = self._public[canonical[ok]]
        return out

    # --- alignment ----------------------------------------------------------------------------------------------
    def align_to(self, reference: ScaledSegmenter, X: object = None) -> ScaledSegmenter:
        """Renumber this fit's clusters to match ``reference`` (a fitted segmenter on the same features).

        With ``X`` the clusters that share the most of ``X``'s customers are matched (both models predict ``X``);
        without, the nearest centroids are matched, distances measured in this fit's robust scale. Unmatched
        clusters get numbers above every number ``reference`` uses. Returns ``self``.
        """
        check_is_fitted(self, "labels_")
        check_is_fitted(reference, "labels_")
        own = np.arange(self.n_clusters_)
        if X is not None:
            canonical, _ = self._predict_engine(self._transform(X))
            mapping = align_by_members(canonical, reference.predict(X))
        else:
            mapping = align_by_centroids(
                own,
                self.centroids_ / self.scale_,
                np.asarray(reference.cluster_ids_),
                reference.centroids_ / self.scale_,
            )
        fresh = max([*reference.cluster_ids_.tolist(), *mapping.values(), -1]) + 1
        public = np.empty(self.n_clusters_, dtype=np.int64)
        for c in own.tolist():
            if c in mapping:
                public[c] = mapping[c]
            else:  # a cluster with no training member in X: keep it distinct
                public[c] = fresh
                fresh += 1
        self._public = public
        self.cluster_ids_ = public.copy()
        self.labels_ = self._to_public(self._canonical_labels)
        return self

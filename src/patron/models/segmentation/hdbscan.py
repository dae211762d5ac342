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

Large tables (``max_fit_samples``). The exact minimum spanning tree is the whole cost of a fit and grows faster
than linearly: on the 2-core build machine fast_hdbscan took 0.5 s at 10k x 6, 1.6 s at 20k, 5.8 s at 40k and
16-25 s at 100k (the ``hdbscan`` package's dual-tree Borůvka 11.5 s at 100k; scikit-learn's 61 s). Segments are
at least 1 % of the customers by default, so a 10k sample still has about 100 members in the smallest one. Above
``max_fit_samples`` rows we therefore fit HDBSCAN on a sample (``min_cluster_size`` scaled to the sample's share)
and give every other customer the label and strength of the assignment rule above: the model is HDBSCAN of the
sample, and the rest join it as new customers would. ``benchmarks/bench_segment.py`` prints the adjusted Rand
index of this partition against the exact HDBSCAN of all rows (0.99 on its planted data at 100k, where 5k, 10k
and 20k samples all gave 0.994-0.996 against the exact fit).
The sample is the rows with the smallest hash of their values (seeded by ``random_state``), so it does not depend
on row order. ``max_fit_samples=None`` fits every row exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from patron.models.segmentation.clustering import (
    NOISE,
    ScaledSegmenter,
    apply_mapping,
    canonical_order,
    stability_score,
)

# Above this many rows HDBSCAN is fitted on a sample and the rest assigned (see the module docstring).
DEFAULT_MAX_FIT_SAMPLES = 10_000


class HDBSCANSegmenter(ScaledSegmenter):
    """HDBSCAN on robust-scaled features, with assignment of new customers and a stability score.

    Parameters
    ----------
    min_cluster_size : int or None
        Smallest segment; ``None`` = 1 % of the customers, at least 15 (segments smaller than that are rarely
        actionable).
    min_samples : int or None
        Neighbours in the core distance (smoothing); ``None`` = ``min(min_cluster_size, 5)``. Larger values call
        more customers noise: on the Online Retail sample 10 left 40 % unassigned, 5 left 15 %.
    scale : bool
        Robust-scale the features first (median / IQR).
    stability_runs : int
        Refits on 80 % subsamples for ``stability_`` (0 disables it; ``stability_`` is then NaN). With a sample
        fit (``max_fit_samples``) the refits draw half of the fitted sample and are judged on it.
    max_fit_samples : int or None
        Fit HDBSCAN on a row-order-independent sample of this many customers when there are more, and assign
        the rest (module docstring); ``None`` = always fit every row. The sample grows when ``min_cluster_size``
        is small, so the smallest segment keeps at least 25 expected members in it.
    random_state : int or None
        Seed of the fit sample and of the stability subsamples.
    """

    def __init__(
        self,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        *,
        scale: bool = True,
        stability_runs: int = 3,
        max_fit_samples: int | None = DEFAULT_MAX_FIT_SAMPLES,
        random_state: int | None = 0,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.scale = scale
        self.stability_runs = stability_runs
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _sizes(self, n: int) -> tuple[int, int]:
        mcs = self.min_cluster_size if self.min_cluster_size is not None else max(15, n // 100)
        if int(mcs) < 2:
            raise ValueError(f"min_cluster_size must be at least 2, got {mcs}")
        ms = self.min_samples if self.min_samples is not None else min(int(mcs), 5)
        return int(min(mcs, n)), int(max(1, min(ms, n - 1)))

    def _engine(self, Z: np.ndarray, mcs: int, ms: int) -> Any:
        from fast_hdbscan import HDBSCAN  # imported lazily: numba compiles on first import

        # the numba kernels take C-ordered float arrays only
        return HDBSCAN(min_cluster_size=max(2, mcs), min_samples=ms).fit(
            np.ascontiguousarray(Z, dtype=np.float64)
        )

    def fit(self, X: object, y: object = None) -> HDBSCANSegmenter:
        Z = self._fit_prepare(X)
        n = len(Z)
        mcs, ms = self._sizes(n)
        self.min_cluster_size_, self.min_samples_ = mcs, ms
        sample = self._fit_sample(Z, mcs)
        Zs = Z if sample is None else Z[sample]
        # the engine sees the smallest segment at the sample's share of the customers
        mcs_s = mcs if sample is None else max(2, round(mcs * len(Zs) / n))
        ms_s = ms if sample is None else max(1, min(ms, mcs_s, len(Zs) - 1))
        engine = self._engine(Zs, mcs_s, ms_s)
        raw_s = np.asarray(engine.labels_, dtype=np.int64)
        prob_s = np.asarray(engine.probabilities_, dtype=float)
        core = np.asarray(engine._core_distances, dtype=float).ravel()
        if core.size != len(Zs):  # defensive: recompute with the fit's definition
            core = _core_distances(cKDTree(Zs), Zs, ms_s)
        k_raw = int(raw_s.max()) + 1 if (raw_s >= 0).any() else 0
        reach_raw = np.array([core[raw_s == c].max() for c in range(k_raw)])
        tree = cKDTree(Zs)
        if sample is None:
            raw, prob = raw_s, prob_s
        else:  # everyone outside the sample joins it as a new customer would
            raw, prob = _assign(tree, core, raw_s, prob_s, reach_raw, Z, ms_s)
            raw[sample], prob[sample] = raw_s, prob_s
        self._finalize(Z, raw, prob)
        mapping = canonical_order(raw, Z)
        self.n_fit_samples_ = len(Zs)
        self.fit_min_samples_ = ms_s
        self._train, self._core, self._tree = Zs, core, tree
        self._train_labels = apply_mapping(raw_s, mapping)
        self._train_strengths = prob_s
        self._cluster_reach = np.full(self.n_clusters_, np.inf)
        for c in range(self.n_clusters_):
            members = self._train_labels == c
            if members.any():  # a segment with no sampled member cannot be reached by assignment anyway
                self._cluster_reach[c] = core[members].max()
        self._stability_fit(Zs, self._train_labels, n)
        return self

    def _fit_sample(self, Z: np.ndarray, mcs: int) -> np.ndarray | None:
        """Indices of the rows HDBSCAN is fitted on, or None for all (class docstring)."""
        n = len(Z)
        if self.max_fit_samples is None:
            return None
        if int(self.max_fit_samples) < 2:
            raise ValueError(f"max_fit_samples must be at least 2 or None, got {self.max_fit_samples}")
        m = max(int(self.max_fit_samples), int(np.ceil(25 * n / mcs)))
        if m >= n:
            return None
        order = np.argsort(_row_hash(Z, self.random_state), kind="stable")
        return order[:m]  # in hash order, so the engine sees the same sequence whatever the row order

    def _stability_fit(self, Zs: np.ndarray, labels: np.ndarray, n: int) -> None:
        rng = np.random.default_rng(self.random_state)
        self._stability_n = n
        # A sampled fit is judged by refits on half of its sample (the split-half design of Lange, Roth, Braun &
        # Buhmann 2004, "Stability-based validation of clustering solutions", Neural Computation 16): 80 %
        # refits would cost three more fits of nearly the sample's size, each growing faster than linearly.
        self.stability_, self.stability_runs_ = stability_score(
            self._refit_predict,
            Zs,
            labels,
            runs=self.stability_runs,
            sample=0.8 if len(Zs) == n else 0.5,
            max_samples=20_000,
            max_eval=20_000,
            rng=rng,
        )

    def _predict_engine(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _assign(
            self._tree,
            self._core,
            self._train_labels,
            self._train_strengths,
            self._cluster_reach,
            Z,
            self.fit_min_samples_,
        )

    def _refit_predict(self, Z_sub: np.ndarray, Z_eval: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # The subsample is thinner, so the smallest segment shrinks with it (same share of customers).
        share = len(Z_sub) / self._stability_n
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
        if (
            "_train" in state and "_train_labels" not in state
        ):  # saved before sample fits: every row was fitted
            self._train_labels = self._canonical_labels
            self._train_strengths = self.strengths_
            self.fit_min_samples_ = self.min_samples_
            self.n_fit_samples_ = len(self._train)
        if "_train" in state:
            self._tree = cKDTree(self._train)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _row_hash(Z: np.ndarray, seed: int | None) -> np.ndarray:
    """A 64-bit hash of each row's values (splitmix64 over the float bits), seeded: a sample that ignores row order."""
    bits = np.ascontiguousarray(Z + 0.0, dtype=np.float64).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
    h = np.full(len(Z), np.uint64(0x9E3779B97F4A7C15) * np.uint64((seed or 0) + 1), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(bits.shape[1]):
            h = _splitmix64(h ^ bits[:, j])
    return h


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


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
    dist, idx = tree.query(Z, k=k, workers=-1)  # rows are independent: use every core
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

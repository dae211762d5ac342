"""RFM scores and the named RFM segments: the interpretable floor of segmentation.

Scores (Hughes 1994, *Strategic Database Marketing*; the quintile convention of Bult & Wansbeek 1995): each of
recency, frequency and monetary value gets a score ``1..n_bins`` from the share of (training) customers a
customer *beats*:

    score = 1 + floor(n_bins * below / n)

where ``below`` counts customers with a strictly worse value (larger recency; smaller frequency or spend). Tied
customers therefore always share a score (the deterministic tie rule: no order-dependent ``rank(method="first")``),
the worst value scores 1, and the same value always gets the same score wherever it sits in the table. With many
ties (most customers buy once) a score may be skipped, which is the honest outcome: 60 % of customers with one
order cannot be split into quintiles without an arbitrary order.

Named segments follow the widely used R x FM grid (Putler's "RFM segments"; FM = the mean of the F and M scores
rounded half up, on the 5-point scale; with ``n_bins != 5`` scores are first mapped linearly onto 1..5):

=====  =================  ======================  ======================
R      FM 1-2             FM 3                    FM 4-5
=====  =================  ======================  ======================
5      New (FM 1),        Potential Loyalist      Champions
       Potential Loyalist
4      Promising (FM 1),  Potential Loyalist      Loyal
       Potential Loyalist
3      About to Sleep     Need Attention          Loyal
2      Hibernating        At Risk                 At Risk (FM 4), Can't Lose Them (FM 5)
1      Lost               At Risk                 At Risk (FM 4), Can't Lose Them (FM 5)
=====  =================  ======================  ======================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin

from patron.errors import ConfigError, InputError

RFM_SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)
RFM_INPUT_COLUMNS: tuple[str, ...] = ("recency_days", "frequency", "monetary")


# --- pure numerics ----------------------------------------------------------------------------------------------
def quantile_scores(
    values: np.ndarray, reference: np.ndarray, n_bins: int, *, higher_is_better: bool
) -> np.ndarray:
    """Score ``1..n_bins`` of each value against the sorted-able ``reference`` values (see the module docstring).

    ``below`` = the number of reference values strictly worse than the value; ties share a score.
    """
    if n_bins < 2:
        raise ConfigError(f"n_bins must be at least 2, got {n_bins}")
    ref = np.sort(np.asarray(reference, dtype=float))
    x = np.asarray(values, dtype=float)
    n = ref.size
    if n == 0:
        raise InputError("RFM scores need at least one reference customer")
    if higher_is_better:
        below = np.searchsorted(ref, x, side="left")
    else:
        below = n - np.searchsorted(ref, x, side="right")
    return (1 + np.floor(n_bins * below / n)).clip(1, n_bins).astype(np.int64)


def to_five_point(scores: np.ndarray, n_bins: int) -> np.ndarray:
    """Map scores ``1..n_bins`` linearly onto 1..5, rounding half up."""
    scaled = 1 + (np.asarray(scores, dtype=float) - 1) * 4 / (n_bins - 1)
    return np.floor(scaled + 0.5).astype(np.int64)


def rfm_segment_codes(r: np.ndarray, f: np.ndarray, m: np.ndarray, n_bins: int = 5) -> np.ndarray:
    """Index into :data:`RFM_SEGMENTS` of each customer's named segment, from its R, F and M scores."""
    r5 = to_five_point(r, n_bins)
    fm = np.floor((to_five_point(f, n_bins) + to_five_point(m, n_bins)) / 2 + 0.5).astype(np.int64)
    code = {name: i for i, name in enumerate(RFM_SEGMENTS)}
    out = np.full(r5.shape, code["Lost"], dtype=np.int64)
    rules = [  # (R range, FM range, name): the grid of the module docstring, first match wins
        ((5, 5), (4, 5), "Champions"),
        ((3, 4), (4, 5), "Loyal"),
        ((5, 5), (1, 1), "New"),
        ((4, 4), (1, 1), "Promising"),
        ((4, 5), (1, 3), "Potential Loyalist"),
        ((3, 3), (3, 3), "Need Attention"),
        ((3, 3), (1, 2), "About to Sleep"),
        ((1, 2), (5, 5), "Can't Lose Them"),
        ((1, 2), (3, 4), "At Risk"),
        ((2, 2), (1, 2), "Hibernating"),
        ((1, 1), (1, 2), "Lost"),
    ]
    done = np.zeros(r5.shape, dtype=bool)
    for (r_lo, r_hi), (fm_lo, fm_hi), name in rules:
        hit = ~done & (r5 >= r_lo) & (r5 <= r_hi) & (fm >= fm_lo) & (fm <= fm_hi)
        out[hit] = code[name]
        done |= hit
    return out


def rfm_scores(rfm: pd.DataFrame, n_bins: int = 5) -> pd.DataFrame:
    """R, F, M scores, the RFM cell (e.g. ``"545"``) and the named segment of every row of an ``rfm`` table."""
    return RFMSegmenter(n_bins=n_bins).fit(rfm).scores(rfm)


# --- estimator --------------------------------------------------------------------------------------------------
class RFMSegmenter(ClusterMixin, BaseEstimator):
    """Named RFM segments as a scikit-learn clusterer.

    ``X`` is the ``rfm`` table (columns ``recency_days``, ``frequency``, ``monetary``; other columns are ignored)
    or an array with those three columns in that order. ``fit`` stores the training values, so ``predict`` scores
    new customers against the same reference; labels are indices into :data:`RFM_SEGMENTS` (``segment_names_``),
    fixed by construction, so they never need aligning across refits.

    Parameters
    ----------
    n_bins : int
        Number of quantile bins per score (5 = quintiles, the convention).
    """

    def __init__(self, n_bins: int = 5) -> None:
        self.n_bins = n_bins

    def _columns(self, X: object) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            missing = [c for c in RFM_INPUT_COLUMNS if c not in X.columns]
            if missing:
                raise InputError(
                    f"RFM needs column(s) {missing}",
                    expected=f"the rfm table's columns {list(RFM_INPUT_COLUMNS)}",
                )
            arr = X[list(RFM_INPUT_COLUMNS)].to_numpy(dtype=float)
        else:
            arr = np.asarray(X, dtype=float)
            if arr.ndim != 2 or arr.shape[1] != 3:
                raise InputError(
                    f"RFM needs 3 columns (recency_days, frequency, monetary), got shape {arr.shape}"
                )
        bad = ~np.isfinite(arr)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(
                f"RFM input has a missing or infinite {RFM_INPUT_COLUMNS[col]} value", row=int(row) + 1
            )
        return arr

    def fit(self, X: object, y: object = None) -> RFMSegmenter:
        if not isinstance(self.n_bins, int | np.integer) or self.n_bins < 2:
            raise ConfigError(f"n_bins must be an integer >= 2, got {self.n_bins!r}")
        arr = self._columns(X)
        if len(arr) == 0:
            raise InputError("RFM needs at least one customer")
        self.reference_ = np.sort(arr, axis=0)
        self.segment_names_ = list(RFM_SEGMENTS)
        self.labels_ = self.predict(X)
        return self

    def _score_array(self, arr: np.ndarray) -> np.ndarray:
        ref = self.reference_
        return np.column_stack(
            [
                quantile_scores(arr[:, 0], ref[:, 0], self.n_bins, higher_is_better=False),
                quantile_scores(arr[:, 1], ref[:, 1], self.n_bins, higher_is_better=True),
                quantile_scores(arr[:, 2], ref[:, 2], self.n_bins, higher_is_better=True),
            ]
        )

    def predict(self, X: object) -> np.ndarray:
        s = self._score_array(self._columns(X))
        return rfm_segment_codes(s[:, 0], s[:, 1], s[:, 2], self.n_bins)

    def membership_strength(self, X: object) -> np.ndarray:
        """Rule-based segments are crisp: every customer belongs fully to its segment (strength 1)."""
        return np.ones(len(self._columns(X)))

    def predict_with_strength(self, X: object) -> tuple[np.ndarray, np.ndarray]:
        """Segments and strengths (all 1), the call every Patron segmenter answers."""
        return self.predict(X), self.membership_strength(X)

    def scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """``r_score``, ``f_score``, ``m_score``, ``rfm_cell`` and ``segment`` (name) per row of ``X``."""
        s = self._score_array(self._columns(X))
        codes = rfm_segment_codes(s[:, 0], s[:, 1], s[:, 2], self.n_bins)
        out = pd.DataFrame(s, columns=["r_score", "f_score", "m_score"], index=getattr(X, "index", None))
        out["rfm_cell"] = (
            [f"{a}{b}{c}" for a, b, c in s] if self.n_bins < 10 else [f"{a}-{b}-{c}" for a, b, c in s]
        )
        out["segment"] = np.asarray(RFM_SEGMENTS, dtype=object)[codes]
        return out

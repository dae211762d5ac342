"""Metrics of a probabilistic binary classifier: calibration first, then ranking.

Pure functions over numpy arrays (``y`` in {0, 1}, ``p`` in [0, 1]).

* Reliability diagram and expected calibration error (ECE): predictions are put in ``n_bins`` equal-width bins
  of [0, 1]; ECE = sum over bins of (bin count / n) * |mean predicted - fraction positive| (Naeini, Cooper &
  Hauskrecht 2015, "Obtaining Well Calibrated Probabilities Using Bayesian Binning", AAAI, eq. 1; Guo et al. 2017,
  "On Calibration of Modern Neural Networks", eq. 3).
* Brier score (Brier 1950), log loss, ROC AUC: scikit-learn's.
* Lift / gain by decile: customers sorted by predicted probability, cut into 10 groups of (near) equal size;
  lift = positive rate of the decile / overall positive rate; cumulative gain = share of all positives captured
  by the top deciles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from patron.errors import InputError


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.shape != p.shape:
        raise InputError(f"{len(y)} labels but {len(p)} predictions", expected="one prediction per label")
    if y.size == 0:
        raise InputError("no labels to score", expected="at least one customer")
    if not np.isin(y, (0.0, 1.0)).all():
        raise InputError("labels must be 0 or 1", column="label", found=float(y[~np.isin(y, (0.0, 1.0))][0]))
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise InputError("predicted probabilities must be in [0, 1]", column="probability")
    return y, p


def reliability_table(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Reliability diagram data: ``bin, lower, upper, mean_predicted, fraction_positive, count`` (empty bins
    are left out)."""
    y, p = _check(y, p)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin i holds lower <= p < upper; p = 1 goes in the last bin.
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    keep = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "bin": np.arange(n_bins),
                "lower": edges[:-1],
                "upper": edges[1:],
                "mean_predicted": sum_p / count,
                "fraction_positive": sum_y / count,
                "count": count,
            }
        )
    return frame[keep].reset_index(drop=True)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE with ``n_bins`` equal-width bins (see the module docstring)."""
    table = reliability_table(y, p, n_bins)
    n = table["count"].sum()
    gap = (table["mean_predicted"] - table["fraction_positive"]).abs()
    return float((table["count"] / n * gap).sum())


def lift_table(y: np.ndarray, p: np.ndarray, n_groups: int = 10) -> pd.DataFrame:
    """``decile, customers, positives, mean_predicted, positive_rate, lift, cumulative_gain`` (decile 1 = the
    highest predicted probabilities). Ties in ``p`` are broken by position, so deciles have equal sizes."""
    y, p = _check(y, p)
    order = np.argsort(-p, kind="stable")
    groups = np.array_split(order, n_groups)
    base = y.mean()
    total = y.sum()
    rows, captured = [], 0.0
    for i, g in enumerate(groups, start=1):
        if len(g) == 0:
            continue
        pos = float(y[g].sum())
        captured += pos
        rate = pos / len(g)
        rows.append(
            {
                "decile": i,
                "customers": len(g),
                "positives": pos,
                "mean_predicted": float(p[g].mean()),
                "positive_rate": rate,
                "lift": rate / base if base > 0 else np.nan,
                "cumulative_gain": captured / total if total > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def classification_metrics(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, float]:
    """``ece, brier, log_loss, auc, lift_top_decile, gain_top_decile, gain_top_3_deciles, positive_rate, n``."""
    y, p = _check(y, p)
    lift = lift_table(y, p)
    both = len(np.unique(y)) == 2
    return {
        "ece": expected_calibration_error(y, p, n_bins),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "lift_top_decile": float(lift["lift"].iloc[0]),
        "gain_top_decile": float(lift["cumulative_gain"].iloc[0]),
        "gain_top_3_deciles": float(lift["cumulative_gain"].iloc[min(2, len(lift) - 1)]),
        "positive_rate": float(y.mean()),
        "mean_predicted": float(p.mean()),
        "n": float(len(y)),
    }

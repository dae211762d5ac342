"""TEST FIXTURES: a store holding every table the report and the dashboard read.

The ingest and summary tables come from the real services on a slice of the bundled Online Retail sample. The
model result tables (clv_*, segment_*, churn_*) are written here, with exactly the producers' column names, from
simple closed forms computed in the test (not from Patron's models, which other branches provide), so every
rendering path is exercised before those producers land. Replace them with the real producers when they merge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from patron.data import sample_path
from patron.services.ingest import ingest
from patron.services.summary import build_summaries
from patron.storage import DuckDBRepository, Repository

CUSTOMERS = 300  # customers of the sample kept (all their lines): enough for every chart, quick to ingest
CALIBRATION_END = "2011-09-09"
HORIZON = 52.0  # weeks


class NBDFixtureModel:
    """Test fixture: a gamma-Poisson purchase model with fixed (r, alpha) and a heuristic P(alive).

    E[X(t) | x, T] = t (r + x) / (alpha + T) (the NBD posterior mean rate; Ehrenberg 1959), and
    P(alive) = ((alpha + t_x) / (alpha + T)) ** (r + x), which falls with the time since the last purchase.
    """

    def __init__(self, r: float = 0.5, alpha: float = 5.0) -> None:
        self.r = r
        self.alpha = alpha

    def expected_purchases(self, X: pd.DataFrame, t: float) -> pd.Series:
        rate = (self.r + X["frequency"].to_numpy(float)) / (self.alpha + X["T"].to_numpy(float))
        return pd.Series(rate * t, index=X.index)

    def probability_alive(self, X: pd.DataFrame) -> pd.Series:
        f, rec, T = (X[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        return pd.Series(((self.alpha + rec) / (self.alpha + T)) ** (self.r + f), index=X.index)


def sample_lines(customers: int = CUSTOMERS) -> pd.DataFrame:
    """Every line of the first ``customers`` customers of the bundled sample (and no anonymous lines)."""
    df = pd.read_csv(sample_path(), dtype=str)
    keep = df["CustomerID"].dropna().drop_duplicates().iloc[:customers]
    return df[df["CustomerID"].isin(set(keep))].reset_index(drop=True)


def build_store(path: Path, *, with_models: bool = True) -> Path:
    """Write the fixture store at ``path`` and return it."""
    repo = DuckDBRepository(path)
    try:
        ingest(repo, sample_lines())
        build_summaries(repo, time_unit="W", calibration_end=CALIBRATION_END)
        if with_models:
            write_model_tables(repo)
    finally:
        repo.close()
    return path


def write_model_tables(repo: Repository) -> None:
    summary = repo.read_table("btyd_summary")
    summary["customer_id"] = summary["customer_id"].astype(str)
    X = summary.set_index("customer_id")
    model = NBDFixtureModel()
    with repo.run("clv_fit", {"fixture": True}) as run:
        run.write(
            "clv_parameters",
            pd.DataFrame(
                {
                    "model": ["purchase", "purchase", "spend", "spend", "spend"],
                    "parameter": ["r", "alpha", "p", "q", "gamma"],
                    "estimate": [0.5, 5.0, 6.25, 3.74, 15.44],
                    "se": [0.05, 0.6, 0.8, 0.3, 2.1],
                }
            ).assign(
                lower_95=lambda d: d.estimate - 1.96 * d.se, upper_95=lambda d: d.estimate + 1.96 * d.se
            ),
        )
        run.write(
            "clv_model_comparison",
            pd.DataFrame(
                {"model": ["nbd", "bg_nbd"], "log_likelihood": [-1234.5, -1200.1], "aic": [2473.0, 2408.2]}
            ),
        )
        run.save_model("purchase", model)
    alive = model.probability_alive(X)
    purchases = model.expected_purchases(X, HORIZON)
    spend = X["monetary_value"].where(X["monetary_value"] > 0, X["monetary_value"].mean())
    clv = purchases * spend
    with repo.run("clv_score", {"fixture": True}) as run:
        run.write(
            "clv_scores",
            pd.DataFrame(
                {
                    "customer_id": X.index,
                    "probability_alive": alive.to_numpy(),
                    "expected_purchases": purchases.to_numpy(),
                    "expected_spend": spend.to_numpy(),
                    "clv": clv.to_numpy(),
                    "clv_lo_80": 0.6 * clv.to_numpy(),
                    "clv_hi_80": 1.5 * clv.to_numpy(),
                }
            ),
        )
    # segments: terciles of spend now and of frequency before, so there are transitions
    now = pd.qcut(X["monetary_value"].rank(method="first"), 3, labels=["0", "1", "2"]).astype(str)
    before = pd.qcut(X["frequency"].rank(method="first"), 3, labels=["0", "1", "2"]).astype(str)
    names = {"0": "Light spenders", "1": "Regulars", "2": "Big spenders"}
    with repo.run("segment", {"fixture": True}) as run:
        run.write(
            "segment_assignments",
            pd.DataFrame({"customer_id": X.index, "segment": now.to_numpy(), "strength": 1.0}),
        )
        sizes = now.value_counts()
        run.write(
            "segment_profiles",
            pd.DataFrame(
                {
                    "segment": sizes.index,
                    "name": [names[s] for s in sizes.index],
                    "size": sizes.to_numpy(),
                    "share": (sizes / sizes.sum()).to_numpy(),
                    "description": [f"{names[s]}: spend tercile {s}" for s in sizes.index],
                }
            ),
        )
        moves = pd.crosstab(before, now).stack().rename("customers").reset_index()
        moves.columns = ["from_segment", "to_segment", "customers"]
        run.write("segment_transitions", moves.assign(from_period="2011-Q2", to_period="2011-Q3"))
    # churn: risk from the calibration period, label = no purchase in the holdout
    cal = repo.read_table("btyd_calibration")
    cal["customer_id"] = cal["customer_id"].astype(str)
    gap = (cal["T_cal"] - cal["recency_cal"]).to_numpy(float)
    prob = 1 / (1 + np.exp(-(gap / 8.0 - 1.5 + 0.3 * (cal["frequency_cal"].to_numpy(float) == 0))))
    label = (cal["frequency_holdout"].to_numpy(float) == 0).astype(int)
    observed, predicted = calibration_curve(label, prob, n_bins=8, strategy="quantile")
    decile = pd.qcut(pd.Series(-prob).rank(method="first"), 10, labels=False) + 1
    by_decile = pd.DataFrame({"decile": decile, "y": label}).groupby("decile")["y"].agg(["mean", "size"])
    with repo.run("churn_fit", {"fixture": True}) as run:
        run.write(
            "churn_metrics",
            pd.DataFrame(
                {
                    "model": "lightgbm",
                    "metric": ["roc_auc", "brier", "base_rate"],
                    "value": [roc_auc_score(label, prob), brier_score_loss(label, prob), label.mean()],
                }
            ),
        )
        run.write(
            "churn_reliability",
            pd.DataFrame(
                {
                    "model": "lightgbm",
                    "bin": np.arange(len(observed)),
                    "mean_predicted": predicted,
                    "fraction_positive": observed,
                    "count": len(label) // len(observed),
                }
            ),
        )
        run.write(
            "churn_lift",
            pd.DataFrame(
                {
                    "decile": by_decile.index.astype(int),
                    "customers": by_decile["size"].to_numpy(),
                    "churn_rate": by_decile["mean"].to_numpy(),
                    "lift": (by_decile["mean"] / label.mean()).to_numpy(),
                }
            ),
        )
    features = np.array(["days_since_last_purchase", "orders", "mean_spend"])
    contrib = np.c_[
        gap / 10.0,
        -cal["frequency_cal"].to_numpy(float) / 3,
        -cal["monetary_value_cal"].to_numpy(float) / 500,
    ]
    order = np.argsort(-np.abs(contrib), axis=1)
    rows = []
    for i, cid in enumerate(cal["customer_id"]):
        for rank, j in enumerate(order[i], start=1):
            c = float(contrib[i, j])
            rows.append(
                (
                    cid,
                    rank,
                    features[j],
                    c,
                    f"{features[j].replace('_', ' ')} {'raises' if c > 0 else 'lowers'} the risk",
                )
            )
    with repo.run("churn_score", {"fixture": True}) as run:
        run.write(
            "churn_scores",
            pd.DataFrame(
                {
                    "customer_id": cal["customer_id"],
                    "probability": prob,
                    "model_version": "fixture",
                    "scored_at": pd.Timestamp("2011-12-09"),
                }
            ),
        )
        run.write(
            "churn_reasons",
            pd.DataFrame(rows, columns=["customer_id", "rank", "feature", "contribution", "reason"]),
        )

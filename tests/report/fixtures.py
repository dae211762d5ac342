"""A store holding every table the report and the dashboard read, made by the real producers.

On a slice of the bundled Online Retail sample: ingest and summaries (services), segments
(``services.segmentation.segment``, RFM per quarter, so there are transitions), churn (``services.churn``: a fit
and two scoring runs, so scores have a history). The CLV tables (``clv_parameters``, ``clv_model_comparison``,
``clv_scores``) are written here from Patron's real BG/NBD, MBG/NBD and Gamma-Gamma models with the clv branch's
column names, because no CLV service exists yet; replace :func:`write_clv_tables` with it when it lands.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patron.data import sample_path
from patron.models.clv import evaluation as clv_eval
from patron.models.clv.beta_geo import BetaGeoModel
from patron.models.clv.gamma_gamma import GammaGammaModel
from patron.models.clv.modified_beta_geo import ModifiedBetaGeoModel
from patron.services import churn, segmentation
from patron.services.ingest import ingest
from patron.services.summary import build_summaries
from patron.storage import DuckDBRepository, Repository

CUSTOMERS = 300  # customers of the sample kept (all their lines): enough for every chart, quick to ingest
CALIBRATION_END = "2011-09-09"
HORIZON = 52.0  # weeks


def sample_lines(customers: int = CUSTOMERS) -> pd.DataFrame:
    """Every line of the first ``customers`` customers of the bundled sample (and no anonymous lines)."""
    df = pd.read_csv(sample_path(), dtype=str)
    keep = df["CustomerID"].dropna().drop_duplicates().iloc[:customers]
    return df[df["CustomerID"].isin(set(keep))].reset_index(drop=True)


_SESSION_STORE: list[Path] = []


def session_store(factory: pytest.TempPathFactory) -> Path:
    """The fixture store, built once per test session and shared (read-only) by the report, dashboard and
    browser tests."""
    if not _SESSION_STORE:
        _SESSION_STORE.append(build_store(factory.mktemp("fixture-store") / "store.duckdb"))
    return _SESSION_STORE[0]


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
    """Every model table: CLV (real models, written here), segments and churn (their services)."""
    write_clv_tables(repo)
    segmentation.segment(repo, method="rfm", period="quarter")
    churn.fit_churn(repo, cutoff=CALIBRATION_END, folds=3)
    churn.score_churn(repo, as_of="2011-11-09")  # an earlier scoring, so scores have a history
    churn.score_churn(repo)


def write_clv_tables(repo: Repository) -> None:
    """clv_fit (parameters, comparison, models "purchase" and "spend") and clv_score runs from the real models."""
    calibration = clv_eval.calibration_summary(repo.read_table("btyd_calibration"))
    candidates = {
        "bg_nbd": BetaGeoModel().fit(calibration),
        "mbg_nbd": ModifiedBetaGeoModel().fit(calibration),
    }
    purchase = candidates["bg_nbd"]
    summary = repo.read_table("btyd_summary")
    summary["customer_id"] = summary["customer_id"].astype(str)
    X = summary.set_index("customer_id")
    spend = GammaGammaModel().fit(X.loc[X["frequency"] > 0, ["frequency", "monetary_value"]])
    with repo.run("clv_fit", {"purchase": "bg_nbd", "spend": "gamma_gamma"}) as run:
        frames = []
        for name, model in (("purchase", purchase), ("spend", spend)):
            frame = model.summary_.reset_index()
            frame.insert(0, "model", name)
            frames.append(frame[["model", "parameter", "estimate", "se", "lower_95", "upper_95"]])
        run.write("clv_parameters", pd.concat(frames, ignore_index=True))
        run.write(
            "clv_model_comparison",
            pd.DataFrame(
                {
                    "model": list(candidates),
                    "log_likelihood": [m.log_likelihood_ for m in candidates.values()],
                    "aic": [m.aic_ for m in candidates.values()],
                    "bic": [m.bic_ for m in candidates.values()],
                }
            ),
        )
        run.save_model("purchase", purchase)
        run.save_model("spend", spend)
    history = X[["frequency", "recency", "T"]]
    value = spend.customer_lifetime_value(
        purchase, X, horizon=12, time_unit_per_period=4.345, level=[80], n_draws=100
    )
    with repo.run("clv_score", {"horizon_months": 12}) as run:
        run.write(
            "clv_scores",
            pd.DataFrame(
                {
                    "customer_id": X.index,
                    "probability_alive": purchase.probability_alive(history).to_numpy(),
                    "expected_purchases": purchase.expected_purchases(history, HORIZON).to_numpy(),
                    "expected_spend": spend.expected_spend(X[["frequency", "monetary_value"]]).to_numpy(),
                    "clv": value["clv"].to_numpy(),
                    "clv_lo_80": value["clv-lo-80"].to_numpy(),
                    "clv_hi_80": value["clv-hi-80"].to_numpy(),
                }
            ),
        )

"""``patron.services.clv``: fit and score runs on a store built from the bundled sample and from CDNOW."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.data import sample_path
from patron.errors import ConfigError, NotFoundError
from patron.models.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from patron.services.clv import fit_clv, score_clv, score_frame
from patron.services.ingest import ingest
from patron.services.summary import build_summaries
from patron.storage import DuckDBRepository
from tests.models.clv.data import cdnow_with_spend


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory):
    repo = DuckDBRepository(tmp_path_factory.mktemp("clv") / "sample.duckdb")
    ingest(repo, sample_path())
    build_summaries(repo)
    yield repo
    repo.close()


def test_fit_auto_compares_models_and_stores_everything(sample_store) -> None:
    steps: list[str] = []
    run_id = fit_clv(sample_store, progress=steps.append)
    assert steps == ["read", "compare", "purchase", "spend", "write"]
    comparison = sample_store.read_results("clv_model_comparison", run_id=run_id)
    assert sorted(comparison["model"]) == ["bgnbd", "mbgnbd", "pareto_nbd"]
    assert comparison["chosen"].sum() == 1
    for col in ("log_likelihood", "aic", "bic", "holdout_mae", "holdout_rmse"):
        assert np.isfinite(comparison[col]).all()
    best = comparison.loc[comparison["holdout_mae"].idxmin(), "model"]
    assert comparison.loc[comparison["chosen"], "model"].iloc[0] == best
    params = sample_store.read_results("clv_parameters", run_id=run_id)
    assert list(params.columns) == ["run_id", "model", "parameter", "estimate", "se", "lower_95", "upper_95"]
    assert set(params["model"]) == {best, "gamma_gamma"}
    purchase = sample_store.load_model("purchase", run_id=run_id)
    spend = sample_store.load_model("spend", run_id=run_id)
    assert isinstance(spend, GammaGammaModel)
    summary = sample_store.read_table("btyd_summary").set_index("customer_id")
    assert purchase.log_likelihood_ == pytest.approx(purchase.individual_log_likelihood(summary).sum())


def test_score_writes_one_row_per_customer(sample_store) -> None:
    fit_clv(sample_store, model="bgnbd")
    steps: list[str] = []
    run_id = score_clv(sample_store, horizon=8, discount_rate=0.01, level=(80,), progress=steps.append)
    scores = sample_store.read_results("clv_scores", run_id=run_id)
    n = len(sample_store.read_table("btyd_summary"))
    assert len(scores) == n
    assert list(scores.columns) == [
        "run_id",
        "customer_id",
        "probability_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
        "clv_lo_80",
        "clv_hi_80",
        "expected_purchases_lo_80",
        "expected_purchases_hi_80",
    ]
    assert scores.drop(columns=["run_id", "customer_id"]).notna().all().all()
    assert ((scores["probability_alive"] >= 0) & (scores["probability_alive"] <= 1)).all()
    assert (scores["clv_lo_80"] <= scores["clv_hi_80"]).all()
    record = sample_store.get_run(run_id)
    assert record["params"]["horizon"] == 8


def test_covariate_from_transactions(sample_store) -> None:
    """``region`` on the first transaction, one-hot against the most common region (rare ones pooled)."""
    run_id = fit_clv(sample_store, model="bgnbd", covariates=["region"])
    params = sample_store.read_results("clv_parameters", run_id=run_id)
    names = set(params["parameter"])
    assert any(name.startswith("alpha[region=") for name in names)
    assert any(name.startswith("gamma[region=") for name in names)
    score_id = score_clv(sample_store, level=())
    assert np.isfinite(sample_store.read_results("clv_scores", run_id=score_id)["clv"]).all()


def test_errors(sample_store, repo) -> None:
    with pytest.raises(ConfigError, match="unknown model 'bg'"):
        fit_clv(sample_store, model="bg")
    with pytest.raises(ConfigError, match="covariate 'nope'"):
        fit_clv(sample_store, model="bgnbd", covariates=["nope"])
    with pytest.raises(NotFoundError, match="patron summary"):
        fit_clv(repo)
    with pytest.raises(NotFoundError, match="patron fit"):
        score_clv(repo)


def test_score_frame_on_cdnow(shared_data: Path) -> None:
    """Scores of the FHL (2005) example customer; a customer with no repeat purchase gets the mean spend."""
    data = cdnow_with_spend(shared_data)
    bg = BetaGeoModel().fit(data)
    gg = GammaGammaModel().fit(data)
    frame = pd.DataFrame(
        {"frequency": [2, 0], "recency": [30.43, 0.0], "T": [38.86, 38.86], "monetary_value": [30.0, 0.0]},
        index=pd.Index(["example", "one-off"], name="customer_id"),
    )
    out = score_frame(bg, gg, frame, horizon=39, level=[80])
    assert out.loc["example", "expected_purchases"] == pytest.approx(1.226, abs=5e-4)
    p, q, g = gg.params_
    assert out.loc["one-off", "expected_spend"] == pytest.approx(p * g / (q - 1))
    assert out.loc["example", "clv"] == pytest.approx(
        out.loc["example", "expected_purchases"] * out.loc["example", "expected_spend"], rel=1e-9
    )
    assert {"clv_lo_80", "expected_purchases_hi_80"} <= set(out.columns)


def test_score_frame_with_pareto(shared_data: Path) -> None:
    data = cdnow_with_spend(shared_data).head(300)
    pm = ParetoNBDModel().fit(data)
    gg = GammaGammaModel().fit(data)
    out = score_frame(pm, gg, data, horizon=10, discount_rate=0.02)
    assert np.isfinite(out.to_numpy()).all()


def test_score_frame_point_scores_equal_the_interval_path(shared_data: Path) -> None:
    """Without levels score_frame takes the one-conversion model call; its numbers are exactly those of the
    separate prediction methods (the path taken with levels)."""
    data = cdnow_with_spend(shared_data).head(400)
    bg = BetaGeoModel().fit(data)
    gg = GammaGammaModel().fit(data)
    point = score_frame(bg, gg, data, horizon=52, discount_rate=0.01, margin=0.5)
    full = score_frame(bg, gg, data, horizon=52, discount_rate=0.01, margin=0.5, level=[80])
    assert list(point.columns) == ["probability_alive", "expected_purchases", "expected_spend", "clv"]
    pd.testing.assert_frame_equal(point, full[list(point.columns)], check_exact=True)

"""The churn and classify services on the bundled Online Retail sample and on Telco: tables written, scores
with reasons for every customer, contributions adding up, errors named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.data import sample_path
from patron.errors import ConfigError, NotFoundError
from patron.services.churn import (
    churn_features_at,
    fit_churn,
    load_churn_model,
    score_churn,
    score_customer,
)
from patron.services.classify import fit_classifier, load_classifier, score_classifier
from patron.services.ingest import ingest
from patron.storage import DuckDBRepository

CUTOFF = "2011-09-09"


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    repo = DuckDBRepository(tmp_path_factory.mktemp("churn") / "s.duckdb")
    ingest(repo, sample_path())
    yield repo
    repo.close()


@pytest.fixture(scope="module")
def fitted(sample_store):
    steps: list[str] = []
    run_id = fit_churn(sample_store, cutoff=CUTOFF, evaluation="holdout", progress=steps.append)
    return run_id, steps


def test_fit_writes_metrics_reliability_lift_survival(sample_store, fitted) -> None:
    run_id, steps = fitted
    assert steps[:2] == ["features", "btyd"] and "survival" in steps
    metrics = sample_store.read_results("churn_metrics", run_id=run_id)
    models = set(metrics["model"])
    assert {"lightgbm_isotonic", "logistic", "weibull"} <= models
    auc = metrics.query("model == 'lightgbm_isotonic' and metric == 'auc'")["value"].iloc[0]
    assert 0.6 < auc < 1
    reliability = sample_store.read_results("churn_reliability", run_id=run_id)
    assert {"model", "bin", "mean_predicted", "fraction_positive", "count"} <= set(reliability.columns)
    held_out = sample_store.get_run(run_id)["report"]["held_out"]
    assert reliability.query("model == 'logistic'")["count"].sum() == held_out
    lift = sample_store.read_results("churn_lift", run_id=run_id)
    assert lift.query("model == 'logistic'")["decile"].tolist() == list(range(1, 11))
    curves = sample_store.read_results("churn_survival", run_id=run_id)
    assert {"all", "1 order", "2-3 orders", "4+ orders"} == set(curves["segment"])
    assert (curves.groupby("segment")["survival"].apply(lambda s: s.is_monotonic_decreasing)).all()
    params = sample_store.get_run(run_id)["params"]
    assert params["cutoff"].startswith(CUTOFF) and params["horizon_days"] == 90


def test_score_writes_scores_and_reasons_for_every_customer(sample_store, fitted) -> None:
    run_id, _ = fitted
    score_id = score_churn(sample_store, top_reasons=3)
    scores = sample_store.read_results("churn_scores", run_id=score_id)
    reasons = sample_store.read_results("churn_reasons", run_id=score_id)
    customers = sample_store.query("SELECT COUNT(DISTINCT customer_id) AS n FROM transactions").iloc[0, 0]
    assert len(scores) == customers and scores["probability"].between(0, 1).all()
    assert (scores["model_version"] == run_id).all()
    assert set(reasons["customer_id"]) == set(scores["customer_id"])
    assert (reasons.groupby("customer_id").size() == 3).all()
    # the stored contributions are the booster's TreeSHAP values: with the bias and the rest they add up
    model = load_churn_model(sample_store)
    features = churn_features_at(sample_store, model)
    X = model.prepare(features)
    contrib = model.classifier.contributions(X)
    np.testing.assert_allclose(contrib.sum(axis=1), model.classifier.raw_score(X), atol=1e-9)
    top = reasons[reasons["rank"] == 1].set_index("customer_id")["contribution"]
    j = np.abs(contrib[:, :-1]).argmax(axis=1)
    np.testing.assert_allclose(top.loc[features.index].to_numpy(), contrib[np.arange(len(j)), j], atol=1e-9)


def test_score_customer_matches_the_batch(sample_store, fitted) -> None:
    model = load_churn_model(sample_store)
    features = churn_features_at(sample_store, model)
    batch = model.predict_proba(features)
    for i in (0, 5, 17):
        one = score_customer(model, features.iloc[i])
        assert one["probability"] == pytest.approx(batch[i], abs=1e-12)
        assert one["customer_id"] == features.index[i] and len(one["reasons"]) == 3
        assert one["model_version"] == model.version


def test_errors_are_named(repo) -> None:
    with pytest.raises(NotFoundError, match="patron ingest"):
        fit_churn(repo)
    with pytest.raises(NotFoundError, match="churn_fit"):
        score_churn(repo)


def test_classify_high_value_from_transactions(sample_store) -> None:
    run_id = fit_classifier(sample_store, target="high_value", cutoff=CUTOFF, evaluation="holdout")
    report = sample_store.get_run(run_id)["report"]
    assert report["target"] == "high_value" and 0.15 < report["positive_rate"] < 0.25
    score_id = score_classifier(sample_store)
    scores = sample_store.read_results("classify_scores", run_id=score_id)
    assert (scores["target"] == "high_value").all()
    with pytest.raises(ConfigError, match="as_of, not data"):
        score_classifier(sample_store, table="transactions")


@pytest.mark.slow
def test_classify_telco(repo, shared_data) -> None:
    path = shared_data / "telco_customer_churn.csv.gz"
    run_id = fit_classifier(repo, data=path, target="Churn", id_column="customerID", evaluation="holdout")
    metrics = repo.read_results("classify_metrics", run_id=run_id).set_index(["model", "metric"])["value"]
    assert metrics[("lightgbm_isotonic", "auc")] > 0.82 and metrics[("logistic", "auc")] > 0.82
    assert metrics[("lightgbm_isotonic", "n")] == 1761
    score_id = score_classifier(repo, data=pd.read_csv(path).head(50))
    assert len(repo.read_results("classify_scores", run_id=score_id)) == 50
    assert len(repo.read_results("classify_reasons", run_id=score_id)) == 150
    assert load_classifier(repo).source == "data"
    with pytest.raises(ConfigError, match="needs a labelled table"):
        fit_classifier(repo, target="Churn")
    with pytest.raises(ConfigError, match=r"give data=\.\.\. or table=\.\.\."):
        score_classifier(repo)


@pytest.mark.slow
def test_online_retail_full_is_calibrated(tmp_path, shared_data) -> None:
    """The issue's check: full Online Retail, cutoff 2011-09-09, 90 days; cross-fitted held-out ECE < 0.02."""
    repo = DuckDBRepository(tmp_path / "full.duckdb")
    ingest(repo, shared_data / "online_retail.csv.gz")
    run_id = fit_churn(repo, cutoff=CUTOFF, calibration="platt")
    report = repo.get_run(run_id)["report"]
    assert report["customers"] > 3000
    assert report["ece"] < 0.02 and report["auc"] > 0.72
    repo.close()

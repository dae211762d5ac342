"""POST /score with models fitted by a CLI-style run (BG/NBD + Gamma-Gamma on CDNOW), on both stores.

The API's numbers must equal the fitted models' own predictions for the same customers (the route adds nothing
but transport), and a newer fit run is picked up without restarting the app.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from patron.api import create_app
from patron.config import Settings
from patron.services import clv as clv_service
from patron.services.keys import create_key
from patron.storage import open_repository
from tests.storage.stores import BACKENDS, store_url


def _cdnow(shared_data) -> pd.DataFrame:
    raw = pd.read_csv(shared_data / "cdnow_customers_summary_with_transactions.csv.gz")
    frame = pd.DataFrame(
        {"frequency": raw["x"], "recency": raw["t_x"], "T": raw["T"], "monetary_value": raw["zbar"]}
    ).astype(float)
    frame.index = pd.Index(raw["ID"].astype(str), name="customer_id")
    return frame


def _fit(repo, summary: pd.DataFrame) -> str:
    from patron.models.clv import BetaGeoModel, GammaGammaModel

    with repo.run("clv_fit", {"data": "cdnow"}) as run:
        run.save_model("purchase", BetaGeoModel().fit(summary[["frequency", "recency", "T"]]))
        run.save_model("spend", GammaGammaModel().fit(summary))
    return run.run_id


@pytest.fixture(params=BACKENDS, scope="module")
def scoring(request, tmp_path_factory, shared_data):
    summary = _cdnow(shared_data)
    with store_url(request.param, tmp_path_factory.mktemp("score")) as url:
        with open_repository(url) as repo:
            _, token = create_key(repo, ["score"])
        app = create_app(Settings(store=url))
        app.state.models.refresh_seconds = 0  # see a new fit at once
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, url, {"X-API-Key": token}, summary


def test_409_until_a_model_is_fitted_then_scores_match_the_model(scoring) -> None:
    client, url, headers, summary = scoring
    body = {"customers": [{"frequency": 2, "recency": 30.43, "T": 38.86, "monetary_value": 22.35}]}
    r = client.post("/score", json=body, headers=headers)
    assert r.status_code == 409 and "clv_fit" in r.json()["error"]["message"]
    with open_repository(url) as repo:
        run_id = _fit(repo, summary)
        purchase = repo.load_model("purchase", run_id=run_id)
        spend = repo.load_model("spend", run_id=run_id)
    sample = summary.iloc[:25]
    customers = [
        {
            "customer_id": cid,
            **{k: float(v) for k, v in row.items() if not (k == "monetary_value" and row["frequency"] == 0)},
        }
        for cid, row in sample.iterrows()
    ]
    r = client.post("/score", json={"customers": customers, "horizon": 52}, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["clv_run_id"] == run_id and out["horizon"] == 52
    got = pd.DataFrame(out["scores"]).set_index("customer_id")
    assert got.index.tolist() == sample.index.tolist()
    expected = clv_service.score_frame(purchase, spend, sample, horizon=52)
    for column in ("probability_alive", "expected_purchases", "clv"):
        np.testing.assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-12)
    np.testing.assert_allclose(
        got["probability_alive"],
        purchase.probability_alive(sample[["frequency", "recency", "T"]]),
        rtol=1e-12,
    )


def test_a_newer_fit_is_picked_up(scoring) -> None:
    client, url, headers, summary = scoring
    with open_repository(url) as repo:
        newer = _fit(repo, summary.iloc[:1500])
    one = {"customers": [{"frequency": 0, "recency": 0, "T": 30}]}
    r = client.post("/score", json=one, headers=headers)
    assert r.status_code == 200 and r.json()["clv_run_id"] == newer


@pytest.mark.slow
def test_churn_features_add_the_churn_models_answer(tmp_path) -> None:
    """With a churn_fit run stored, a customer sent with features also gets the churn service's probability and
    reasons, equal to calling the service directly."""
    from patron.data import sample_path
    from patron.services.churn import churn_features_at, fit_churn, score_customer
    from patron.services.ingest import ingest
    from patron.services.summary import build_summaries

    url = str(tmp_path / "churn.duckdb")
    with open_repository(url) as repo:
        ingest(repo, sample_path())
        build_summaries(repo, time_unit="W")
        summary = repo.read_table("btyd_summary").set_index("customer_id").astype(float)
        _fit(repo, summary)
        fit_churn(repo, folds=2)
        model = repo.load_model("churn", kind="churn_fit")
        features = churn_features_at(repo, model)
        _, token = create_key(repo, ["score"])
    row = features.iloc[0]
    cid = str(row["customer_id"]) if "customer_id" in row else str(row.name)
    numeric = {
        k: (None if pd.isna(v) else float(v))
        for k, v in row.items()
        if k != "customer_id" and np.isscalar(v) and isinstance(v, int | float | np.number)
    }
    expected = score_customer(model, {"customer_id": cid, **numeric})
    body = {"customers": [{"customer_id": cid, "frequency": 0, "recency": 0, "T": 10, "features": numeric}]}
    with TestClient(create_app(Settings(store=url))) as client:
        r = client.post("/score", json=body, headers={"X-API-Key": token})
    assert r.status_code == 200, r.text
    churn = r.json()["scores"][0]["churn"]
    assert churn["probability"] == pytest.approx(expected["probability"], rel=1e-12)
    assert churn["model_version"] == expected["model_version"]
    assert [x["feature"] for x in churn["reasons"]] == [x["feature"] for x in expected["reasons"]]

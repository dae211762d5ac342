"""POST /score assigns new customers to the stored segmenter's segments, on both stores.

A store with planted customer types (loyal, lapsed, newcomer), weekly BTYD summaries, a K-Means ``segment`` run
and a BG/NBD + Gamma-Gamma ``clv_fit`` run. The API's segment for a customer must be what the segmentation
service's own ``assign`` gives for the features written out here by hand from the same summary (the route adds
only transport), and a customer sent with its stored features must land in its stored segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from patron.api import create_app
from patron.config import Settings
from patron.features.segment_features import segment_features
from patron.services.clv import fit_clv
from patron.services.keys import create_key
from patron.services.segmentation import assign, segment
from patron.services.summary import build_summaries
from patron.storage import open_repository
from tests.services.test_segmentation import planted_lines
from tests.storage.stores import BACKENDS, store_url

# One worker runs the module in order: the last test adds a segment run to the shared store.
pytestmark = pytest.mark.xdist_group("api_score_segment")


@pytest.fixture(params=BACKENDS, scope="module")
def segmented(request, tmp_path_factory):
    with store_url(request.param, tmp_path_factory.mktemp("seg")) as url:
        with open_repository(url) as repo:
            lines, _ = planted_lines()
            repo.replace_tables({"transactions": lines})
            build_summaries(repo, time_unit="W")
            fit_clv(repo, model="bgnbd")
            run_id = segment(repo, method="kmeans", k=3, top_categories=0)
            summary = repo.read_table("btyd_summary").set_index("customer_id").sort_index()
            _, token = create_key(repo, ["score"])
        app = create_app(Settings(store=url))
        app.state.models.refresh_seconds = 0  # see a new run at once
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, url, {"X-API-Key": token}, summary, run_id


def _customers(summary: pd.DataFrame) -> list[dict]:
    return [
        {
            "customer_id": str(cid),
            **{k: float(row[k]) for k in ("frequency", "recency", "T", "monetary_value")},
        }
        for cid, row in summary.iterrows()
    ]


def test_segment_and_strength_match_the_segmentation_service(segmented) -> None:
    client, url, headers, summary, run_id = segmented
    sample = summary.iloc[::9]
    r = client.post("/score", json={"customers": _customers(sample)}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["segment_run_id"] == run_id
    got = pd.DataFrame(body["scores"]).set_index("customer_id")
    # The features from a weekly summary, by hand: ages in days, orders = repeat periods + 1, spend = orders x mean.
    orders = sample["frequency"] + 1
    features = pd.DataFrame(
        {
            "customer_id": sample.index.astype(str),
            "recency_days": (sample["T"] - sample["recency"]) * 7,
            "tenure_days": sample["T"] * 7,
            "log_frequency": np.log1p(orders),
            "log_monetary": np.log1p(orders * sample["monetary_value"]),
        }
    )
    with open_repository(url) as repo:
        expected = assign(repo, features).set_index("customer_id").loc[got.index]
    np.testing.assert_array_equal(got["segment"].to_numpy(int), expected["segment"].to_numpy(int))
    assert got["segment_name"].tolist() == expected["segment_name"].tolist()
    np.testing.assert_allclose(got["segment_strength"].to_numpy(float), expected["strength"], rtol=1e-12)
    assert ((got["segment_strength"] >= 0) & (got["segment_strength"] <= 1)).all()
    assert (got["segment_run_id"] == run_id).all()


def test_stored_features_give_the_stored_segment(segmented) -> None:
    client, url, headers, summary, run_id = segmented
    with open_repository(url) as repo:
        stored = repo.read_results("segment_assignments", run_id=run_id).set_index("customer_id")
        features = segment_features(repo, top_categories=0)
    ids = [str(c) for c in features.index[::20]]
    customers = _customers(summary.loc[ids])
    for c in customers:
        c["segment_features"] = {k: float(v) for k, v in features.loc[c["customer_id"]].items()}
    r = client.post("/score", json={"customers": customers}, headers=headers)
    assert r.status_code == 200, r.text
    got = {s["customer_id"]: s["segment"] for s in r.json()["scores"]}
    assert got == {cid: int(stored.loc[cid, "segment"]) for cid in ids}


def test_unknown_segment_feature_is_a_clear_422(segmented) -> None:
    client, _, headers, summary, _ = segmented
    customer = _customers(summary.iloc[:1])[0] | {"segment_features": {"shoe size": 42.0}}
    r = client.post("/score", json={"customers": [customer]}, headers=headers)
    assert r.status_code == 422
    assert "shoe size" in r.json()["error"]["message"]


def test_inputs_the_summary_cannot_give_are_named_then_used(segmented) -> None:
    """A segmenter fitted with category shares: without them the segment is null and the missing inputs are
    named; with them the customer gets the segment assign gives. A newer segment run is picked up at once."""
    client, url, headers, summary, first_run = segmented
    with open_repository(url) as repo:
        run_id = segment(repo, method="kmeans", k=3, top_categories=3)
        features = segment_features(repo, top_categories=3)
    shares = [c for c in features.columns if c.startswith("share ")]
    assert shares
    cid = str(features.index[0])
    customer = _customers(summary.loc[[cid]])[0]
    r = client.post("/score", json={"customers": [customer]}, headers=headers)
    assert r.status_code == 200, r.text
    score = r.json()["scores"][0]
    assert r.json()["segment_run_id"] == run_id != first_run
    assert score["segment"] is None and sorted(score["segment_missing"]) == sorted(shares)
    customer["segment_features"] = {c: float(features.loc[cid, c]) for c in shares}
    r = client.post("/score", json={"customers": [customer]}, headers=headers)
    score = r.json()["scores"][0]
    with open_repository(url) as repo:
        stored = repo.read_results("segment_assignments", run_id=run_id).set_index("customer_id")
    assert score["segment"] == int(stored.loc[cid, "segment"])


def test_one_time_buyer_without_spend_has_no_spend_input(segmented) -> None:
    """A one-time buyer sent without monetary_value: scored (spend model's mean), but their total spend is unknown,
    so log_monetary is named missing rather than taken as 0; with it (their first order's value) they get a
    segment."""
    client, url, headers, _, _ = segmented
    with open_repository(url) as repo:
        run_id = segment(repo, method="kmeans", k=3, top_categories=0)
    one_time = {"customer_id": "new", "frequency": 0, "recency": 0, "T": 3.0}
    r = client.post("/score", json={"customers": [one_time]}, headers=headers)
    assert r.status_code == 200, r.text
    score = r.json()["scores"][0]
    assert score["clv"] > 0 and score["segment"] is None and score["segment_missing"] == ["log_monetary"]
    r = client.post("/score", json={"customers": [one_time | {"monetary_value": 30.0}]}, headers=headers)
    score = r.json()["scores"][0]
    features = pd.DataFrame(
        {"customer_id": ["new"], "recency_days": [21.0], "tenure_days": [21.0]}
        | {"log_frequency": [np.log1p(1.0)], "log_monetary": [np.log1p(30.0)]}
    )
    with open_repository(url) as repo:
        expected = assign(repo, features, run_id=run_id).iloc[0]
    assert score["segment"] == int(expected["segment"]) and score["segment_run_id"] == run_id

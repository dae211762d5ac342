"""Runs, models, segments, queries and stored scores, read through the API (both stores)."""

from __future__ import annotations

import io

import pandas as pd

from patron.services.segments import members
from patron.storage import open_repository


def test_runs_list_and_get(client, seeded) -> None:
    runs = client.get("/runs", params={"kind": "score"}, headers=seeded.headers()).json()
    assert [r["status"] for r in runs].count("succeeded") == 2
    assert {r["run_id"] for r in runs} == {*seeded.score_runs, seeded.failed_run}
    one = client.get(f"/runs/{seeded.score_runs[0]}", headers=seeded.headers()).json()
    assert one["params"] == {"value": 100.0} and one["kind"] == "score"
    r = client.get("/runs/nope", headers=seeded.headers())
    assert r.status_code == 404 and r.json()["error"] == {
        "code": "not_found",
        "message": "no run with id 'nope'",
    }


def test_models_list(client, seeded) -> None:
    assert client.get("/models", headers=seeded.headers()).json() == []
    with open_repository(seeded.url) as repo, repo.run("clv_fit") as run:
        run.save_model("purchase", {"r": 1})
        run.save_model("spend", {"p": 2})
    models = client.get("/models", headers=seeded.headers()).json()
    assert sorted(m["name"] for m in models) == ["purchase", "spend"]
    assert {m["kind"] for m in models} == {"clv_fit"}


def test_segments_and_members(client, seeded) -> None:
    segs = client.get("/segments", headers=seeded.headers()).json()
    assert [s["name"] for s in segs] == ["big"] and segs[0]["kind"] == "where"
    with open_repository(seeded.url) as repo:
        expected = members(repo, "big")["customer_id"].tolist()
    page = client.get(
        "/segments/big/members", params={"limit": 5, "offset": 2}, headers=seeded.headers()
    ).json()
    assert page["total"] == len(expected) == 30
    assert [m["customer_id"] for m in page["members"]] == expected[2:7]
    r = client.get("/segments/big/members", params={"format": "csv"}, headers=seeded.headers())
    assert r.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(r.text), dtype=str)
    assert frame.columns.tolist() == ["segment", "customer_id"]
    assert frame["customer_id"].tolist() == expected
    r = client.get("/segments/nope/members", headers=seeded.headers())
    assert r.status_code == 404 and "defined segments: big" in r.json()["error"]["message"]


def test_relate_and_customer_query(client, seeded) -> None:
    query = {
        "relate": ["category"],
        "target": {"$top": {"revenue": 0.2}},
        "order_by": "-lift",
        "limit": 3,
    }
    body = client.post("/relate", json={"query": query}, headers=seeded.headers()).json()
    assert body["n_customers"] == 120 and len(body["patterns"]) == 3
    assert body["target"] == "in the top 20% by revenue"
    lifts = [p["lift"] for p in body["patterns"]]
    assert lifts == sorted(lifts, reverse=True)
    r = client.post(
        "/customers/query", json={"where": {"$top": {"revenue": 0.25}}, "limit": 4}, headers=seeded.headers()
    ).json()
    assert r["total"] == 30 and len(r["customer_ids"]) == 4
    bad = client.post("/relate", json={"query": {"relate": ["nope"], "target": {}}}, headers=seeded.headers())
    assert bad.status_code == 422 and "nope" in bad.json()["error"]["message"]


def test_latest_scores_skip_the_failed_run(client, seeded) -> None:
    body = client.get("/customers/C0003/scores", headers=seeded.headers()).json()
    assert body["customer_id"] == "C0003"
    (clv,) = body["clv"]
    assert clv["clv"] == 203.0 and clv["run_id"] == seeded.score_runs[1]
    assert clv["run_kind"] == "score" and clv["run_finished_at"]
    assert body["churn"][0]["probability"] == 0.2
    assert [r["rank"] for r in sorted(body["reasons"], key=lambda r: r["rank"])] == [1, 2]
    assert body["segment"] == []


def test_score_history_newest_first(client, seeded) -> None:
    body = client.get("/customers/C0003/scores/history", headers=seeded.headers()).json()
    assert [r["clv"] for r in body["clv"]] == [203.0, 103.0]  # never 999 + 3: that run failed
    assert [r["run_id"] for r in body["clv"]] == seeded.score_runs[::-1]
    assert len(body["reasons"]) == 4
    one = client.get("/customers/C0003/scores/history", params={"runs": 1}, headers=seeded.headers()).json()
    assert [r["clv"] for r in one["clv"]] == [203.0]


def test_unknown_customer_is_404(client, seeded) -> None:
    r = client.get("/customers/ZZZ/scores", headers=seeded.headers())
    assert r.status_code == 404 and r.json()["error"]["message"] == "no stored scores for customer 'ZZZ'"

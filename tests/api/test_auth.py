"""Every endpoint but health/readiness needs a key; scopes are enforced; revoked keys stop working."""

from __future__ import annotations

import pytest

from patron.services.keys import create_key, list_keys, verify_key
from patron.storage import open_repository

PROTECTED = [
    ("GET", "/runs"),
    ("GET", "/runs/{run_id}"),
    ("GET", "/models"),
    ("GET", "/segments"),
    ("GET", "/segments/big/members"),
    ("GET", "/customers/C0001/scores"),
    ("GET", "/customers/C0001/scores/history"),
    ("POST", "/relate"),
    ("POST", "/customers/query"),
    ("POST", "/score"),
]


def test_health_and_ready_need_no_key(client) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["runs"] == 3
    assert ready["store"] in ("duckdb", "postgresql")


def test_every_other_endpoint_needs_a_key(client, seeded) -> None:
    documented = {(m.upper(), p) for p, ops in client.app.openapi()["paths"].items() for m in ops}
    assert documented - {("GET", "/health"), ("GET", "/ready")} == {
        (m, p.replace("big", "{name}").replace("C0001", "{customer_id}")) for m, p in PROTECTED
    }
    for method, path in PROTECTED:
        r = client.request(method, path, json={})
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized"
        assert "API key" in r.json()["error"]["message"]
        r = client.request(method, path, json={}, headers={"X-API-Key": seeded.revoked})
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_bearer_and_header_both_work(client, seeded) -> None:
    assert client.get("/runs", headers={"X-API-Key": seeded.read}).status_code == 200
    assert client.get("/runs", headers={"Authorization": f"Bearer {seeded.read}"}).status_code == 200


def test_wrong_secret_of_a_real_key_is_refused(client, seeded) -> None:
    tampered = seeded.read[:-4] + ("AAAA" if not seeded.read.endswith("AAAA") else "BBBB")
    assert client.get("/runs", headers={"X-API-Key": tampered}).status_code == 401


def test_scopes(client, seeded) -> None:
    r = client.post(
        "/score", json={"customers": [{"frequency": 1, "recency": 1, "T": 2}]}, headers=seeded.headers()
    )
    assert r.status_code == 403 and "'score' scope" in r.json()["error"]["message"]
    r = client.get("/runs", headers=seeded.headers(seeded.score))
    assert r.status_code == 403 and "'read' scope" in r.json()["error"]["message"]
    assert client.get("/runs", headers=seeded.headers(seeded.admin)).status_code == 200


def test_keys_are_stored_hashed(seeded) -> None:
    with open_repository(seeded.url) as repo:
        table = repo.query("SELECT * FROM api_keys")
        dump = table.astype(str).to_string()
        for token in (seeded.read, seeded.score, seeded.admin):
            secret = token.split("_", 2)[2]
            assert secret not in dump
        assert verify_key(repo, seeded.read).scopes == ("read",)
        assert verify_key(repo, "patron_000000000000_" + "x" * 43) is None
        assert verify_key(repo, "'; DROP TABLE api_keys; --") is None
        assert len(list_keys(repo)) == 4
        # salts differ, so two keys never share a hash input
        assert table["salt"].nunique() == len(table)
        with pytest.raises(Exception, match="unknown scope"):
            create_key(repo, ["write"])

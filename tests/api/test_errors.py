"""Bad requests get clear JSON 4xx answers; unexpected failures a generic 500 with no trace (both stores)."""

from __future__ import annotations

import json

from tests.api.conftest import MAX_BYTES

ONE = {"frequency": 2, "recency": 10.0, "T": 20.0, "monetary_value": 15.0}


def _error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Traceback" not in r.text
    return body["error"]


def test_malformed_json_is_400(client, seeded) -> None:
    r = client.post(
        "/score",
        content=b'{"customers": [',
        headers={"X-API-Key": seeded.score, "content-type": "application/json"},
    )
    err = _error(r, 400)
    assert err["code"] == "malformed_json" and "not valid JSON" in err["message"]


def test_wrong_types_name_the_field(client, seeded) -> None:
    bad = {"customers": [{**ONE, "frequency": "many"}]}
    err = _error(client.post("/score", json=bad, headers={"X-API-Key": seeded.score}), 422)
    assert err["code"] == "invalid_input" and err["message"].startswith("customers.0.frequency:")
    err = _error(client.get("/runs", params={"limit": "ten"}, headers=seeded.headers()), 422)
    assert "query.limit" in err["message"]
    err = _error(
        client.post(
            "/score", json={"customers": [{**ONE, "recency": 30.0}]}, headers={"X-API-Key": seeded.score}
        ),
        422,
    )
    assert "recency (30.0) must not exceed T (20.0)" in err["message"]
    err = _error(client.post("/score", json={"customers": []}, headers={"X-API-Key": seeded.score}), 422)
    assert "customers" in err["message"]


def test_unknown_fields_are_refused_by_name(client, seeded) -> None:
    err = _error(
        client.post(
            "/score", json={"customers": [{**ONE, "frequncy": 3}]}, headers={"X-API-Key": seeded.score}
        ),
        422,
    )
    assert err["message"] == "customers.0.frequncy: unknown field (not part of this endpoint's schema)"
    err = _error(client.post("/relate", json={"query": {}, "debug": True}, headers=seeded.headers()), 422)
    assert "debug: unknown field" in err["message"]


def test_huge_payload_is_413_before_it_is_read(client, seeded) -> None:
    body = json.dumps({"customers": [ONE] * (MAX_BYTES // 40)}).encode()
    assert len(body) > MAX_BYTES
    r = client.post(
        "/score", content=body, headers={"X-API-Key": seeded.score, "content-type": "application/json"}
    )
    err = _error(r, 413)
    assert err["code"] == "payload_too_large" and f"{MAX_BYTES:,} bytes" in err["message"]


def test_streamed_huge_payload_is_413(client, seeded) -> None:
    def chunks():
        for _ in range(MAX_BYTES // 1000 + 2):
            yield b" " * 1000

    r = client.post(
        "/relate", content=chunks(), headers={"X-API-Key": seeded.read, "content-type": "application/json"}
    )
    assert _error(r, 413)["code"] == "payload_too_large"


def test_sql_looking_strings_are_only_values(client, seeded) -> None:
    nasty = "C0001' OR '1'='1"
    err = _error(client.get(f"/customers/{nasty}/scores", headers=seeded.headers()), 404)
    assert nasty in err["message"]
    err = _error(client.get("/runs/x'; DROP TABLE runs; --", headers=seeded.headers()), 404)
    r = client.post(
        "/customers/query",
        json={"where": {"customer_id": {"$in": ["'; DROP TABLE transactions; --", "C0001"]}}},
        headers=seeded.headers(),
    )
    assert r.status_code == 200 and r.json()["customer_ids"] == ["C0001"]
    err = _error(
        client.post("/customers/query", json={"where": {"1=1; --": 1}}, headers=seeded.headers()), 422
    )
    assert "1=1; --" in err["message"]
    assert client.get("/runs", headers=seeded.headers()).status_code == 200  # the tables are all still there
    assert client.get("/customers/C0001/scores", headers=seeded.headers()).status_code == 200


def test_unexpected_error_is_a_generic_500(client, seeded, monkeypatch, caplog) -> None:
    from patron.api.routes import customers

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(customers, "customer_scores", broken)
    r = client.get("/customers/C0001/scores", headers=seeded.headers())
    err = _error(r, 500)
    assert err == {"code": "internal_error", "message": "internal error: the server logged the details"}
    assert "secret internals" not in r.text
    assert "secret internals" in caplog.text  # logged for the operator


def test_unknown_path_and_method_are_json(client, seeded) -> None:
    assert _error(client.get("/nope", headers=seeded.headers()), 404)["code"] == "not_found"
    assert _error(client.delete("/runs", headers=seeded.headers()), 405)["code"] == "method_not_allowed"

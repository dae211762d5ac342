"""API tests run against both stores (DuckDB file, PostgreSQL schema), through the real app in-process."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from patron.api import create_app
from patron.config import Settings
from patron.services.keys import create_key, revoke_key
from patron.services.segments import define_segment
from patron.storage import open_repository
from tests.query.synthetic import fill_store
from tests.storage.stores import BACKENDS, store_url

MAX_BYTES = 200_000


@dataclass
class Seeded:
    url: str
    read: str
    score: str
    admin: str
    revoked: str
    score_runs: list[str]
    failed_run: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"X-API-Key": token or self.read}


def write_scores(repo, value: float, *, fail: bool = False) -> str:
    """One scoring run writing every score table for customers C0000..C0009 (clv = value + i)."""
    ids = [f"C{i:04d}" for i in range(10)]
    try:
        with repo.run("score", {"value": value}) as run:
            run.write(
                "clv_scores",
                pd.DataFrame(
                    {
                        "customer_id": ids,
                        "probability_alive": 0.9,
                        "expected_purchases": 2.0,
                        "expected_spend": 30.0,
                        "clv": [value + i for i in range(10)],
                    }
                ),
            )
            run.write(
                "churn_scores",
                pd.DataFrame(
                    {
                        "customer_id": ids,
                        "probability": value / 1000,
                        "model_version": "m1",
                        "scored_at": pd.Timestamp("2026-01-01"),
                    }
                ),
            )
            run.write(
                "churn_reasons",
                pd.DataFrame(
                    {
                        "customer_id": ids * 2,
                        "rank": [1] * 10 + [2] * 10,
                        "feature": ["recency"] * 10 + ["frequency"] * 10,
                        "contribution": [0.3] * 10 + [0.1] * 10,
                        "reason": ["long since the last order"] * 10 + ["few orders"] * 10,
                    }
                ),
            )
            if fail:
                raise RuntimeError("killed halfway")
    except RuntimeError:
        pass
    return run.run_id


@pytest.fixture(params=BACKENDS, scope="module")
def url(request, tmp_path_factory):
    """One store per backend per test module (the tests of a module only add to it, in ways they check)."""
    with store_url(request.param, tmp_path_factory.mktemp("api")) as u:
        yield u


@pytest.fixture(scope="module")
def seeded(url) -> Seeded:
    with open_repository(url) as repo:
        fill_store(repo, n_customers=120, seed=3)
        define_segment(repo, "big", {"where": {"$top": {"revenue": 0.25}}})
        first = write_scores(repo, 100.0)
        second = write_scores(repo, 200.0)
        failed = write_scores(repo, 999.0, fail=True)
        tokens = {s: create_key(repo, [s], name=f"test {s}")[1] for s in ("read", "score", "admin")}
        old, revoked = create_key(repo, ["read", "score"], name="old")
        revoke_key(repo, old.key_id)
    return Seeded(url, tokens["read"], tokens["score"], tokens["admin"], revoked, [first, second], failed)


@pytest.fixture(scope="module")
def client(seeded):
    app = create_app(Settings(store=seeded.url, max_request_bytes=MAX_BYTES))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c

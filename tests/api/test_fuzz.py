"""Schemathesis against the app's own OpenAPI document (in-process ASGI): no generated request gets a 5xx.

Runs on a seeded DuckDB store, with a valid admin key (so requests reach the services, not just the auth check)
and 15 examples per operation to stay under ~30 s; the explicit edge cases are in test_errors.py.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from patron.api import create_app
from patron.config import Settings
from patron.services.keys import create_key
from patron.services.segments import define_segment
from patron.storage import open_repository
from tests.api.conftest import write_scores
from tests.query.synthetic import fill_store

pytestmark = pytest.mark.slow

_TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    url = str(tmp_path_factory.mktemp("fuzz") / "store.duckdb")
    with open_repository(url) as repo:
        fill_store(repo, n_customers=60, seed=5)
        define_segment(repo, "big", {"where": {"$top": {"revenue": 0.25}}})
        write_scores(repo, 1.0)
        _TOKEN["admin"] = create_key(repo, ["admin"])[1]
    app = create_app(Settings(store=url, max_request_bytes=100_000))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(api_schema) -> None:
    # Hypothesis drives schemathesis' strategy for each operation (its pytest plugin's lazy fixture loader does not
    # support this pytest version, so the operations are iterated here).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            response = case.call(headers={"X-API-Key": _TOKEN["admin"]})
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.text[:500]}"
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and body["error"]["message"], f"{where}: {response.text}"

        check()

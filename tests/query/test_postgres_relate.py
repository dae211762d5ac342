"""The compiled SQL runs unchanged on PostgreSQL: relate scans and segments equal DuckDB's, row for row.

Needs the PostgreSQL server at PATRON_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test), which
`make test` starts; it is not skipped in CI.
"""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pytest

from patron.services.relate import run_relate
from patron.services.segments import audience, define_segment, members, weekly_covariates
from patron.storage import DuckDBRepository
from tests.query.synthetic import fill_store

pytestmark = pytest.mark.postgres

URL = os.environ.get("PATRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_repo():
    import psycopg

    from patron.storage import postgres_store

    schema = f"relate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    repo = postgres_store.PostgresRepository(f"{URL}?options=-csearch_path%3D{schema}")
    try:
        yield repo
    finally:
        repo.close()
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_postgres_and_duckdb_agree(pg_repo, tmp_path) -> None:
    duck = DuckDBRepository(tmp_path / "d.duckdb")
    query = {
        "relate": ["category", "age", {"field": "orders", "bands": 3}],
        "target": {"$top": {"revenue": 0.2}},
        "where": {
            "channel": {"$in": ["web"]},
            "age": {"$ne": None},
            "product": {"$ne": "'; DROP TABLE x; --"},
        },
        "max_order": 3,
    }
    for repo in (pg_repo, duck):
        fill_store(repo, n_customers=300, seed=2)
        define_segment(repo, "top", {"where": {"$top": {"revenue": 0.1}, "age": {"$in": ["18-34", "35-54"]}}})
        define_segment(repo, "pair", {"relate": query, "pattern": "category=cat01 AND category=cat02"})
    a = run_relate(pg_repo, query).set_index("pattern").sort_index()
    b = run_relate(duck, query).set_index("pattern").sort_index()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    for name in ("top", "pair"):
        pd.testing.assert_frame_equal(members(pg_repo, name), members(duck, name))
    pd.testing.assert_frame_equal(
        weekly_covariates(pg_repo, "top"), weekly_covariates(duck, "top"), check_dtype=False
    )
    pd.testing.assert_frame_equal(audience(pg_repo, "top"), audience(duck, "top"))
    duck.close()

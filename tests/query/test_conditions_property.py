"""Property: a random condition selects the same rows in the store (compiled SQL) and in pandas (having)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.query import Catalog, Scope, compile_condition, evaluate_condition
from patron.query.catalog import STATIC_SOURCES, Source
from patron.storage import DuckDBRepository

FRAME = pd.DataFrame(
    {
        "customer_id": [f"c{i}" for i in range(12)],
        "a": [1, 2, 3, None, 5, 1, 2, None, 4, 3, 5, 0],
        "b": [0.5, -1.0, 2.5, 3.0, None, 0.0, 10.0, 2.5, None, 1.5, -3.0, 7.0],
        "s": ["x", "y", None, "z", "x", "'; DROP TABLE t; --", "y", None, "z", "x", "y", "w"],
    }
)
SOURCE = Source("t", "t", ("customer_id", "a", "b", "s"), per_customer=True)
CATALOG = Catalog({**STATIC_SOURCES, "t": SOURCE}, frozenset({"t"}))

numbers = st.sampled_from([-1, 0, 1, 2, 2.5, 3, 5, 10])
strings = st.sampled_from(["x", "y", "z", "w", "q", "'; DROP TABLE t; --"])


def _field_test(field: str, values) -> st.SearchStrategy:
    scalar_op = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"])
    return st.one_of(
        values.map(lambda v: {field: v}),
        st.just({field: None}),
        st.builds(lambda op, v: {field: {op: v}}, scalar_op, values),
        st.builds(lambda op: {field: {op: None}}, st.sampled_from(["$eq", "$ne"])),
        st.builds(
            lambda op, vs: {field: {op: vs}},
            st.sampled_from(["$in", "$nin"]),
            st.lists(values, min_size=1, max_size=3),
        ),
    )


leaf = st.one_of(_field_test("a", numbers), _field_test("b", numbers), _field_test("s", strings))
conditions = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
        inner.map(lambda c: {"$not": c}),
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    repo = DuckDBRepository(tmp_path_factory.mktemp("prop") / "p.duckdb")
    repo.replace_tables({"t": FRAME})
    yield repo
    repo.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cond=conditions)
def test_sql_and_pandas_select_the_same_rows(duck, cond) -> None:
    sql, params = compile_condition(cond, Scope(CATALOG, SOURCE, "rows"))
    assert sql.count("?") == len(params)
    got = duck.query(f"SELECT customer_id FROM t AS r WHERE {sql} ORDER BY customer_id", params)[
        "customer_id"
    ]
    mask = evaluate_condition(cond, FRAME, list(FRAME.columns), where="having")
    want = FRAME.loc[mask, "customer_id"].sort_values()
    assert got.tolist() == want.tolist(), (cond, sql, params)
    assert np.asarray(duck.query("SELECT count(*) AS n FROM t")["n"])[0] == len(FRAME)

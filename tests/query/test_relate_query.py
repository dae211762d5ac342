"""Relate queries: validation messages, compiled SQL, and results equal to an independent pandas computation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from patron.errors import InputError, NotFoundError
from patron.query import Catalog, parse_relate_query
from patron.services.relate import RESULTS_TABLE, compile_query, run_relate
from tests.query.synthetic import fill_store

QUERY = {
    "from": "order_lines",
    "relate": ["category", "age"],
    "target": {"$top": {"revenue": 0.2}},
    "limit": 10,
}


@pytest.fixture
def store(repo):
    lines = fill_store(repo)
    return repo, lines


def test_results_equal_pandas_counts_exactly(store) -> None:
    repo, lines = store
    query = {**QUERY, "max_order": 2, "min_support": 10, "limit": None, "where": {"channel": "web"}}
    query.pop("limit")
    got = run_relate(repo, query).set_index("pattern")

    # Independent computation: per-customer revenue, top 20 % by cume_dist, pair incidence by pandas.
    revenue = lines.groupby("customer_id")["amount"].sum()
    cume = revenue.rank(method="max", ascending=False) / len(revenue)
    target = cume <= 0.2
    attrs = repo.read_table("customer_attributes").set_index("customer_id")
    items = pd.concat(
        [
            lines[["customer_id"]].assign(item="category=" + lines["category"]),
            pd.DataFrame({"customer_id": attrs.index, "item": "age=" + attrs["age"]}),
        ]
    ).drop_duplicates()
    onehot = pd.crosstab(items["customer_id"], items["item"]).reindex(revenue.index, fill_value=0) > 0
    rows = {}
    names = list(onehot.columns)
    for i, a in enumerate(names):
        for b in [None, *names[i + 1 :]]:
            mask = onehot[a] if b is None else onehot[a] & onehot[b]
            support = int(mask.sum())
            if support >= 10:
                rows[a if b is None else f"{a} AND {b}"] = (support, int((mask & target).sum()))
    want = pd.DataFrame.from_dict(rows, orient="index", columns=["support", "hits"])
    assert set(got.index) == set(want.index)
    got = got.loc[want.index]
    base = target.sum() / len(target)
    assert (got["support"] == want["support"]).all()
    assert (got["p"] == want["hits"] / want["support"]).all()
    assert (got["lift"] == (want["hits"] / want["support"]) / base).all()
    k, a, K, n = want["hits"].iloc[0], want["support"].iloc[0], int(target.sum()), len(target)
    fisher = stats.fisher_exact([[k, a - k], [K - k, n - a - K + k]], alternative="greater").pvalue
    assert got["p_value"].iloc[0] == pytest.approx(fisher, rel=1e-9)


def test_planted_pair_is_significant_and_stored(store) -> None:
    repo, _ = store
    out = run_relate(repo, {**QUERY, "max_order": 2, "having": {"q_value": {"$lt": 0.05}}})
    assert out["pattern"].iloc[0] == "category=cat01 AND category=cat02"
    assert out.attrs["target"] == "in the top 20% by revenue"
    stored = repo.read_results(RESULTS_TABLE, kind="relate")
    assert {"pattern", "support", "p", "lift", "lift_lower", "lift_upper", "p_value", "q_value"} <= set(
        stored
    )
    assert len(stored) == out.attrs["n_tested"]
    run = repo.latest_run("relate")
    assert run["params"]["query"]["relate"] == ["category", "age"]
    assert run["report"]["n_significant"] >= 1


def test_select_order_limit_and_bands(store) -> None:
    repo, _ = store
    out = run_relate(
        repo,
        {
            "relate": ["category", {"field": "orders", "bands": 3}],
            "target": {"revenue": {"$gte": 100}},
            "select": ["$support", "q_value"],
            "order_by": "q_value",
            "limit": 3,
            "max_order": 1,
        },
    )
    assert list(out.columns) == ["pattern", "support", "q_value"]
    assert len(out) == 3 and out["q_value"].is_monotonic_increasing
    scan = repo.read_results(RESULTS_TABLE, kind="relate")
    assert scan["pattern"].str.startswith("orders band ").any()


def test_injection_strings_are_values(store) -> None:
    repo, _ = store
    evil = "'; DROP TABLE transactions; --"
    parsed = compile_query(
        repo, {**QUERY, "where": {"$or": [{"category": evil}, {"product": {"$in": [evil]}}]}}
    )
    assert evil not in parsed.target.sql and evil in parsed.target.params
    with pytest.raises(InputError, match="selects no customers"):
        run_relate(repo, {**QUERY, "where": {"category": evil}})
    assert repo.has_table("transactions")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"from": "orders"}, r"unknown source 'orders' in \"from\"; valid sources: order_lines, behaviour"),
        (
            {"relate": ["colour"]},
            r"unknown field 'colour' in \"relate\"\[0\]; valid fields: customer_id, revenue",
        ),
        ({"where": {"amount": {"$like": "x"}}}, r"unknown operator '\$like' in \"where\".amount"),
        ({"select": ["$confidence"]}, r"unknown result field '\$confidence' in \"select\"; valid: \$pattern"),
        ({"limit": 0}, r"\"limit\" must be a positive integer"),
        ({"max_order": 4}, r"\"max_order\" must be 1, 2 or 3"),
        ({"sort": "lift"}, r"unknown query key\(s\) \['sort'\]; valid keys: from, where"),
        ({"target": None}, r"needs a \"target\""),
        ({"relate": [{"field": "category", "bands": 4}]}, "bands are for customer-level fields"),
        ({"relate": [{"field": "orders", "bins": 4}]}, r"must be a field name or \{\"field\": NAME"),
    ],
)
def test_query_errors_name_the_problem(store, patch, message) -> None:
    repo, _ = store
    query = {**QUERY, **patch}
    with pytest.raises(InputError, match=message):
        compile_query(repo, query)


def test_target_inside_relate_list_and_missing_tables(store) -> None:
    repo, _ = store
    parsed = compile_query(repo, {"relate": ["category", {"target": {"orders": {"$gte": 3}}}]})
    assert [d.field for d in parsed.dimensions] == ["category"]
    with pytest.raises(NotFoundError, match="no table 'rfm'"):
        compile_query(repo, {**QUERY, "target": {"rfm.monetary": {"$gte": 1}}})
    with pytest.raises(NotFoundError, match="has no table 'behaviour'"):
        compile_query(repo, {**QUERY, "from": "behaviour"})


def test_compiles_without_a_store() -> None:
    parsed = parse_relate_query(json.loads(json.dumps({**QUERY, "relate": ["category"]})), Catalog.static())
    assert parsed.target.sql.count("?") == len(parsed.target.params) == 1
    assert np.isclose(parsed.min_support, 0.01)


def test_customer_level_and_behaviour_sources(store) -> None:
    repo, lines = store
    customers = lines.groupby("customer_id").agg(revenue=("amount", "sum"), orders=("order_id", "nunique"))
    behaviour = (
        lines.groupby(["customer_id", "category"])
        .agg(orders=("order_id", "nunique"), quantity=("quantity", "sum"), amount=("amount", "sum"))
        .reset_index()
    )
    repo.replace_tables({"customers": customers.reset_index(), "behaviour": behaviour})
    by_customers = run_relate(
        repo,
        {
            "from": "customers",
            "relate": ["age", {"field": "orders", "bands": 3}],
            "target": {"revenue": {"$gte": 100}},
        },
    ).set_index("pattern")
    big = customers["revenue"] >= 100
    five = customers["orders"] == 5
    assert by_customers.loc["orders band 3/3 (5 to 5)", "support"] == five.sum()
    assert by_customers.loc["orders band 3/3 (5 to 5)", "p"] == (five & big).sum() / five.sum()
    by_behaviour = run_relate(
        repo,
        {"from": "behaviour", "relate": ["category"], "target": {"$top": {"revenue": 0.2}}, "max_order": 2},
    ).set_index("pattern")
    by_lines = run_relate(
        repo,
        {"from": "order_lines", "relate": ["category"], "target": {"$top": {"revenue": 0.2}}, "max_order": 2},
    ).set_index("pattern")
    # behaviour is the same customer x category data, so the scans agree
    pd.testing.assert_frame_equal(by_behaviour.sort_index(), by_lines.sort_index())


def test_plain_words() -> None:
    from patron.services.relate import describe_pattern

    row = {
        "pattern": "age=35-44 AND category=DOG FOODS AND category=GRAIN FREE",
        "lift": 3.4,
        "p": 0.52,
        "support": 130,
    }
    assert describe_pattern(row, "in the top 20% by revenue", ["category"]) == (
        "customers who buy DOG FOODS and GRAIN FREE, with age 35-44, are 3.40x as likely to be in the top 20% by "
        "revenue (52% of 130 customers)"
    )
    assert describe_pattern({**row, "pattern": "age=35-44"}, "churned", ["category"]).startswith(
        "customers with age 35-44 are 3.40x as likely to be churned"
    )

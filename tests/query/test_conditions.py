"""Condition compiler: parameterised SQL, whitelisted identifiers, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from patron.errors import InputError, NotFoundError
from patron.query import Catalog, Scope, compile_condition, evaluate_condition
from patron.query.catalog import STATIC_SOURCES


def _rows() -> Scope:
    return Scope(Catalog.static(), STATIC_SOURCES["order_lines"], "rows")


def _customers() -> Scope:
    return Scope(Catalog.static(), STATIC_SOURCES["order_lines"], "customers")


def test_operators_compile_to_placeholders() -> None:
    sql, params = compile_condition(
        {
            "$and": [
                {"amount": {"$gte": 10, "$lt": 99.5}},
                {"$or": [{"category": {"$in": ["a", "b"]}}, {"$not": {"channel": "web"}}]},
                {"region": {"$ne": None}},
                {"product": {"$nin": ["x"]}, "quantity": {"$gt": 0, "$lte": 5}},
            ]
        },
        _rows(),
    )
    assert sql == (
        '((r."amount" >= ? AND r."amount" < ?) AND (r."category" IN (?, ?) OR (NOT r."channel" = ?)) '
        'AND r."region" IS NOT NULL AND (r."product" NOT IN (?) AND (r."quantity" > ? AND r."quantity" <= ?)))'
    )
    assert params == [10, 99.5, "a", "b", "web", "x", 0, 5]


def test_sql_looking_strings_are_only_values() -> None:
    evil = "'; DROP TABLE transactions; --"
    sql, params = compile_condition({"category": evil}, _rows())
    assert evil not in sql and params == [evil]


def test_customer_fields_join_their_source(repo) -> None:
    repo.replace_tables(
        {
            "transactions": pd.DataFrame({"customer_id": ["a"], "amount": [1.0]}),
            "rfm": pd.DataFrame({"customer_id": ["a"], "monetary": [1.0]}),
            "customer_attributes": pd.DataFrame({"customer_id": ["a"], "age": ["35-44"]}),
        }
    )
    catalog = Catalog.from_repo(repo)
    scope = Scope(catalog, catalog.sources["order_lines"], "customers")
    sql, params = compile_condition({"rfm.monetary": {"$gte": 100}, "age": "35-44"}, scope)
    assert sql == '("rfm"."monetary" >= ? AND "customer_attributes"."age" = ?)'
    assert params == [100, "35-44"]
    assert scope.used == {"rfm", "customer_attributes"}
    assert 'LEFT JOIN "customer_attributes" AS "customer_attributes"' in scope.joins()
    # the static catalog knows no "age": only columns the store really has are valid
    with pytest.raises(InputError, match="unknown field 'age'"):
        compile_condition({"age": "35-44"}, _customers())


def test_unknown_field_is_named_with_the_valid_ones() -> None:
    with pytest.raises(
        InputError, match=r"unknown field 'colour' in \"where\"; valid fields: customer_id, .*amount"
    ):
        compile_condition({"colour": "red"}, _rows(), where='"where"')
    with pytest.raises(InputError, match=r"unknown field 'rfm.colour'"):
        compile_condition({"rfm.colour": 1}, _customers())


def test_unknown_operator_is_named_with_the_valid_ones() -> None:
    with pytest.raises(
        InputError, match=r"unknown operator '\$regex' in where.category; valid operators on a field: \$eq"
    ):
        compile_condition({"category": {"$regex": "a.*"}}, _rows())
    with pytest.raises(
        InputError, match=r"unknown operator '\$xor' in where; valid operators: \$and, \$or, \$not"
    ):
        compile_condition({"$xor": []}, _rows())
    with pytest.raises(InputError, match=r"\$top/\$bottom are allowed in target"):
        compile_condition({"$top": {"amount": 0.2}}, _rows())


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        ({}, "must be a non-empty JSON object"),
        ({"$and": []}, r"where.\$and must be a non-empty list"),
        ({"amount": {"$in": []}}, r"needs a non-empty list"),
        ({"amount": {"$gt": None}}, "null can only be compared with"),
        ({"amount": {"$gt": [1]}}, "expected a string, number, boolean or null, got list"),
        ({"amount": float("nan")}, "numbers must be finite"),
        ({"amount": {"$in": [1, None]}}, "null cannot be in a list"),
    ],
)
def test_malformed_conditions(cond, message) -> None:
    with pytest.raises(InputError, match=message):
        compile_condition(cond, _rows())


def test_bands_compile_to_cume_dist() -> None:
    sql, params = compile_condition({"$top": {"revenue": 0.2}}, _customers(), allow_bands=True)
    assert 'cume_dist() OVER (ORDER BY m."revenue" DESC NULLS LAST) <= ?' in sql
    assert params == [0.2]
    with pytest.raises(InputError, match=r"must be a share in \(0, 1\]"):
        compile_condition({"$bottom": {"revenue": 2}}, _customers(), allow_bands=True)


def test_missing_table_is_reported(repo) -> None:
    catalog = Catalog.from_repo(repo)  # empty store
    scope = Scope(catalog, catalog.sources["order_lines"], "customers")
    with pytest.raises(NotFoundError, match="no table 'rfm'"):
        compile_condition({"rfm.monetary": 1}, scope)


def test_evaluate_condition_matches_pandas() -> None:
    frame = pd.DataFrame(
        {"lift": [0.5, 2.0, 3.0, None], "q_value": [0.5, 0.01, 0.2, 0.01], "order": [1, 2, 3, 2]}
    )
    mask = evaluate_condition(
        {"$or": [{"lift": {"$gt": 1}, "q_value": {"$lt": 0.05}}, {"order": {"$in": [3]}}]},
        frame,
        list(frame.columns),
        where="having",
    )
    assert mask.tolist() == [False, True, True, False]
    with pytest.raises(
        InputError, match="unknown field 'colour' in having; valid fields: lift, q_value, order"
    ):
        evaluate_condition({"colour": 1}, frame, list(frame.columns), where="having")

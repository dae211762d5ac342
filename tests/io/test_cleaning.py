"""Cleaning rules, return netting and the row/revenue account."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.errors import ConfigError
from patron.io.cleaning import CleaningRules, clean, non_product_mask


def lines(*rows: tuple) -> pd.DataFrame:
    """(customer, order, product, quantity, price, day) tuples as a canonical frame."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "product", "quantity", "unit_price", "day"]
    )
    frame["timestamp"] = pd.Timestamp("2011-01-01") + pd.to_timedelta(frame.pop("day"), unit="D")
    frame["amount"] = frame["quantity"] * frame["unit_price"]
    frame["source_row"] = np.arange(2, len(frame) + 2)
    frame["source"] = "t"
    frame["source_customer_id"] = frame["customer_id"]
    frame["is_duplicate"] = False
    return frame


def test_return_is_netted_against_the_most_recent_earlier_purchase() -> None:
    frame = lines(
        ("c1", "1", "A", 10, 2.0, 0),
        ("c1", "2", "A", 4, 2.5, 5),
        ("c1", "C3", "A", -6, 2.5, 6),  # takes 4 from order 2 (all of it), then 2 from order 1
        ("c1", "4", "A", 3, 2.0, 7),  # bought after the return: untouched
    )
    result = clean(frame, CleaningRules.default())
    assert result.category.tolist() == ["kept", "purchases_fully_returned", "returns_netted", "kept"]
    kept = result.kept.set_index("order_id")
    assert kept.loc["1", "quantity"] == 8 and kept.loc["1", "amount"] == pytest.approx(16.0)
    assert kept.loc["4", "quantity"] == 3
    assert result.revenue_netted == pytest.approx(-4.0)


def test_return_before_any_purchase_or_of_another_product_is_unmatched() -> None:
    frame = lines(
        ("c1", "C1", "A", -1, 2.0, 0),  # before the purchase
        ("c1", "2", "A", 1, 2.0, 1),
        ("c1", "C3", "X", -1, 2.0, 2),  # never bought X
        ("c2", "C4", "A", -1, 2.0, 3),  # another customer
    )
    result = clean(frame, CleaningRules.default())
    assert result.category.tolist() == ["returns_unmatched", "kept", "returns_unmatched", "returns_unmatched"]


def test_return_larger_than_the_purchase_is_partly_matched() -> None:
    frame = lines(("c1", "1", "A", 2, 1.0, 0), ("c1", "C2", "A", -5, 1.0, 1))
    result = clean(frame, CleaningRules.default())
    assert result.category.tolist() == ["purchases_fully_returned", "returns_netted"]
    assert result.returns_partially_matched == 1
    assert result.rows_kept == 0


def test_classic_rules_drop_instead_of_netting() -> None:
    frame = lines(
        ("c1", "1", "A", 10, 2.0, 0),
        ("c1", "C3", "A", -6, 2.5, 6),
        ("c1", "4", "POST", 1, 18.0, 7),
        (None, "5", "A", 1, 2.0, 7),
        ("c2", "6", "A", 1, 0.0, 7),
    )
    result = clean(frame, CleaningRules.classic())
    assert result.category.tolist() == [
        "kept",
        "returns_dropped",
        "kept",
        "missing_customer_id",
        "nonpositive_price",
    ]
    assert result.flagged["non_product"] == (1, 18.0)
    assert result.kept["quantity"].tolist() == [10, 1]


def test_each_rule_can_be_switched() -> None:
    frame = lines(("c1", "1", "A", 1, 2.0, 0), ("c1", "1", "A", 1, 2.0, 0), ("c1", "2", "DOT", 1, 5.0, 1))
    frame.loc[1, "is_duplicate"] = True
    assert clean(frame, CleaningRules(duplicates="drop")).category.tolist() == [
        "kept",
        "exact_duplicate",
        "non_product",
    ]
    assert clean(frame, CleaningRules(non_product="keep")).rows_kept == 3
    with pytest.raises(ConfigError, match="duplicates must be 'drop' or 'keep', got 'maybe'"):
        CleaningRules(duplicates="maybe")
    with pytest.raises(ConfigError, match="unknown cleaning preset 'tidy'"):
        CleaningRules.preset("tidy")


def test_future_and_unparseable_timestamps() -> None:
    frame = lines(("c1", "1", "A", 1, 2.0, 0), ("c1", "2", "A", 1, 2.0, 0), ("c1", "3", "A", 1, 2.0, 0))
    frame.loc[1, "timestamp"] = pd.NaT
    frame.loc[2, "timestamp"] = pd.Timestamp("2200-01-01")
    result = clean(frame)
    assert result.category.tolist() == ["kept", "unparseable_timestamp", "future_timestamp"]
    assert clean(frame, CleaningRules(as_of=pd.Timestamp("2201-01-01"))).category.tolist()[2] == "kept"


def test_non_product_patterns_are_case_sensitive_globs() -> None:
    codes = pd.Series(["POST", "post", "DCGS0003", "gift_0001_20", "85123A", "M", "m", None])
    assert non_product_mask(codes, CleaningRules().non_product_codes).tolist() == [
        True,
        False,
        True,
        True,
        False,
        True,
        True,
        False,
    ]


row = st.tuples(
    st.sampled_from(["c1", "c2", "c3", None]),
    st.sampled_from(["1", "2", "C3", "4"]),
    st.sampled_from(["A", "B", "POST"]),
    st.integers(-5, 5),
    st.sampled_from([0.0, 1.5, 2.0, -1.0]),
    st.integers(0, 5),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(row, min_size=0, max_size=30),
    dup=st.lists(st.booleans(), max_size=30),
    preset=st.sampled_from(["default", "classic"]),
    returns=st.sampled_from(["net", "drop", "keep"]),
)
def test_every_row_and_every_pound_is_accounted_for(rows, dup, preset, returns) -> None:
    """Invariant: rows read = kept + sum of rows per dropping rule; the same for revenue."""
    frame = lines(*rows) if rows else lines()
    frame["is_duplicate"] = (dup + [False] * len(frame))[: len(frame)]
    result = clean(frame, CleaningRules.preset(preset).with_(returns=returns))
    partition = result.report[result.report["action"] != "flag"]
    assert partition["rows"].sum() == len(frame) == result.rows_read
    assert result.rows_kept + sum(result.dropped.values()) == len(frame)
    assert partition["revenue"].sum() == pytest.approx(frame["amount"].sum(), abs=1e-9)
    assert len(result.category) == len(frame)
    if returns == "net":
        # netting only ever takes value away from kept lines, and never more than they had
        assert result.revenue_netted <= 1e-9
        assert (result.kept["quantity"] >= 0).all()


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=30), seed=st.randoms(use_true_random=False))
def test_cleaning_does_not_depend_on_row_order(rows, seed) -> None:
    frame = lines(*rows)
    shuffled = frame.sample(frac=1.0, random_state=seed.randint(0, 2**31)).reset_index(drop=True)
    a, b = clean(frame), clean(shuffled)
    by_line = lambda r, f: dict(zip(f["source_row"], r.category, strict=True))  # noqa: E731
    assert by_line(a, frame) == by_line(b, shuffled)
    key = ["source_row"]
    pd.testing.assert_frame_equal(
        a.kept.sort_values(key).reset_index(drop=True), b.kept.sort_values(key).reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(a.report, b.report, check_exact=False)

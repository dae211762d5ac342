"""Churn features and labels at a cutoff (src/patron/features/churn_features.py): hand-computed values, the
reuse of the BTYD summary, no leakage, labels, and the store path with customer attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.errors import ConfigError, InputError
from patron.features import summary_from_transactions
from patron.features.churn_features import (
    churn_dataset,
    churn_features,
    churn_features_from_transactions,
    churn_labels,
    high_value_flag,
)

CUTOFF = pd.Timestamp("2024-07-01")


def _tx() -> pd.DataFrame:
    rows = [
        # ann: 3 purchase days before the cutoff (two orders on 2024-01-10), one after
        ("ann", "o1", "2024-01-10 09:00", 10.0, "toys"),
        ("ann", "o2", "2024-01-10 15:00", 30.0, "books"),
        ("ann", "o3", "2024-03-10 10:00", 20.0, "toys"),
        ("ann", "o4", "2024-05-09 10:00", 60.0, "toys"),
        ("ann", "o5", "2024-07-20 10:00", 99.0, "toys"),
        # bob: one purchase, then nothing
        ("bob", "o6", "2024-06-30 23:59", 5.0, "books"),
        # cat: only after the cutoff: not a customer at the cutoff
        ("cat", "o7", "2024-07-01 00:00", 7.0, "toys"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount", "category"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def _features(tx: pd.DataFrame) -> pd.DataFrame:
    return churn_features_from_transactions(
        tx,
        "customer_id",
        "timestamp",
        "amount",
        cutoff=CUTOFF,
        order_id_col="order_id",
        category_col="category",
    )


def test_features_by_hand() -> None:
    f = _features(_tx())
    assert list(f.index) == ["ann", "bob"]
    ann = f.loc["ann"]
    assert ann["recency_days"] == 53  # 2024-05-09 -> 2024-07-01
    assert ann["frequency"] == 4 and ann["monetary"] == 120 and ann["monetary_mean"] == 30
    assert ann["tenure_days"] == 173  # 2024-01-10 -> 2024-07-01 (leap year)
    assert ann["purchase_days"] == 3
    assert ann["gap_mean"] == pytest.approx((60 + 60) / 2)  # Jan 10 -> Mar 10 -> May 9
    assert ann["gap_std"] == pytest.approx(0.0)
    assert ann["overdue_ratio"] == pytest.approx(53 / 60)
    # last 90 days = from 2024-04-02: the May order; the 90 before: from 2024-01-03: the three others
    assert (ann["orders_90d"], ann["spend_90d"]) == (1, 60)
    assert (ann["orders_prev_90d"], ann["spend_prev_90d"]) == (3, 60)
    assert ann["spend_trend"] == 0
    assert ann["n_categories"] == 2 and ann["top_category_share"] == pytest.approx(90 / 120)
    bob = f.loc["bob"]
    assert bob["recency_days"] == 1 and np.isnan(bob["gap_mean"]) and np.isnan(bob["overdue_ratio"])


def test_btyd_columns_are_the_shared_summary() -> None:
    tx = _tx()
    f = _features(tx)
    before = tx[tx["timestamp"] < CUTOFF]
    summary = summary_from_transactions(
        before, "customer_id", "timestamp", "amount", observation_period_end=CUTOFF, freq="D"
    )
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(f[f"btyd_{col}"], summary.loc[f.index, col])


def test_labels() -> None:
    tx = _tx()
    import duckdb

    con = duckdb.connect()
    con.register("t", tx)
    labels = churn_labels(con, "t", cutoff=CUTOFF, horizon_days=30, high_value_share=0.5)
    assert list(labels.index) == ["ann", "bob"]  # cat was not a customer before the cutoff
    assert labels.loc["ann", "future_orders"] == 1 and labels.loc["ann", "future_spend"] == 99
    assert labels["churn"].tolist() == [0, 1]
    assert labels["high_value"].tolist() == [1, 0]
    # 2024-07-20 is outside a 19-day horizon [07-01, 07-20)
    assert churn_labels(con, "t", cutoff=CUTOFF, horizon_days=19)["churn"].tolist() == [1, 1]


def test_high_value_flag_takes_the_top_share() -> None:
    spend = pd.Series([0.0, 5.0, 50.0, 10.0, 10.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    assert high_value_flag(spend, 0.2).tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert high_value_flag(pd.Series([0.0, 0.0]), 0.5).tolist() == [0, 0]  # no spend, no high value


@settings(max_examples=12, deadline=None)
@given(
    future=st.lists(
        st.tuples(st.sampled_from(["ann", "bob", "dan"]), st.integers(0, 400), st.floats(-50, 500)),
        max_size=30,
    ),
    seed=st.integers(0, 2**16),
)
def test_no_leakage(future: list[tuple[str, int, float]], seed: int) -> None:
    """Replacing, shuffling or adding any rows at or after the cutoff leaves the features unchanged."""
    tx = _tx()
    past = tx[tx["timestamp"] < CUTOFF]
    rng = np.random.default_rng(seed)
    later = pd.DataFrame(
        {
            "customer_id": [c for c, _, _ in future],
            "order_id": [f"f{i}" for i in range(len(future))],
            "timestamp": [CUTOFF + pd.Timedelta(hours=h) for _, h, _ in future],
            "amount": [a for _, _, a in future],
            "category": rng.choice(["toys", "books", "garden"], len(future)),
        }
    )
    altered = (pd.concat([past, later]) if len(later) else past).sample(frac=1, random_state=seed)
    pd.testing.assert_frame_equal(_features(altered), _features(tx))


def test_store_with_attributes_and_errors(repo) -> None:
    tx = _tx()
    repo.replace_tables(
        {
            "transactions": tx,
            "customer_attributes": pd.DataFrame({"customer_id": ["ann", "bob"], "plan": ["gold", "basic"]}),
        }
    )
    features, labels = churn_dataset(repo, cutoff=CUTOFF, horizon_days=19)
    assert features["attr_plan"].astype(str).tolist() == ["gold", "basic"]
    assert features["attr_plan"].dtype == "category"
    assert labels.index.equals(features.index)
    with pytest.raises(ConfigError, match="horizon"):
        churn_dataset(repo, cutoff=CUTOFF, horizon_days=90)  # the data end before the horizon does
    with pytest.raises(ConfigError, match="positive whole number"):
        churn_dataset(repo, cutoff=CUTOFF, horizon_days=0)
    with pytest.raises(InputError, match="before the cutoff"):
        churn_features(repo, cutoff="2000-01-01")

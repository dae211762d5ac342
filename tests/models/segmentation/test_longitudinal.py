"""Migration between segments: transitions conserve customers, paths, period ends, profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.errors import ConfigError
from patron.features.segment_features import features_from_tables
from patron.models.segmentation.longitudinal import (
    migration_paths,
    period_ends,
    transition_counts,
    transition_matrix,
)
from patron.models.segmentation.personas import segment_profiles

STATES = ["0", "1", "2", "-1", "lost"]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 60), st.integers(0, 30))
def test_transitions_conserve_customers(seed: int, n_before: int, n_new: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n_before + n_new)]
    before = pd.Series(rng.choice(STATES, n_before), index=ids[:n_before])
    after = pd.Series(rng.choice(STATES, n_before + n_new), index=ids)
    counts = transition_counts(before, after)
    m = transition_matrix(counts)
    rows = m.sum(axis=1)
    assert rows.get("new", 0) == n_new
    assert rows.drop("new", errors="ignore").to_dict() == before.value_counts().to_dict()
    assert m.sum(axis=0).to_dict() == after.value_counts().to_dict()
    assert list(m.index[:1]) == (["new"] if n_new else list(m.index[:1]))  # "new" first, "lost" last
    assert m.columns[-1] == "lost" or "lost" not in m.columns


def test_a_customer_cannot_vanish() -> None:
    with pytest.raises(ValueError, match="have a state before but not after"):
        transition_counts(pd.Series({"a": "1", "b": "2"}), pd.Series({"a": "1"}))


def test_migration_paths() -> None:
    states = pd.DataFrame(
        {
            "period": [
                "2024-01",
                "2024-01",
                "2024-02",
                "2024-02",
                "2024-02",
                "2024-03",
                "2024-03",
                "2024-03",
            ],
            "customer_id": ["a", "b", "a", "b", "c", "a", "b", "c"],
            "segment": ["0", "1", "0", "lost", "1", "2", "lost", "1"],
        }
    )
    paths = migration_paths(states)["path"]
    assert paths["a"] == "new -> 0 -> 0 -> 2"
    assert paths["b"] == "new -> 1 -> lost -> lost"
    assert paths["c"] == "new -> 1 -> 1"


def test_period_ends_stop_at_the_data() -> None:
    ends = period_ends(pd.Timestamp("2024-01-15"), pd.Timestamp("2024-07-03 12:00"), "quarter")
    assert [label for label, _ in ends] == ["2024Q1", "2024Q2", "2024Q3"]
    assert ends[0][1] == pd.Timestamp("2024-03-31 23:59:59") and ends[-1][1] == pd.Timestamp(
        "2024-07-03 12:00"
    )
    with pytest.raises(ConfigError, match="period must be one of"):
        period_ends(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"), "week")


def test_features_and_profiles_equal_pandas() -> None:
    rfm = pd.DataFrame(
        {
            "customer_id": ["b", "a", "c", "d"],
            "recency_days": [10, 0, 100, 5],
            "frequency": [2, 5, 1, 3],
            "monetary": [50.0, 500.0, -5.0, 80.0],
            "first_purchase": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-10"]),
            "last_purchase": pd.to_datetime(["2024-03-01", "2024-06-30", "2024-03-01", "2024-06-25"]),
        }
    )
    behaviour = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "d"],
            "category": ["X", "Y", "X", "Z"],
            "amount": [300.0, 60.0, 50.0, 80.0],
        }
    )
    clv = pd.DataFrame(
        {"customer_id": list("abcd"), "probability_alive": [0.9, 0.5, 0.1, 0.7], "expected_purchases": [3, 1, 0, 2],
         "clv": [400.0, 40.0, 0.0, 90.0]}
    )  # fmt: skip
    f = features_from_tables(rfm, behaviour, clv, top_categories=2)
    assert f.index.tolist() == ["a", "b", "c", "d"]  # sorted by id
    assert f.loc["b", "tenure_days"] == 10 + 60 and f.loc["a", "tenure_days"] == 150
    assert f.loc["c", "log_monetary"] == 0.0 and f.loc["a", "log_frequency"] == pytest.approx(np.log(6))
    # top 2 categories by revenue: X (350), Z (80)
    assert [c for c in f.columns if c.startswith("share")] == ["share X", "share Z"]
    assert f.loc["a", "share X"] == pytest.approx(300 / 360) and f.loc["c", "share X"] == 0.0
    assert f.loc["a", "log_clv"] == pytest.approx(np.log(401))

    assignments = pd.DataFrame(
        {"customer_id": list("abcd"), "segment": [0, 1, 1, 0], "strength": [1, 0.5, 0.7, 0.9]}
    )
    churn = pd.DataFrame({"customer_id": list("abcd"), "probability": [0.1, 0.4, 0.8, 0.2]})
    p = segment_profiles(assignments, rfm, clv=clv, churn=churn).set_index("segment")
    assert p.loc[0, "size"] == 2 and p.loc[0, "share"] == 0.5
    assert p.loc[0, "mean_clv"] == pytest.approx(245.0) and p.loc[1, "churn_probability"] == pytest.approx(
        0.6
    )
    assert p.loc[0, "revenue_share"] == pytest.approx(580 / 630)  # negative spend counts as 0
    assert p.loc[0, "mean_recency_days"] == 2.5 and p.loc[1, "mean_strength"] == pytest.approx(0.6)
    assert "Mean CLV 245" in p.loc[0, "description"] and "Churn probability 60%" in p.loc[1, "description"]

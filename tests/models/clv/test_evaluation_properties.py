"""Invariants of the backtest summaries (hypothesis): row order does not matter, the error measures are ordered."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.models.clv import evaluation as ev

rows = st.lists(
    st.tuples(st.integers(0, 20), st.integers(0, 30), st.floats(0, 30, allow_nan=False)),
    min_size=1,
    max_size=60,
)


def frame(data):
    f = pd.DataFrame(data, columns=["frequency_cal", "actual", "predicted"]).astype(float)
    f.index = pd.Index([f"c{i}" for i in range(len(f))], name="customer_id")
    return f


@settings(max_examples=100, deadline=None)
@given(rows, st.integers(0, 10), st.randoms())
def test_metrics_and_buckets_are_order_free_and_consistent(data, top, rnd):
    f = frame(data)
    shuffled = f.sample(frac=1, random_state=rnd.randint(0, 2**31))
    m, m2 = ev.holdout_metrics(f), ev.holdout_metrics(shuffled)
    np.testing.assert_allclose(m.to_numpy(dtype=float), m2.to_numpy(dtype=float), rtol=1e-12, equal_nan=True)
    assert m["rmse"] >= m["mae"] - 1e-12 >= abs(m["aggregate_error"]) / len(f) - 2e-12
    table = ev.conditional_expectations(f, max_frequency=top)
    assert len(table) == top + 1 and table["n_customers"].sum() == len(f)
    pd.testing.assert_frame_equal(table, ev.conditional_expectations(shuffled, max_frequency=top))
    weighted = (table["actual"].fillna(0) * table["n_customers"]).sum()
    assert np.isclose(weighted, f["actual"].sum())

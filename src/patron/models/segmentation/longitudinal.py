"""Segment migration: states per period, transition matrices with "new" and "lost", and each customer's path.

Each period end ``E_t`` has a state per customer: ``"lost"`` when the customer's last order is more than
``lost_after_days`` before ``E_t``, else the segment the period's model put them in. A customer with no order up to
``E_t`` has no state yet. Between consecutive periods ``t-1 -> t``:

* a customer without a state at ``t-1`` comes *from* ``"new"``;
* every other customer comes from their state at ``t-1`` (``"lost"`` included: a lost customer who buys again is
  a reactivation, ``lost -> segment``).

So the rows of a transition matrix sum to the previous period's state sizes (plus the newcomers in the ``"new"``
row) and its columns to the current sizes: customers are conserved (the tests check both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patron.errors import ConfigError

NEW = "new"
LOST = "lost"
PERIODS = {"month": "M", "quarter": "Q"}


def period_ends(first: pd.Timestamp, last: pd.Timestamp, period: str) -> list[tuple[str, pd.Timestamp]]:
    """(label, end instant) of every calendar month or quarter from ``first`` to ``last``; the last one ends at
    ``last`` (the data's end), so no period reaches beyond the data."""
    if period not in PERIODS:
        raise ConfigError(f"period must be one of {sorted(PERIODS)}, got {period!r}")
    out = []
    for p in pd.period_range(pd.Timestamp(first), pd.Timestamp(last), freq=PERIODS[period]):
        end = min(p.end_time.floor("s"), pd.Timestamp(last))
        out.append((str(p), end))
    return out


def transition_counts(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Long transitions (from_segment, to_segment, customers) between two state series indexed by customer.

    Customers in ``current`` but not in ``previous`` come from ``"new"``. A customer in ``previous`` but not in
    ``current`` is an error: once seen, a customer always has a state (at worst ``"lost"``).
    """
    gone = previous.index.difference(current.index)
    if len(gone):
        raise ValueError(f"{len(gone)} customer(s) have a state before but not after, e.g. {gone[0]!r}")
    before = previous.reindex(current.index).astype(object).where(lambda s: s.notna(), NEW)
    frame = pd.DataFrame({"from_segment": before.astype(str), "to_segment": current.astype(str).to_numpy()})
    counts = frame.groupby(["from_segment", "to_segment"]).size().rename("customers").reset_index()
    return counts.sort_values(["from_segment", "to_segment"], key=_state_key).reset_index(drop=True)


def transition_matrix(counts: pd.DataFrame) -> pd.DataFrame:
    """Wide matrix (rows: from, columns: to) of long transition counts, states in a readable order."""
    wide = counts.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum", fill_value=0
    )
    rows = sorted(wide.index, key=_sort_key)
    cols = sorted(wide.columns, key=_sort_key)
    return wide.loc[rows, cols].astype("int64")


def migration_paths(states: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: the state in every period (columns in period order) and ``path``, e.g.
    ``"new -> 2 -> 2 -> lost"`` (consecutive repeats are kept: the path shows how long a customer stayed)."""
    order = list(dict.fromkeys(states["period"]))
    wide = states.pivot(index="customer_id", columns="period", values="segment").reindex(columns=order)
    paths = []
    for row in wide.itertuples(index=False):
        seen = [str(v) for v in row if isinstance(v, str) or pd.notna(v)]
        paths.append(" -> ".join([NEW, *seen]))
    wide["path"] = paths
    return wide


def lost_mask(recency_days: np.ndarray, lost_after_days: int) -> np.ndarray:
    """Customers whose last order is more than ``lost_after_days`` days before the period end."""
    return np.asarray(recency_days, dtype=float) > lost_after_days


def _sort_key(state: object) -> tuple[int, float, str]:
    s = str(state)
    if s == NEW:
        return (0, 0.0, s)
    if s == LOST:
        return (3, 0.0, s)
    try:
        return (1, float(s), s)
    except ValueError:
        return (2, 0.0, s)


def _state_key(column: pd.Series) -> pd.Series:
    return column.map(_sort_key)

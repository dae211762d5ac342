"""The feature set the clustering segmenters work on, one row per customer.

From the ``rfm`` table:

* ``recency_days``: days since the last order;
* ``tenure_days``: days from the first order to the observation end (``recency_days`` + first-to-last span);
* ``log_frequency`` = log(1 + orders) and ``log_monetary`` = log(1 + max(total spend, 0)): counts and spend are
  right-skewed (a few wholesalers buy 100x the median), and the log makes distances relative.

From the ``behaviour`` matrix (when it is by category): ``share <category>``, each customer's share of spend in
the ``top_categories`` categories with the most revenue overall (a product-level matrix, as Online Retail gives,
is not used: three best-selling SKUs say little about a customer).

From CLV (a ``clv_scores`` result of the latest ``clv`` run, when the store has one): ``probability_alive``,
``log_expected_purchases`` = log(1 + expected purchases) and ``log_clv`` = log(1 + max(clv, 0)).

The segmenters robust-scale these columns themselves; here only the log transforms are applied.
Customers are sorted by id, so a fit does not depend on the order the store returns rows in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError, NotFoundError
from patron.features.behaviour import behaviour as behaviour_sql_table
from patron.features.rfm import rfm as rfm_sql_table
from patron.io.schema import BEHAVIOUR, RFM, TRANSACTIONS
from patron.storage.base import Repository

CLV_TABLE = "clv_scores"
CLV_COLUMNS: tuple[str, ...] = ("probability_alive", "expected_purchases", "clv")
BASE_FEATURES: tuple[str, ...] = ("recency_days", "tenure_days", "log_frequency", "log_monetary")


def features_from_tables(
    rfm: pd.DataFrame,
    behaviour: pd.DataFrame | None = None,
    clv: pd.DataFrame | None = None,
    *,
    top_categories: int = 3,
    categories: list[str] | None = None,
) -> pd.DataFrame:
    """The feature frame (index ``customer_id``, sorted) from an rfm table, a long behaviour matrix and CLV scores.

    ``categories`` fixes the share columns (else the ``top_categories`` by revenue in ``behaviour``).

    Customers missing from ``behaviour`` get shares 0; customers missing from ``clv`` are an error (the CLV run
    should cover every customer of the summary).
    """
    frame = rfm.reset_index() if "customer_id" not in rfm.columns else rfm
    needed = ["customer_id", "recency_days", "frequency", "monetary", "first_purchase", "last_purchase"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"the rfm table lacks column(s) {missing}", expected=f"columns {needed}")
    frame = frame.assign(customer_id=frame["customer_id"].astype(str)).sort_values("customer_id")
    span = (
        pd.to_datetime(frame["last_purchase"]).dt.normalize()
        - pd.to_datetime(frame["first_purchase"]).dt.normalize()
    ).dt.days
    out = pd.DataFrame(
        {
            "recency_days": frame["recency_days"].to_numpy(dtype=float),
            "tenure_days": (frame["recency_days"] + span).to_numpy(dtype=float),
            "log_frequency": np.log1p(frame["frequency"].to_numpy(dtype=float)),
            "log_monetary": np.log1p(frame["monetary"].clip(lower=0).to_numpy(dtype=float)),
        },
        index=pd.Index(frame["customer_id"].to_numpy(), name="customer_id"),
    )
    if behaviour is not None and (categories or top_categories > 0):
        shares = category_shares(behaviour, top_categories, categories=categories)
        out = out.join(shares)
        out[list(shares.columns)] = out[list(shares.columns)].fillna(0.0)
    if clv is not None:
        out = out.join(_clv_features(clv, out.index))
    return out


def top_categories_by_revenue(behaviour: pd.DataFrame, top: int) -> list[str]:
    """The ``top`` categories with the most (positive) revenue, ties by name."""
    totals = behaviour.assign(amount=behaviour["amount"].clip(lower=0)).groupby("category")["amount"].sum()
    totals = totals[totals > 0]
    return [str(c) for c, _ in sorted(totals.items(), key=lambda kv: (-kv[1], str(kv[0])))[:top]]


def category_shares(
    behaviour: pd.DataFrame, top: int, *, categories: list[str] | None = None
) -> pd.DataFrame:
    """Each customer's share of (positive) spend in ``categories`` (default: the ``top`` by revenue)."""
    b = behaviour.assign(
        customer_id=behaviour["customer_id"].astype(str),
        amount=behaviour["amount"].clip(lower=0).astype(float),
    )
    b["category"] = b["category"].astype(str)
    chosen = categories if categories is not None else top_categories_by_revenue(b, top)
    wide = b.pivot_table(
        index="customer_id", columns="category", values="amount", aggfunc="sum", fill_value=0.0
    )
    spend = wide.sum(axis=1).replace(0, np.nan)
    shares = pd.DataFrame(index=wide.index)
    for cat in chosen:
        column = wide[cat] if cat in wide.columns else pd.Series(0.0, index=wide.index)
        shares[f"share {cat}"] = (column / spend).fillna(0.0)
    return shares


def _clv_features(clv: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    missing_cols = [c for c in ("customer_id", *CLV_COLUMNS) if c not in clv.columns]
    if missing_cols:
        raise InputError(
            f"{CLV_TABLE} lacks column(s) {missing_cols}", expected=f"columns {list(CLV_COLUMNS)}"
        )
    c = (
        clv.assign(customer_id=clv["customer_id"].astype(str))
        .drop_duplicates("customer_id")
        .set_index("customer_id")
    )
    c = c.reindex(index)
    absent = c["clv"].isna()
    if absent.any():
        raise InputError(
            f"{int(absent.sum()):,} customer(s) have no {CLV_TABLE} row, e.g. {index[absent.to_numpy()][0]!r}",
            expected="a CLV score for every customer in the summary (rerun `patron clv`)",
        )
    return pd.DataFrame(
        {
            "probability_alive": c["probability_alive"].astype(float),
            "log_expected_purchases": np.log1p(c["expected_purchases"].clip(lower=0).astype(float)),
            "log_clv": np.log1p(c["clv"].clip(lower=0).astype(float)),
        },
        index=index,
    )


# --- from a store -------------------------------------------------------------------------------------------------
def latest_clv(repo: Repository) -> pd.DataFrame | None:
    """``clv_scores`` of the latest succeeded ``clv`` run, or None when there is none."""
    if not repo.has_table(CLV_TABLE) or repo.latest_run("clv") is None:
        return None
    scores = repo.read_results(CLV_TABLE, kind="clv")
    return scores if len(scores) and all(c in scores.columns for c in CLV_COLUMNS) else None


def behaviour_is_by_category(repo: Repository) -> bool:
    """Whether the transactions carry categories (else the behaviour matrix would be by product)."""
    if not repo.has_table(TRANSACTIONS) or "category" not in repo.table_columns(TRANSACTIONS):
        return False
    n = repo.query('SELECT COUNT("category") AS n FROM "transactions"').iloc[0, 0]
    return int(n) > 0


def segment_features(
    repo: Repository,
    *,
    observation_period_end: Any = None,
    top_categories: int = 3,
    categories: list[str] | None = None,
    use_clv: bool = True,
) -> pd.DataFrame:
    """The feature frame of every customer in the store.

    Without ``observation_period_end`` the stored ``rfm`` and ``behaviour`` tables (``patron summary``) are used,
    plus CLV scores when present. With it, RFM and behaviour are recomputed from ``transactions`` as of that
    instant (rows after it are not read: no future data) and CLV is left out (the stored scores are as of the
    latest data, which would leak the future into past periods).
    """
    by_category = behaviour_is_by_category(repo)
    n_top = top_categories if by_category else 0
    if observation_period_end is None:
        if not repo.has_table(RFM):
            raise NotFoundError(f"the store {repo.url} has no {RFM!r} table: run `patron summary` first")
        rfm = repo.read_table(RFM)
        behaviour = repo.read_table(BEHAVIOUR) if n_top and repo.has_table(BEHAVIOUR) else None
        clv = latest_clv(repo) if use_clv else None
        if clv is not None:
            clv = clv[clv["customer_id"].astype(str).isin(set(rfm["customer_id"].astype(str)))]
        return features_from_tables(rfm, behaviour, clv, top_categories=n_top, categories=categories)
    if not repo.has_table(TRANSACTIONS):
        raise NotFoundError(f"the store {repo.url} has no {TRANSACTIONS!r} table: run `patron ingest` first")
    rfm = rfm_sql_table(repo, observation_period_end=observation_period_end)
    wanted = n_top or bool(categories and by_category)
    behaviour = behaviour_sql_table(repo, observation_period_end=observation_period_end) if wanted else None
    return features_from_tables(rfm, behaviour, None, top_categories=n_top, categories=categories)

"""Read functions behind the dashboard's pages (read-only; the services layer and the store, no numerics)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from patron.errors import NotFoundError
from patron.report.queries import Results, latest_results, list_runs, runs_with
from patron.services import segments as segment_service
from patron.storage.base import RUNS_TABLE, Repository

# Result tables a run may have written, in the order a run page shows them.
RESULT_TABLES: tuple[str, ...] = (
    "cleaning_report",
    "clv_parameters",
    "clv_model_comparison",
    "clv_scores",
    "segment_profiles",
    "segment_assignments",
    "segment_transitions",
    "churn_metrics",
    "churn_reliability",
    "churn_lift",
    "churn_scores",
    "churn_reasons",
    "relate_results",
)


def store_overview(repo: Repository) -> dict[str, Any] | None:
    """Customers, orders, lines, revenue and date range of the cleaned transactions (None before ingest)."""
    if not repo.has_table("transactions"):
        return None
    row = repo.query(
        'SELECT COUNT(DISTINCT "customer_id") AS customers, COUNT(DISTINCT "order_id") AS orders, '
        'COUNT(*) AS lines, SUM("amount") AS revenue, MIN("timestamp") AS first, MAX("timestamp") AS last '
        'FROM "transactions"'
    ).iloc[0]
    return dict(row)


def latest_runs_by_kind(repo: Repository) -> pd.DataFrame:
    """The newest run of each kind (any status), newest first."""
    runs = list_runs(repo)
    if runs.empty:
        return runs
    return runs.drop_duplicates("kind").reset_index(drop=True)


# --- segments ---------------------------------------------------------------------------------------------------
def model_segment(label: str, run_id: str) -> segment_service.Segment:
    """The label of a segmentation run as a segment object the segments service understands."""
    return segment_service.Segment(
        name=f"segment {label}", kind="model", definition={"model": {"label": label, "run_id": run_id}}
    )


def model_segment_profiles(repo: Repository) -> Results | None:
    return latest_results(repo, "segment_profiles")


def model_segment_members(repo: Repository, label: str) -> tuple[pd.DataFrame, Results]:
    """Members of a fitted segment (latest segmentation run) with their latest CLV and churn probability."""
    profiles = model_segment_profiles(repo)
    if profiles is None:
        raise NotFoundError("no segmentation run in the store (run `patron segment`)")
    if label not in set(profiles.rows["segment"].astype(str)):
        raise NotFoundError(f"no segment {label!r} in {profiles.run_id}")
    members = segment_service.members(repo, model_segment(label, profiles.run_id))
    return with_scores(repo, members), profiles


def defined_segments(repo: Repository) -> list[segment_service.Segment]:
    return segment_service.list_segments(repo)


def defined_segment_members(repo: Repository, name: str) -> pd.DataFrame:
    return with_scores(repo, segment_service.members(repo, name))


def with_scores(repo: Repository, members: pd.DataFrame) -> pd.DataFrame:
    """Members plus their latest CLV and churn probability where those exist."""
    out = members.copy()
    out["customer_id"] = out["customer_id"].astype(str)
    for table, column in (("clv_scores", "clv"), ("churn_scores", "probability")):
        res = latest_results(repo, table)
        if res is None or column not in res.rows:
            continue
        values = res.rows.assign(customer_id=res.rows["customer_id"].astype(str)).set_index("customer_id")[
            column
        ]
        name = "churn_probability" if column == "probability" else column
        out[name] = out["customer_id"].map(values[~values.index.duplicated()])
    return out


# --- customers --------------------------------------------------------------------------------------------------
def customer_record(repo: Repository, customer_id: str) -> dict[str, Any]:
    if not repo.has_table("customers"):
        raise NotFoundError("the store has no customers yet (run `patron ingest FILE`)")
    rows = repo.query('SELECT * FROM "customers" WHERE CAST("customer_id" AS VARCHAR) = ?', [customer_id])
    if rows.empty:
        raise NotFoundError(f"no customer {customer_id!r} in the store")
    return {k: (None if pd.isna(v) else v) for k, v in rows.iloc[0].items()}


def customer_orders(repo: Repository, customer_id: str) -> pd.DataFrame:
    """One row per order: when, lines, units and value."""
    return repo.query(
        'SELECT COALESCE("order_id", CAST(MIN("timestamp") AS VARCHAR)) AS order_id, MIN("timestamp") AS timestamp, '
        'COUNT(*) AS lines, SUM("quantity") AS quantity, SUM("amount") AS amount FROM "transactions" '
        'WHERE CAST("customer_id" AS VARCHAR) = ? GROUP BY "order_id" ORDER BY 2',
        [customer_id],
    )


def customer_scores(repo: Repository, table: str, columns: list[str], customer_id: str) -> pd.DataFrame:
    """A customer's rows of a score table in every succeeded run, with the run's start time, oldest first."""
    if runs_with(repo, table).empty:
        return pd.DataFrame(columns=["run_id", "started_at", *columns])
    have = [c for c in columns if c in repo.table_columns(table)]
    cols = ", ".join(f's."{c}"' for c in have)
    return repo.query(
        f'SELECT s.run_id, r.started_at, {cols} FROM "{table}" s JOIN {RUNS_TABLE} r ON r.run_id = s.run_id '
        "WHERE r.status = 'succeeded' AND CAST(s.customer_id AS VARCHAR) = ? ORDER BY r.started_at, s.run_id",
        [customer_id],
    )


def customer_reasons(repo: Repository, customer_id: str) -> tuple[pd.DataFrame, Results | None]:
    res = latest_results(repo, "churn_reasons")
    if res is None:
        return pd.DataFrame(columns=["rank", "feature", "contribution", "reason"]), None
    rows = res.rows[res.rows["customer_id"].astype(str) == customer_id].sort_values("rank")
    return rows, res


def customer_segment(repo: Repository, customer_id: str) -> str | None:
    res = latest_results(repo, "segment_assignments")
    if res is None:
        return None
    hit = res.rows[res.rows["customer_id"].astype(str) == customer_id]
    return None if hit.empty else str(hit.iloc[0]["segment"])


def find_customers(repo: Repository, text: str, limit: int = 50) -> pd.DataFrame:
    """Customers whose id contains ``text``, most revenue first."""
    if not repo.has_table("customers"):
        return pd.DataFrame(columns=["customer_id", "orders", "revenue", "last_purchase"])
    return repo.query(
        'SELECT CAST("customer_id" AS VARCHAR) AS customer_id, "orders", "revenue", "last_purchase" '
        'FROM "customers" WHERE CAST("customer_id" AS VARCHAR) LIKE ? ORDER BY "revenue" DESC LIMIT ?',
        [f"%{text}%", limit],
    )


# --- runs -------------------------------------------------------------------------------------------------------
def run_tables(repo: Repository, run_id: str) -> dict[str, int]:
    """Result tables the run wrote to, with their row counts."""
    out = {}
    for table in RESULT_TABLES:
        if repo.has_table(table):
            n = int(
                repo.query(f'SELECT COUNT(*) AS n FROM "{table}" WHERE run_id = ?', [run_id]).iloc[0]["n"]
            )
            if n:
                out[table] = n
    return out

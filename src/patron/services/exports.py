"""Exports of stored scores: to CSV/Parquet files, and as campaign-tool records (email, customer_id, properties).

Segment member lists are exported by :func:`patron.services.segments.export_members`; this module adds the
scores and the campaign shape that :mod:`patron.services.webhooks` delivers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ConfigError, NotFoundError
from patron.io.schema import CUSTOMERS
from patron.services.segments import Segment, members
from patron.storage.base import RUNS_TABLE, Repository, quote_identifier

# Properties sent to campaign tools, per score table: (column in the table, property name).
CAMPAIGN_PROPERTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "clv_scores": (
        ("clv", "patron_clv"),
        ("probability_alive", "patron_probability_alive"),
        ("expected_purchases", "patron_expected_purchases"),
    ),
    "churn_scores": (("probability", "patron_churn_probability"),),
    "segment_assignments": (("segment", "patron_segment"),),
}


def latest_results(repo: Repository, table: str) -> pd.DataFrame:
    """The rows of ``table`` from the newest succeeded run that wrote it (whatever the run's kind)."""
    if not repo.has_table(table) or not repo.has_table(RUNS_TABLE):
        raise NotFoundError(f"the store {repo.url} has no {table!r} results yet")
    t = quote_identifier(table)
    latest = repo.query(
        f"SELECT r.run_id FROM {RUNS_TABLE} r WHERE r.status = 'succeeded' "
        f"AND r.run_id IN (SELECT DISTINCT run_id FROM {t}) ORDER BY r.finished_at DESC, r.run_id DESC LIMIT 1"
    )
    if latest.empty:
        raise NotFoundError(f"no succeeded run has written {table!r}")
    return repo.query(f"SELECT * FROM {t} WHERE run_id = ? ORDER BY customer_id", [latest["run_id"].iloc[0]])


def export_scores(
    repo: Repository, path: str | Path, *, table: str = "clv_scores", format: str | None = None
) -> Path:
    """Write the latest run's rows of a score table to CSV or Parquet (the format follows the suffix)."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"export format must be csv or parquet, got {fmt!r} (from {path.name!r})")
    frame = latest_results(repo, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def campaign_records(repo: Repository, segment: str | Segment | None = None) -> list[dict[str, Any]]:
    """One record per customer, the shape Klaviyo/HubSpot/Mailchimp profile imports take:
    ``{"email": ..., "customer_id": ..., "properties": {"patron_clv": ..., "patron_segment": ...}}``.

    Customers are the members of ``segment`` (with ``"patron_segment_name"``), or every customer with a stored
    score. ``email`` comes from the ``customers`` table when it has one (else null). Properties are the latest
    run's values of each score table present.
    """
    frames = {}
    for table in CAMPAIGN_PROPERTIES:
        try:
            frames[table] = latest_results(repo, table)
        except NotFoundError:
            continue
    if segment is not None:
        member_frame = members(repo, segment)
        ids = member_frame["customer_id"].astype(str).tolist()
        seg_name = segment.name if isinstance(segment, Segment) else segment
    else:
        if not frames:
            raise NotFoundError("the store has no scores to export yet")
        ids = sorted(set().union(*(set(f["customer_id"].astype(str)) for f in frames.values())))
        seg_name = None
    emails: dict[str, Any] = {}
    if repo.has_table(CUSTOMERS) and "email" in repo.table_columns(CUSTOMERS):
        table = repo.query(
            f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, email FROM {quote_identifier(CUSTOMERS)}"
        )
        emails = dict(zip(table["customer_id"], table["email"], strict=True))
    props: dict[str, dict[str, Any]] = {cid: {} for cid in ids}
    for table, frame in frames.items():
        keyed = frame.assign(customer_id=frame["customer_id"].astype(str)).drop_duplicates("customer_id")
        keyed = keyed[keyed["customer_id"].isin(props)]
        for column, name in CAMPAIGN_PROPERTIES[table]:
            if column in keyed.columns:
                for cid, value in zip(keyed["customer_id"], keyed[column], strict=True):
                    props[cid][name] = _plain(value)
    out = []
    for cid in ids:
        properties = props[cid]
        if seg_name is not None:
            properties = {"patron_segment_name": seg_name, **properties}
        out.append({"email": _plain(emails.get(cid)), "customer_id": cid, "properties": properties})
    return out

"""Use-case: ingest transaction sources into the store (read -> validate -> resolve identities -> clean -> write).

Identity resolution runs before cleaning's return netting, so a return is matched to purchases of the same
*resolved* customer even when the two came from different sources.

Everything after reading happens inside one run of kind ``ingest``; the dataset tables ``transactions``,
``customers`` and ``identity_links`` and the result table ``cleaning_report`` are written when the run commits,
so an ingest that fails leaves the previous data as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from patron.io.cleaning import CleaningResult, CleaningRules, clean
from patron.io.identity import resolve_identities
from patron.io.mapping import ColumnMapping, resolve_mapping
from patron.io.readers import RawTable, Source, read_source
from patron.io.schema import (
    CANONICAL_NAMES,
    CLEANING_REPORT,
    CUSTOMERS,
    IDENTITY_LINKS,
    TRANSACTION_COLUMNS,
    TRANSACTIONS,
)
from patron.io.schema import CUSTOMER_COLUMNS as CUSTOMER_SCHEMA
from patron.io.validation import to_canonical
from patron.storage.base import Repository

# progress(description, steps done, steps in all): called before each step and once at the end.
ProgressCallback = Callable[[str, int, int], None]
SourceLike = str | Path | pd.DataFrame | Source

CUSTOMER_COLUMNS = tuple(CUSTOMER_SCHEMA)


@dataclass
class IngestResult:
    """What an ingest did; ``report`` is the cleaning report (rule, rows, revenue, action)."""

    run_id: str
    sources: list[str]
    rows_read: int
    rows_kept: int
    customers: int
    report: pd.DataFrame
    summary: dict[str, Any]
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    input_fingerprint: str = ""

    @property
    def rows_dropped(self) -> dict[str, int]:
        return dict(self.summary["rows_dropped"])


def ingest(
    repo: Repository,
    source: SourceLike | Sequence[SourceLike],
    *,
    mapping: ColumnMapping | Mapping[str, str] | None = None,
    rules: CleaningRules | None = None,
    progress: ProgressCallback | None = None,
    encoding: str = "utf-8",
    match_source_ids: bool = True,
) -> IngestResult:
    """Read, validate, resolve and clean ``source`` and store the result in ``repo``.

    Parameters
    ----------
    repo:
        The store.
    source:
        A file path (CSV/TSV/whitespace text, optionally gzipped; Parquet; Excel), ``duckdb:PATH::TABLE``,
        ``postgresql://...::TABLE`` or ``postgresql://...::SELECT ...``, a DataFrame, a
        :class:`~patron.io.readers.Source`, or a list of these (identities are then resolved across them).
    mapping:
        Source column names for canonical columns (``{"customer_id": "Cust"}``); entries not given are
        recognised from the header. The same mapping applies to every source.
    rules:
        :class:`~patron.io.cleaning.CleaningRules` (default: ``CleaningRules.default()``).
    progress:
        Called as ``progress(step, done, total)`` before each step.
    encoding:
        Text encoding of CSV files.
    match_source_ids:
        Whether the same customer id in two sources is one customer (turn off when the sources number their
        customers independently); equal normalised emails always link.

    Raises
    ------
    InputError
        A file that cannot be read or does not fit the mapping, naming file, row, column and what was expected.
    """
    rules = rules or CleaningRules.default()
    items = list(source) if isinstance(source, list | tuple) else [source]
    total = 2 * len(items) + 3
    done = 0

    def step(text: str) -> None:
        nonlocal done
        if progress is not None:
            progress(text, done, total)
        done += 1

    raws: list[RawTable] = []
    for item in items:
        step(f"reading {_label(item)}")
        raws.append(read_source(item, encoding=encoding))
    fingerprint = _fingerprint(raws)
    params = {
        "sources": [r.name for r in raws],
        "mapping": None if mapping is None else dict(_as_mapping(mapping).as_dict()),
        "rules": rules.as_params(),
        "encoding": encoding,
        "match_source_ids": match_source_ids,
    }
    with repo.run("ingest", params, input_fingerprint=fingerprint) as run:
        frames, mappings = [], {}
        with run.timed("validate"):
            for raw in raws:
                step(f"validating {raw.name}")
                resolved = resolve_mapping(raw.columns, mapping, source=raw.name)
                mappings[raw.name] = resolved.as_dict()
                frames.append(to_canonical(raw, resolved))
        canonical = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        del frames, raws

        step("resolving identities")
        with run.timed("identity"):
            links, households = resolve_identities(
                canonical[["source", "source_customer_id", "email", "address"]]
            )
            canonical["customer_id"] = _resolved_ids(canonical, links)

        step("cleaning")
        with run.timed("clean"):
            cleaned = clean(canonical, rules)
        del canonical

        step("writing")
        transactions = transactions_frame(cleaned)
        customers = customers_frame(transactions, households, links)
        run.replace(TRANSACTIONS, transactions)
        run.replace(CUSTOMERS, customers)
        run.replace(IDENTITY_LINKS, _text_columns(links))
        run.write(CLEANING_REPORT, cleaned.report)
        run.report.update(cleaned.summary())
        run.report["customers"] = len(customers)
        run.report["mappings"] = mappings
    if progress is not None:
        progress("done", total, total)
    return IngestResult(
        run_id=run.run_id,
        sources=params["sources"],
        rows_read=cleaned.rows_read,
        rows_kept=cleaned.rows_kept,
        customers=len(customers),
        report=cleaned.report,
        summary=dict(run.report),
        mappings=mappings,
        input_fingerprint=fingerprint,
    )


def transactions_frame(cleaned: CleaningResult) -> pd.DataFrame:
    """The kept rows in the canonical column order and types of :mod:`patron.io.schema`."""
    kept = cleaned.kept
    out = pd.DataFrame(index=kept.index)
    for name in CANONICAL_NAMES:
        sql_type = TRANSACTION_COLUMNS[name][0]
        values = kept[name] if name in kept else pd.Series(None, index=kept.index, dtype=object)
        if sql_type == "VARCHAR":
            # Text stays object (cheap); only an all-missing column needs a string dtype to be typed VARCHAR.
            out[name] = values.astype("string") if values.isna().all() else values.astype(object)
        elif sql_type == "DOUBLE":
            out[name] = values.astype("float64")
        elif sql_type == "BIGINT":
            out[name] = values.astype("int64")
        else:
            out[name] = pd.to_datetime(values)
    return out.reset_index(drop=True)


def customers_frame(
    transactions: pd.DataFrame, households: pd.DataFrame, links: pd.DataFrame
) -> pd.DataFrame:
    """One row per customer with kept transactions (first/last purchase, orders, revenue, email, household)."""
    tx = transactions
    # An order is an order id where the source has one, else a purchase instant.
    occasion = tx["order_id"].astype(object)
    if occasion.isna().any():
        missing = occasion.isna()
        occasion = occasion.where(~missing, tx["timestamp"].where(missing).astype(str))
    grouped = tx.assign(occasion=occasion).groupby("customer_id", sort=True)
    frame = pd.DataFrame(
        {
            "first_purchase": grouped["timestamp"].min(),
            "last_purchase": grouped["timestamp"].max(),
            "orders": grouped["occasion"].nunique().astype("int64"),
            "revenue": grouped["amount"].sum().astype("float64"),
        }
    )
    frame.index = frame.index.astype(object)
    extra = households.set_index("customer_id")[["email", "household_id"]]
    frame = frame.join(extra, how="left")
    frame["n_source_ids"] = links.groupby("customer_id").size().reindex(frame.index).fillna(0).astype("int64")
    frame = frame.reset_index().rename(columns={"index": "customer_id"})
    return _text_columns(frame[list(CUSTOMER_COLUMNS)])


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """All-missing object columns as pandas strings, so the store types them VARCHAR (not NULL)."""
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object and frame[col].isna().all():
            frame[col] = frame[col].astype("string")
    return frame


def _resolved_ids(canonical: pd.DataFrame, links: pd.DataFrame) -> pd.Series:
    key = canonical["source"].astype(str) + "\x1f" + canonical["source_customer_id"].astype(str)
    lookup = pd.Series(
        links["customer_id"].to_numpy(),
        index=links["source"].astype(str) + "\x1f" + links["source_customer_id"],
    )
    resolved = key.map(lookup)
    return resolved.where(canonical["source_customer_id"].notna(), None)


def _fingerprint(raws: list[RawTable]) -> str:
    """The sha256 of the file for one file; for several sources, the sha256 of their fingerprints in order."""
    if len(raws) == 1:
        return raws[0].fingerprint
    return hashlib.sha256("\n".join(r.fingerprint for r in raws).encode()).hexdigest()


def _as_mapping(mapping: ColumnMapping | Mapping[str, str]) -> ColumnMapping:
    return mapping if isinstance(mapping, ColumnMapping) else ColumnMapping.from_dict(mapping)


def _label(item: object) -> str:
    if isinstance(item, pd.DataFrame):
        return "a DataFrame"
    if isinstance(item, Source):
        return item.name
    return Path(str(item)).name if "://" not in str(item) else "a database"

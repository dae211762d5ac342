"""Use-case: run a relate query against the store and keep the scan as a run of kind ``relate``.

``run_relate(repo, query)`` compiles the JSON query (:mod:`patron.query`), pulls the target flag and the incidence
pairs through ``repo.query`` (parameterised SQL), runs the lift scan
(:func:`patron.models.segmentation.relate.lift_scan`) and stores every tested pattern in the result table
``relate_results``; it returns the patterns the query selects (``having``, ``order_by``, ``limit``, ``select``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from patron.errors import InputError, NotFoundError
from patron.models.segmentation.relate import RESULT_COLUMNS, lift_scan
from patron.query.catalog import Catalog
from patron.query.conditions import evaluate_condition
from patron.query.relate_query import Dimension, RelateQuery, parse_relate_query
from patron.storage.base import Repository

RUN_KIND = "relate"
RESULTS_TABLE = "relate_results"
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Incidence:
    """The customers of a query (row order), their target flag, and the customer x item matrix."""

    customers: np.ndarray
    target: np.ndarray
    matrix: sp.csc_matrix
    items: np.ndarray


def compile_query(repo: Repository, query: dict) -> RelateQuery:
    """Validate and compile ``query`` against the fields the store really has."""
    catalog = Catalog.from_repo(repo)
    parsed = parse_relate_query(query, catalog)
    if parsed.source.name not in catalog.present:
        raise NotFoundError(
            f"the query reads {parsed.source.name!r} but the store {repo.url} has no table "
            f"{parsed.source.table!r} (ingest data or build summaries first)"
        )
    return parsed


def _band_labels(dim: Dimension, frame: pd.DataFrame) -> pd.Series:
    """Quantile bands of a numeric customer field, labelled with their value range."""
    values = pd.to_numeric(frame["value"], errors="coerce")
    if values.isna().any():
        bad = frame.loc[values.isna(), "value"].iloc[0]
        raise InputError(
            f"field {dim.field!r} is banded but holds a non-number", expected="numbers", found=bad
        )
    # Ties stay in one band (so bands do not depend on row order); repeated edges merge bands.
    codes = pd.qcut(values, dim.bands, labels=False, duplicates="drop")
    n_bands = int(codes.max()) + 1
    labels = {}
    for code, grp in values.groupby(codes):
        labels[code] = f"{dim.label} band {int(code) + 1}/{n_bands} ({grp.min():.4g} to {grp.max():.4g})"
    return codes.map(labels)


def build_incidence(repo: Repository, parsed: RelateQuery) -> Incidence:
    """Run the compiled statements and assemble target and incidence (ids as strings)."""
    flags = repo.query(parsed.target.sql, parsed.target.params)
    if flags.empty:
        raise InputError(
            f'the query selects no customers from {parsed.source.name!r} (check "where": '
            f"{json.dumps(parsed.raw.get('where'))})"
        )
    customers = flags["customer_id"].astype(str).to_numpy(dtype=object)
    pairs = repo.query(parsed.incidence.sql, parsed.incidence.params)
    dims = pairs["dim"].to_numpy()
    row_col, code_col, labels = [], [], []
    for index, dim in enumerate(parsed.dimensions):
        part = pairs[dims == index]
        if part.empty:
            continue
        values = _band_labels(dim, part) if dim.bands else part["value"]
        # Factorise first and build "field=value" labels for the distinct values only (not per row).
        codes, uniques = pd.factorize(values.to_numpy(dtype=object))
        names = list(uniques) if dim.bands else [f"{dim.label}={v}" for v in uniques]
        row_col.append(part["row_idx"].to_numpy(dtype=np.int64))
        code_col.append(codes + len(labels))
        labels.extend(names)
    if not row_col:
        raise InputError(
            f"none of the relate dimensions {[d.field for d in parsed.dimensions]} has any value"
        )
    # Columns in alphabetical order of their labels, so a pattern always lists its items the same way.
    order = np.argsort(np.asarray(labels, dtype=object), kind="stable")
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    rows = np.concatenate(row_col)
    cols = rank[np.concatenate(code_col)]
    matrix = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(len(customers), len(labels)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    items = np.asarray(labels, dtype=object)[order]
    return Incidence(customers, flags["flag"].to_numpy(dtype=bool), matrix, items)


def scan(repo: Repository, query: dict) -> tuple[pd.DataFrame, RelateQuery, Incidence]:
    """All tested patterns of ``query`` (not stored), the compiled query and the incidence it used."""
    parsed = compile_query(repo, query)
    inc = build_incidence(repo, parsed)
    result = lift_scan(
        inc.matrix,
        inc.target,
        list(inc.items),
        max_order=parsed.max_order,
        min_support=parsed.min_support,
        level=parsed.level,
        alternative=parsed.alternative,
    )
    return result, parsed, inc


def select_patterns(result: pd.DataFrame, parsed: RelateQuery) -> pd.DataFrame:
    """Apply the query's ``having``, ``order_by``, ``limit`` and ``select`` to the scan's patterns."""
    frame = result
    if parsed.having is not None:
        frame = frame[evaluate_condition(parsed.having, frame, RESULT_COLUMNS, where='"having"')]
    tie = "p_value" if parsed.order_by != "p_value" else "lift"
    frame = frame.sort_values(
        [parsed.order_by, tie, "pattern"], ascending=[not parsed.descending, tie == "p_value", True]
    )
    if parsed.limit is not None:
        frame = frame.head(parsed.limit)
    out = frame[list(parsed.select)].reset_index(drop=True)
    out.attrs.update(result.attrs)
    return out


def describe_target(target: Any) -> str:
    """Plain words for common targets (``$top``/``$bottom`` bands); other conditions are shown as JSON."""
    if isinstance(target, dict) and len(target) == 1:
        ((key, value),) = target.items()
        if key in ("$top", "$bottom") and isinstance(value, dict) and len(value) == 1:
            ((field, share),) = value.items()
            return f"in the {key[1:]} {share * 100:g}% by {field}"
    return "meeting the target " + json.dumps(target, separators=(",", ":"))


def describe_pattern(row: Any, target_text: str, row_fields: Sequence[str] = ()) -> str:
    """Plain words: 'customers who buy DOG FOODS and GRAIN FREE, with age 35-44, are 3.4x as likely to be in the
    top 20% by revenue (52% of 130 customers)'. Items of ``row_fields`` (fields of the rows, e.g. ``category``)
    read as purchases; the others as customer attributes."""
    bought, described = [], []
    for item in str(row["pattern"]).split(" AND "):
        field, sep, value = item.partition("=")
        if sep and field in row_fields:
            bought.append(value)
        else:
            described.append(f"{field} {value}" if sep else item)
    parts = []
    if bought:
        parts.append("who buy " + " and ".join(bought))
    if described:
        parts.append("with " + " and ".join(described))
    who = "customers " + ", ".join(parts)
    if bought and described:
        who += ","
    return (
        f"{who} are {row['lift']:.2f}x as likely to be {target_text} "
        f"({row['p'] * 100:.0f}% of {int(row['support']):,} customers)"
    )


def run_relate(repo: Repository, query: dict) -> pd.DataFrame:
    """Run a relate query, store every tested pattern as a ``relate`` run, return the selected patterns.

    The returned frame's ``attrs`` hold ``run_id``, ``base_rate``, ``n_customers``, ``n_target``, ``n_tested`` and
    the plain-words ``target`` description.
    """
    with repo.run(RUN_KIND, {"query": query}) as run:
        with run.timed("scan"):
            result, parsed, inc = scan(repo, query)
        run.write(RESULTS_TABLE, result[list(RESULT_COLUMNS)])
        run.report.update(
            n_customers=int(result.attrs["n_customers"]),
            n_target=int(result.attrs["n_target"]),
            base_rate=float(result.attrs["base_rate"]),
            n_items=len(inc.items),
            n_tested=int(result.attrs["n_tested"]),
            n_significant=int((result["q_value"] < SIGNIFICANCE).sum()),
        )
    selected = select_patterns(result, parsed)
    target = parsed.raw.get("target") or next(
        e["target"] for e in parsed.raw["relate"] if isinstance(e, dict) and set(e) == {"target"}
    )
    selected.attrs.update(
        run_id=run.run_id,
        target=describe_target(target),
        row_fields=[d.label for d in parsed.dimensions if d.level == "rows"],
    )
    return selected

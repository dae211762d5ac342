"""Segments as objects: named definitions with members, value, a plain-language profile and exports.

A segment is stored in the dataset table ``segment_definitions`` (name, kind, definition JSON, created_at) and is
one of three kinds, told apart by the definition's key:

* ``{"where": CONDITION, "from": "order_lines"}``: customers meeting a customer-level condition (the query
  language of :mod:`patron.query`: per-customer metrics ``revenue``/``orders``/..., ``customers``, ``rfm``,
  ``btyd_summary`` and ``customer_attributes`` fields, ``$top``/``$bottom`` bands);
* ``{"model": {"label": "3", "method": "hdbscan", "run_id": null}}``: customers a fitted segmentation put in a
  label (``segment_assignments`` of the given or latest ``segment`` run);
* ``{"relate": QUERY, "pattern": "category=DOG FOODS AND age=35-44"}``: customers having every item of a pattern
  found by a relate scan (customers may belong to several such segments).

Members are recomputed from the current store on every call (a definition, not a frozen list), so a segment
follows new data; export the member list to freeze it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ConfigError, InputError, NotFoundError
from patron.io.schema import TRANSACTIONS
from patron.models.segmentation.relate import lift_scan
from patron.query.catalog import CUSTOMER_ATTRIBUTES, Catalog
from patron.query.relate_query import compile_customer_flag
from patron.services import relate as relate_service
from patron.storage.base import Repository, quote_identifier

SEGMENTS_TABLE = "segment_definitions"
KINDS: tuple[str, ...] = ("where", "model", "relate")
MAX_ATTRIBUTE_LEVELS = 50  # attribute columns with more distinct values are not used in profiles


@dataclass(frozen=True)
class Segment:
    """A named segment definition (see the module docstring for the three kinds)."""

    name: str
    kind: str
    definition: dict[str, Any]
    created_at: datetime | None = None


@dataclass
class SegmentProfile:
    """What a segment is worth and what distinguishes it from the base (by lift)."""

    name: str
    kind: str
    size: int
    share: float
    revenue: float
    revenue_share: float
    mean_clv: float | None
    distinguishing: pd.DataFrame = field(repr=False)
    description: str = ""


# --- definitions -----------------------------------------------------------------------------------------------
def _kind_of(definition: object) -> str:
    if not isinstance(definition, dict):
        raise InputError(f"a segment definition must be a JSON object, got {type(definition).__name__}")
    kinds = [k for k in KINDS if k in definition]
    if len(kinds) != 1:
        raise InputError(
            f"a segment definition needs exactly one of the keys {list(KINDS)}, got keys {sorted(definition)}"
        )
    allowed = {"where": {"where", "from"}, "model": {"model"}, "relate": {"relate", "pattern"}}[kinds[0]]
    extra = sorted(set(definition) - allowed)
    if extra:
        raise InputError(f"unknown key(s) {extra} in a {kinds[0]!r} segment; valid keys: {sorted(allowed)}")
    return kinds[0]


def _validate(repo: Repository, kind: str, definition: dict[str, Any]) -> None:
    """Compile (without running) what can be compiled, so a bad definition fails when defined, not when used."""
    if kind == "where":
        catalog = Catalog.from_repo(repo)
        compile_customer_flag(
            catalog,
            catalog.source(definition.get("from", "order_lines")),
            None,
            definition["where"],
            name="where",
        )
    elif kind == "model":
        model = definition["model"]
        if not isinstance(model, dict) or "label" not in model:
            raise InputError(
                'a model segment needs {"model": {"label": ..., "method": optional, "run_id": optional}}'
            )
        extra = sorted(set(model) - {"label", "method", "run_id"})
        if extra:
            raise InputError(
                f"unknown key(s) {extra} in \"model\"; valid keys: ['label', 'method', 'run_id']"
            )
    else:
        relate_service.compile_query(repo, definition["relate"])
        pattern = definition.get("pattern")
        if not isinstance(pattern, str) or not pattern.strip():
            raise InputError('a relate segment needs "pattern", e.g. "category=DOG FOODS AND age=35-44"')


def _read_definitions(repo: Repository) -> pd.DataFrame:
    if not repo.has_table(SEGMENTS_TABLE):
        return pd.DataFrame({"name": [], "kind": [], "definition": [], "created_at": []})
    return repo.read_table(SEGMENTS_TABLE)


def define_segment(repo: Repository, name: str, definition: dict[str, Any]) -> Segment:
    """Store (or replace) the segment ``name``; the definition is validated against the store first."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InputError(f"a segment name must be 1 to 100 characters, got {name!r}")
    kind = _kind_of(definition)
    _validate(repo, kind, definition)
    created = datetime.now(UTC).replace(tzinfo=None)
    table = _read_definitions(repo)
    table = table[table["name"] != name]
    row = pd.DataFrame(
        {"name": [name], "kind": [kind], "definition": [json.dumps(definition)], "created_at": [created]}
    )
    table = pd.concat([table, row], ignore_index=True) if len(table) else row
    table["created_at"] = pd.to_datetime(table["created_at"])
    repo.replace_tables({SEGMENTS_TABLE: table})
    return Segment(name, kind, definition, created)


def get_segment(repo: Repository, name: str) -> Segment:
    """The stored segment ``name``, or an error listing the defined ones."""
    table = _read_definitions(repo)
    rows = table[table["name"] == name]
    if rows.empty:
        names = ", ".join(sorted(table["name"])) or "none yet"
        raise NotFoundError(f"no segment named {name!r}; defined segments: {names}")
    row = rows.iloc[0]
    return Segment(row["name"], row["kind"], json.loads(row["definition"]), row["created_at"])


def list_segments(repo: Repository) -> list[Segment]:
    """All stored segments, by name."""
    table = _read_definitions(repo).sort_values("name")
    return [Segment(r.name, r.kind, json.loads(r.definition), r.created_at) for r in table.itertuples()]


def _as_segment(repo: Repository, segment: str | Segment) -> Segment:
    return segment if isinstance(segment, Segment) else get_segment(repo, segment)


# --- members ---------------------------------------------------------------------------------------------------
def members(repo: Repository, segment: str | Segment) -> pd.DataFrame:
    """Member customer ids (``customer_id`` as text, sorted; model segments add ``strength``)."""
    seg = _as_segment(repo, segment)
    if seg.kind == "where":
        catalog = Catalog.from_repo(repo)
        source = catalog.source(seg.definition.get("from", "order_lines"))
        if source.name not in catalog.present:
            raise NotFoundError(f"segment {seg.name!r} reads {source.name!r}, which the store does not have")
        stmt = compile_customer_flag(catalog, source, None, seg.definition["where"], name="where")
        flags = repo.query(stmt.sql, stmt.params)
        ids = flags.loc[flags["flag"] == 1, "customer_id"]
        out = pd.DataFrame({"customer_id": ids.astype(str)})
    elif seg.kind == "model":
        out = _model_members(repo, seg)
    else:
        out = _relate_members(repo, seg)
    return out.sort_values("customer_id").reset_index(drop=True)


def _model_members(repo: Repository, seg: Segment) -> pd.DataFrame:
    spec = seg.definition["model"]
    if spec.get("run_id"):
        frame = repo.read_results("segment_assignments", run_id=spec["run_id"])
    else:
        frame = repo.read_results("segment_assignments", kind="segment")
    keep = frame["segment"].astype(str) == str(spec["label"])
    if spec.get("method"):
        keep &= frame["method"].astype(str) == str(spec["method"])
    if not keep.any():
        labels = sorted(frame["segment"].astype(str).unique())
        raise NotFoundError(
            f"segment {seg.name!r}: no customer has label {spec['label']!r}; labels: {labels}"
        )
    picked = frame.loc[keep]
    return pd.DataFrame({"customer_id": picked["customer_id"].astype(str), "strength": picked["strength"]})


def _relate_members(repo: Repository, seg: Segment) -> pd.DataFrame:
    parsed = relate_service.compile_query(repo, seg.definition["relate"])
    inc = relate_service.build_incidence(repo, parsed)
    wanted = [s.strip() for s in seg.definition["pattern"].split(" AND ")]
    columns = {item: i for i, item in enumerate(inc.items)}
    missing = [w for w in wanted if w not in columns]
    if missing:
        raise NotFoundError(
            f"segment {seg.name!r}: item(s) {missing} do not occur in the data its query selects now"
        )
    has_all = np.asarray(inc.matrix[:, [columns[w] for w in wanted]].sum(axis=1)).ravel() == len(wanted)
    return pd.DataFrame({"customer_id": inc.customers[has_all].astype(str)})


def restrict(
    frame: pd.DataFrame,
    segment: str | Segment | pd.DataFrame | Iterable[object],
    repo: Repository | None = None,
    *,
    on: str = "customer_id",
) -> pd.DataFrame:
    """The rows of ``frame`` whose customer is in ``segment`` (a name or Segment with ``repo``, a members frame,
    or ids): the filter that runs any other analysis (churn, CLV, report) for one segment."""
    if isinstance(segment, str | Segment):
        if repo is None:
            raise ConfigError("restrict needs the repo to look up a segment by name")
        ids = members(repo, segment)["customer_id"]
    elif isinstance(segment, pd.DataFrame):
        ids = segment["customer_id"]
    else:
        ids = pd.Series(list(segment))
    wanted = set(ids.astype(str))
    if on in frame.columns:
        keys = frame[on]
    elif on in frame.index.names:
        keys = frame.index.get_level_values(on).to_series(index=frame.index)
    else:
        raise InputError(f"restrict: the frame has no column or index {on!r}; columns: {list(frame.columns)}")
    return frame[keys.astype(str).isin(wanted).to_numpy()]


# --- value and profile -----------------------------------------------------------------------------------------
def _revenue_by_customer(repo: Repository) -> pd.Series:
    if not repo.has_table(TRANSACTIONS):
        raise NotFoundError(f"the store {repo.url} has no transactions (ingest data first)")
    frame = repo.query(
        'SELECT CAST("customer_id" AS VARCHAR) AS customer_id, SUM("amount") AS revenue '
        'FROM "transactions" GROUP BY 1'
    )
    return frame.set_index("customer_id")["revenue"]


def _mean_clv(repo: Repository, ids: pd.Series) -> float | None:
    if not repo.has_table("clv_scores") or repo.latest_run("clv_score") is None:
        return None
    scores = repo.read_results("clv_scores", kind="clv_score")
    if "clv" not in scores:
        return None
    values = scores.loc[scores["customer_id"].astype(str).isin(set(ids)), "clv"]
    return float(values.mean()) if len(values) else None


def _profile_dimensions(repo: Repository) -> list[str]:
    dims = ["category"]
    if repo.has_table(CUSTOMER_ATTRIBUTES):
        for col in repo.table_columns(CUSTOMER_ATTRIBUTES):
            if col == "customer_id":
                continue
            n = repo.query(
                f"SELECT COUNT(DISTINCT {quote_identifier(col)}) AS n FROM {quote_identifier(CUSTOMER_ATTRIBUTES)}"
            ).iloc[0, 0]
            if 1 < n <= MAX_ATTRIBUTE_LEVELS:
                dims.append(f"{CUSTOMER_ATTRIBUTES}.{col}")  # qualified: a column may share a row field name
    return dims


def profile(
    repo: Repository, segment: str | Segment, *, top: int = 5, min_share: float = 0.05
) -> SegmentProfile:
    """Size, value and the items (categories, attributes) whose rate differs most between members and the base.

    By Bayes' rule ``P(member | item) / P(member) = P(item | member) / P(item)``, so the lift scan with
    membership as the target gives "members are L x as likely as the average customer to have the item";
    significance is the same exact hypergeometric test with BH q-values over all items. At most ``top`` items
    each way, held by at least ``min_share`` of the members (or of the base, for items members have less).
    """
    seg = _as_segment(repo, segment)
    ids = members(repo, seg)["customer_id"]
    revenue = _revenue_by_customer(repo)
    n_all = len(revenue)
    member_revenue = float(revenue[revenue.index.isin(set(ids))].sum())
    total_revenue = float(revenue.sum())
    mean_clv = _mean_clv(repo, ids)

    query = {"from": "order_lines", "relate": _profile_dimensions(repo), "target": {"lines": {"$gte": 0}}}
    parsed = relate_service.compile_query(repo, query)
    inc = relate_service.build_incidence(repo, parsed)
    is_member = pd.Index(inc.customers).isin(set(ids))
    n_members = int(is_member.sum())
    if is_member.all() or not is_member.any():
        distinguishing = pd.DataFrame(columns=["item", "member_share", "base_share", "lift", "q_value"])
    else:
        frames = []
        for alternative in ("greater", "less"):
            scan = lift_scan(
                inc.matrix, is_member, list(inc.items), max_order=1, min_support=5, alternative=alternative
            )
            keep = scan["q_value"] < relate_service.SIGNIFICANCE
            # Items held by very few members (or, for "less", by very few customers at all) are true but
            # useless as a description, so they must reach min_share among members (resp. the base).
            if alternative == "greater":
                keep &= (scan["lift"] > 1) & (scan["hits"] >= min_share * n_members)
            else:
                keep &= (scan["lift"] < 1) & (scan["support_share"] >= min_share)
            frames.append(scan[keep].head(top))
        picked = pd.concat(frames, ignore_index=True)
        distinguishing = pd.DataFrame(
            {
                "item": picked["pattern"],
                "member_share": picked["hits"] / n_members,
                "base_share": picked["support_share"],
                "lift": picked["lift"],
                "q_value": picked["q_value"],
            }
        )
    prof = SegmentProfile(
        name=seg.name,
        kind=seg.kind,
        size=len(ids),
        share=len(ids) / n_all if n_all else 0.0,
        revenue=member_revenue,
        revenue_share=member_revenue / total_revenue if total_revenue else 0.0,
        mean_clv=mean_clv,
        distinguishing=distinguishing,
    )
    prof.description = describe_profile(prof)
    return prof


def describe_profile(prof: SegmentProfile) -> str:
    """A few plain sentences: size, value, and what members do more (and less) than the average customer."""
    text = (
        f"Segment {prof.name!r}: {prof.size:,} customers ({prof.share:.1%} of all), "
        f"{prof.revenue_share:.1%} of revenue ({prof.revenue:,.2f})"
    )
    text += f", mean CLV {prof.mean_clv:,.2f}." if prof.mean_clv is not None else "."
    more = prof.distinguishing[prof.distinguishing["lift"] > 1]
    less = prof.distinguishing[prof.distinguishing["lift"] < 1]
    if len(more):
        text += " Compared with the average customer, members are " + "; ".join(
            f"{r.lift:.1f}x as likely to have {r.item} ({r.member_share:.0%} vs {r.base_share:.0%})"
            for r in more.itertuples()
        )
        text += "."
    if len(less):
        text += " They are less likely to have " + "; ".join(
            f"{r.item} ({r.member_share:.0%} vs {r.base_share:.0%})" for r in less.itertuples()
        )
        text += "."
    if not len(more) and not len(less):
        text += " No category or attribute differs significantly from the base (q < 0.05)."
    return text


# --- exports ---------------------------------------------------------------------------------------------------
def export_members(
    repo: Repository, segment: str | Segment, path: str | Path, *, format: str | None = None
) -> Path:
    """Write the member list (segment, customer_id[, strength]) to CSV or Parquet; the format follows the suffix."""
    seg = _as_segment(repo, segment)
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"export format must be csv or parquet, got {fmt!r} (from {path.name!r})")
    frame = members(repo, seg)
    frame.insert(0, "segment", seg.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def weekly_covariates(repo: Repository, segment: str | Segment) -> pd.DataFrame:
    """Weekly series for a marketing-mix model: week (Monday), members_active, revenue, orders, members_acquired.

    Every week between the store's first and last transaction is present (zeros where members bought nothing),
    so the series aligns with other MMM inputs. ``members_acquired`` is the number of members whose first purchase
    is in or before that week (the segment's size over time).
    """
    seg = _as_segment(repo, segment)
    ids = members(repo, seg)["customer_id"].tolist()
    if not repo.has_table(TRANSACTIONS):
        raise NotFoundError(f"the store {repo.url} has no transactions (ingest data first)")
    span = repo.query('SELECT MIN("timestamp") AS lo, MAX("timestamp") AS hi FROM "transactions"')
    # Postgres and DuckDB both take a list parameter for = ANY(?) and both start date_trunc weeks on Monday.
    order_key = (
        'COALESCE(CAST("order_id" AS VARCHAR), CAST("customer_id" AS VARCHAR) || \'@\' || '
        'CAST(CAST("timestamp" AS DATE) AS VARCHAR))'
    )
    weekly = repo.query(
        f'SELECT date_trunc(\'week\', "timestamp") AS week, COUNT(DISTINCT "customer_id") AS members_active, '
        f'SUM("amount") AS revenue, COUNT(DISTINCT {order_key}) AS orders '
        'FROM "transactions" WHERE CAST("customer_id" AS VARCHAR) = ANY(?) GROUP BY 1',
        [ids],
    )
    first = repo.query(
        'SELECT date_trunc(\'week\', MIN("timestamp")) AS week FROM "transactions" '
        'WHERE CAST("customer_id" AS VARCHAR) = ANY(?) GROUP BY "customer_id"',
        [ids],
    )
    lo, hi = pd.Timestamp(span["lo"].iloc[0]), pd.Timestamp(span["hi"].iloc[0])
    weeks = pd.date_range(lo.normalize() - pd.Timedelta(days=lo.weekday()), hi, freq="W-MON")
    out = pd.DataFrame({"week": weeks})
    weekly["week"] = pd.to_datetime(weekly["week"])
    out = out.merge(weekly, on="week", how="left")
    acquired = pd.to_datetime(first["week"]).value_counts().reindex(weeks, fill_value=0).cumsum()
    out["members_active"] = out["members_active"].fillna(0).astype("int64")
    out["orders"] = out["orders"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype(float)
    out["members_acquired"] = acquired.to_numpy(dtype="int64")
    out.insert(0, "segment", seg.name)
    return out


def audience(
    repo: Repository,
    segment: str | Segment,
    *,
    treatment_share: float = 0.5,
    seed: int = 42,
    stratify: str | None = "value_band",
    n_bands: int = 4,
) -> pd.DataFrame:
    """A reproducible random treatment/control split of the members, stratified by value band.

    Members are sorted by id (so the split does not depend on row order), put in ``n_bands`` revenue quantile
    bands, and within each band a permutation drawn from ``np.random.default_rng(seed)`` assigns
    ``floor(share * n + u)`` members to treatment (``u`` uniform: randomised rounding, so each band's treatment
    count is within one of ``share * n`` and the expected overall share is exact).

    Returns customer_id, stratum, group ("treatment" / "control").
    """
    if not 0 < treatment_share < 1:
        raise ConfigError(f"treatment_share must be in (0, 1), got {treatment_share!r}")
    if stratify not in (None, "value_band"):
        raise ConfigError(f"stratify must be 'value_band' or None, got {stratify!r}")
    ids = members(repo, segment)["customer_id"].sort_values(kind="stable").reset_index(drop=True)
    if ids.empty:
        raise InputError("the segment has no members to split")
    if stratify == "value_band":
        revenue = _revenue_by_customer(repo).reindex(ids).fillna(0.0).to_numpy()
        bands = min(n_bands, len(ids))
        codes = pd.qcut(pd.Series(revenue).rank(method="first"), bands, labels=False).to_numpy()
        strata = np.array([f"value band {c + 1}/{bands}" for c in codes], dtype=object)
    else:
        strata = np.full(len(ids), "all", dtype=object)
    rng = np.random.default_rng(seed)
    group = np.empty(len(ids), dtype=object)
    for stratum in sorted(set(strata)):
        idx = np.flatnonzero(strata == stratum)
        n_treat = int(np.floor(treatment_share * idx.size + rng.random()))
        chosen = rng.permutation(idx)
        group[chosen[:n_treat]] = "treatment"
        group[chosen[n_treat:]] = "control"
    return pd.DataFrame({"customer_id": ids, "stratum": strata, "group": group})

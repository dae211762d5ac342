"""View models of the dashboard's pages: each page is a title, optional actions and a list of report sections
(:class:`patron.report.sections.Section`), so the dashboard and the report share formatting and charts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from patron.dashboard import queries
from patron.errors import NotFoundError
from patron.plots import report as charts
from patron.report import sections as S
from patron.report.queries import latest_results, list_runs, not_run_message
from patron.storage.base import RUNS_TABLE, Repository

MEMBERS_SHOWN = 200


@dataclass
class Action:
    label: str
    href: str  # relative to the dashboard root
    download: bool = False


@dataclass
class Page:
    title: str
    sections: list[S.Section]
    actions: list[Action] = field(default_factory=list)
    subtitle: str = ""


def _link(*parts: str) -> str:
    return "/".join(quote(str(p), safe="") for p in parts)


# --- overview ---------------------------------------------------------------------------------------------------
def overview(repo: Repository) -> Page:
    sec = S.Section("overview", "Store at a glance")
    stats = queries.store_overview(repo)
    if stats is None:
        sec.missing = not_run_message("transactions")
        return Page("Overview", [sec])
    sec.facts = [
        ("customers", S.fmt_int(stats["customers"])),
        ("orders", S.fmt_int(stats["orders"])),
        ("transaction lines", S.fmt_int(stats["lines"])),
        ("revenue (data currency)", S.fmt_money(stats["revenue"])),
        ("first purchase", S.fmt_date(stats["first"])),
        ("last purchase", S.fmt_date(stats["last"])),
    ]
    runs = queries.latest_runs_by_kind(repo)
    if len(runs):
        sec.tables.append(_runs_table(runs, "The latest run of each kind."))
    data = S.data_section(repo)
    sec.charts += [c for c in data.charts if c.id == "chart-monthly-revenue"]
    pages = [sec]
    clv = S.clv_distribution_section(repo)
    clv.charts = [c for c in clv.charts if c.id == "chart-clv-histogram"]
    clv.tables = clv.tables[:1]
    pages.append(clv)
    churn = latest_results(repo, "churn_scores")
    risk = S.Section("churn-risk", "Churn risk")
    if churn is None:
        risk.missing = not_run_message("churn_scores")
    else:
        risk.run = S.run_label(churn.run)
        p = churn.rows["probability"].astype(float)
        counts, edges = np.histogram(p, bins=20, range=(0.0, 1.0))
        risk.facts = [
            ("customers scored", S.fmt_int(len(p))),
            ("mean churn probability", S.fmt_pct(p.mean())),
            ("customers above 50 %", S.fmt_int((p > 0.5).sum())),
        ]
        risk.charts.append(
            S.ChartView(
                "chart-churn-histogram",
                charts.histogram_bars(
                    edges.tolist(),
                    counts.tolist(),
                    title="Distribution of churn probability",
                    x_title="P(churn)",
                ),
            )
        )
    pages.append(risk)
    return Page("Overview", pages)


# --- segments ---------------------------------------------------------------------------------------------------
def segments(repo: Repository) -> Page:
    model = S.segments_section(repo)
    model.title = "Fitted segments"
    defined = S.Section("defined", "Defined segments", "Named segments stored with `patron export define`.")
    defs = queries.defined_segments(repo)
    if defs:
        defined.tables.append(
            S.TableView(
                ["name", "kind", "definition"],
                [[d.name, d.kind, json.dumps(d.definition)] for d in defs],
                [False, False, False],
                links=[_link("segments", "defined", d.name) for d in defs],
            )
        )
    else:
        defined.missing = "no segment defined yet"
    return Page("Segments", [model, defined])


def model_segment(repo: Repository, label: str) -> Page:
    members, profiles = queries.model_segment_members(repo, label)
    row = profiles.rows[profiles.rows["segment"].astype(str) == label].iloc[0]
    sec = S.Section("profile", f"Segment {label}: {row['name']}", str(row["description"]))
    sec.run = S.run_label(profiles.run)
    sec.facts = [("customers", S.fmt_int(row["size"])), ("share of customers", S.fmt_pct(row["share"]))]
    extra = [
        c
        for c in profiles.rows.columns
        if c not in ("run_id", "segment", "name", "size", "share", "description")
    ]
    sec.facts += [(S.humanise(c), _fmt_any(row[c])) for c in extra]
    _member_facts(sec, members)
    return Page(
        f"Segment {label}",
        [sec, _members_section(members)],
        [Action("Download members (CSV)", _link("segments", "model", label) + "/members.csv", download=True)],
    )


def defined_segment(repo: Repository, name: str) -> Page:
    from patron.services import segments as segment_service

    members = queries.defined_segment_members(repo, name)
    seg = segment_service.get_segment(repo, name)
    sec = S.Section("profile", f"Segment {name}", f"{seg.kind} segment: {json.dumps(seg.definition)}")
    sec.facts = [("customers", S.fmt_int(len(members)))]
    _member_facts(sec, members)
    return Page(
        f"Segment {name}",
        [sec, _members_section(members)],
        [
            Action(
                "Download members (CSV)", _link("segments", "defined", name) + "/members.csv", download=True
            )
        ],
    )


def _member_facts(sec: S.Section, members: pd.DataFrame) -> None:
    if "clv" in members:
        sec.facts.append(("mean CLV of members", S.fmt_money(members["clv"].mean())))
    if "churn_probability" in members:
        sec.facts.append(("mean churn probability", S.fmt_pct(members["churn_probability"].mean())))


def _members_section(members: pd.DataFrame) -> S.Section:
    sec = S.Section("members", "Members")
    order = "clv" if "clv" in members else "customer_id"
    shown = members.sort_values(order, ascending=order == "customer_id").head(MEMBERS_SHOWN)
    table = S.generic_table(
        shown,
        caption=f"{S.fmt_int(len(shown))} of {S.fmt_int(len(members))} members"
        + (", highest CLV first" if order == "clv" else "")
        + "; the CSV has them all.",
    )
    table.links = [_link("customers", c) for c in shown["customer_id"]]
    sec.tables.append(table)
    return sec


def _fmt_any(v: Any) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return S.fmt_num(v)
    return "–" if v is None else str(v)


# --- customers --------------------------------------------------------------------------------------------------
def customer_search(repo: Repository, text: str) -> Page:
    found = queries.find_customers(repo, text)
    sec = S.Section("customers", "Customers" + (f" matching {text!r}" if text else " with the most revenue"))
    if found.empty:
        sec.missing = (
            "no customer matches" if repo.has_table("customers") else not_run_message("transactions")
        )
    else:
        table = S.generic_table(found)
        table.links = [_link("customers", c) for c in found["customer_id"]]
        sec.tables.append(table)
    return Page("Customers", [sec])


def customer(repo: Repository, customer_id: str) -> Page:
    rec = queries.customer_record(repo, customer_id)
    head = S.Section("customer", f"Customer {customer_id}")
    head.facts = [
        ("first purchase", S.fmt_date(rec.get("first_purchase"))),
        ("last purchase", S.fmt_date(rec.get("last_purchase"))),
        ("orders", S.fmt_int(rec.get("orders"))),
        ("revenue (data currency)", S.fmt_money(rec.get("revenue"))),
    ]
    seg = queries.customer_segment(repo, customer_id)
    if seg is not None:
        head.facts.append(("segment", seg))

    history = S.Section("history", "Purchase history")
    orders = queries.customer_orders(repo, customer_id)
    if len(orders):
        history.charts.append(
            S.ChartView(
                "chart-customer-orders",
                charts.bar(
                    [pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in orders["timestamp"]],
                    orders["amount"].tolist(),
                    title="Value of each order",
                    x_title="order date",
                    y_title="order value (data currency)",
                ),
            )
        )
        recent = orders.sort_values("timestamp", ascending=False).head(20)
        history.tables.append(
            S.generic_table(recent, caption=f"The latest {len(recent)} of {len(orders)} orders.")
        )

    scores = S.Section("scores", "Scores over time", "The customer's scores in each scoring run.")
    clv = queries.customer_scores(
        repo, "clv_scores", ["clv", "probability_alive", "expected_purchases"], customer_id
    )
    churn = queries.customer_scores(repo, "churn_scores", ["probability"], customer_id)
    if clv.empty and churn.empty:
        scores.missing = "not run yet: run `patron clv score` or `patron churn score`"
    for frame, column, label, cid in (
        (clv, "clv", "CLV (data currency)", "chart-customer-clv"),
        (churn, "probability", "churn probability", "chart-customer-churn"),
    ):
        if frame.empty:
            continue
        head.facts.append(
            (
                f"latest {label}",
                S.fmt_pct(frame[column].iloc[-1])
                if column == "probability"
                else S.fmt_money(frame[column].iloc[-1]),
            )
        )
        scores.charts.append(
            S.ChartView(
                cid,
                charts.lines(
                    frame["started_at"].tolist(),
                    {label: frame[column].astype(float).tolist()},
                    title=f"{label[0].upper() + label[1:]} by scoring run",
                    x_title="run started (UTC)",
                    y_title=label,
                    markers=True,
                ),
            )
        )
        scores.tables.append(S.generic_table(frame, caption=f"{label} per run"))

    reasons = S.Section(
        "reasons", "Reasons", "Why the churn model scores this customer as it does, strongest first."
    )
    rows, res = queries.customer_reasons(repo, customer_id)
    if res is None:
        reasons.missing = not_run_message("churn_reasons")
    elif rows.empty:
        reasons.missing = f"the latest scoring run ({res.run_id}) gave this customer no reasons"
    else:
        reasons.run = S.run_label(res.run)
        reasons.tables.append(
            S.TableView(
                ["rank", "reason", "feature", "contribution"],
                [
                    [S.fmt_int(r.rank), str(r.reason), str(r.feature), S.fmt_num(r.contribution)]
                    for r in rows.itertuples()
                ],
                [True, False, False, True],
            )
        )
    return Page(f"Customer {customer_id}", [head, reasons, scores, history])


# --- runs -------------------------------------------------------------------------------------------------------
def _runs_table(runs: pd.DataFrame, caption: str = "") -> S.TableView:
    rows = []
    for r in runs.itertuples():
        seconds = (
            (pd.Timestamp(r.finished_at) - pd.Timestamp(r.started_at)).total_seconds()
            if not S._missing_value(r.finished_at)
            else float("nan")
        )
        rows.append(
            [
                str(r.run_id),
                str(r.kind),
                str(r.status),
                pd.Timestamp(r.started_at).strftime("%Y-%m-%d %H:%M:%S"),
                "–" if pd.isna(seconds) else f"{seconds:.1f} s",
                "" if S._missing_value(r.error) else str(r.error)[:120],
            ]
        )
    return S.TableView(
        ["run", "kind", "status", "started (UTC)", "took", "error"],
        rows,
        [False, False, False, False, True, False],
        caption,
        links=[_link("runs", r) for r in runs["run_id"]],
    )


def runs(repo: Repository) -> Page:
    sec = S.Section("runs", "Model runs", "Every run recorded in the store, newest first.")
    frame = list_runs(repo)
    if frame.empty:
        sec.missing = not_run_message("transactions")
    else:
        sec.tables.append(_runs_table(frame))
    return Page("Runs", [sec])


def run(repo: Repository, run_id: str) -> Page:
    if not repo.has_table(RUNS_TABLE):
        raise NotFoundError(f"no run with id {run_id!r} (the store has no runs yet)")
    record = repo.get_run(run_id)
    head = S.Section("run", f"Run {run_id}")
    head.facts = [
        ("kind", str(record["kind"])),
        ("status", str(record["status"])),
        ("started (UTC)", str(record["started_at"])[:19]),
        ("finished (UTC)", str(record.get("finished_at") or "–")[:19]),
        ("patron", str(record.get("package_version") or "–")),
    ]
    for key in ("params", "report", "timings"):
        value = record.get(key)
        if isinstance(value, dict) and value:
            head.tables.append(
                S.TableView(
                    ["name", "value"],
                    [[k, _fmt_json(v)] for k, v in value.items()],
                    [False, False],
                    caption=key,
                )
            )
    if record.get("error"):
        head.notes.append(f"error: {record['error']}")
    tables = queries.run_tables(repo, run_id)
    if tables:
        head.tables.append(
            S.TableView(
                ["result table", "rows"],
                [[t, S.fmt_int(n)] for t, n in tables.items()],
                [False, True],
                caption="What this run wrote",
            )
        )
    diagnostics = _diagnostics(repo, run_id, tables)
    return Page(f"Run {run_id}", [head, *diagnostics])


def _fmt_json(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, default=str)


def _diagnostics(repo: Repository, run_id: str, tables: dict[str, int]) -> list[S.Section]:
    builders = {
        "cleaning_report": S.data_section,
        "clv_parameters": S.clv_fit_section,
        "clv_scores": S.clv_distribution_section,
        "segment_profiles": S.segments_section,
        "churn_metrics": S.churn_section,
        "churn_reasons": S.reasons_section,
    }
    out = []
    for table, build in builders.items():
        if table in tables:
            sec = build(repo, run_id)
            sec.title = f"Diagnostics: {sec.title}"
            out.append(sec)
    return out

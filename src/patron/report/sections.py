"""View models: turn the store's tables into what a page shows (formatted tables, charts, facts).

Templates only lay these out; every number is formatted here and every chart is built here (with the helpers
of :mod:`patron.plots.report`). A section whose table is absent carries ``missing`` ("not run yet: run
`patron ...`") instead of content, so a report or page renders on a store at any stage of the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from patron.errors import PatronError
from patron.models.clv import evaluation as clv_eval
from patron.plots import clv as clv_plots
from patron.plots import report as charts
from patron.report.queries import (
    Results,
    dataset,
    latest_results,
    latest_run_of,
    load_model,
    not_run_message,
)
from patron.storage.base import Repository

# A fit check that cannot be drawn for a model (missing method, rejected grid) becomes a note, not a failed report.
CHECK_ERRORS = (PatronError, AttributeError, TypeError, ValueError, KeyError, ArithmeticError)
MATRIX_CELLS = 30  # recency points (and at most this many frequencies) in the matrices
MAX_POINTS = 3000  # scatter points written into a page (sampled above this)
TOP_CUSTOMERS = 20
UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}


# --- view model types ------------------------------------------------------------------------------------------
@dataclass
class TableView:
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    caption: str = ""
    links: list[str | None] | None = None  # optional link per row (first cell)

    @property
    def cells(self) -> list[list[tuple[str, bool]]]:
        return [list(zip(row, self.numeric, strict=True)) for row in self.rows]


@dataclass
class ChartView:
    id: str
    figure: go.Figure
    caption: str = ""

    @property
    def html(self) -> str:
        return charts.figure_div(self.figure, self.id)


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    missing: str | None = None
    run: str | None = None  # "run <id> (<kind>, <date>)"
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[TableView] = field(default_factory=list)
    charts: list[ChartView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- formatting ------------------------------------------------------------------------------------------------
def _missing_value(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def fmt_int(v: Any) -> str:
    return "–" if _missing_value(v) else f"{round(float(v)):,}"


def fmt_money(v: Any) -> str:
    return "–" if _missing_value(v) else f"{float(v):,.2f}"


def fmt_num(v: Any, digits: int = 3) -> str:
    if _missing_value(v):
        return "–"
    x = float(v)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 10**-(digits)):
        return f"{x:.{digits}g}"
    return f"{x:,.{digits}f}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    return "–" if _missing_value(v) else f"{100 * float(v):.{digits}f} %"


def fmt_date(v: Any) -> str:
    return "–" if _missing_value(v) else str(pd.Timestamp(v).date())


def humanise(name: str) -> str:
    return str(name).replace("_", " ")


def run_label(run: dict[str, Any]) -> str:
    started = run.get("started_at")
    when = pd.Timestamp(started).strftime("%Y-%m-%d %H:%M UTC") if started is not None else "?"
    return f"run {run['run_id']} ({run['kind']}, {when})"


def generic_table(
    frame: pd.DataFrame,
    *,
    drop: Sequence[str] = ("run_id",),
    caption: str = "",
    formats: dict[str, Callable[[Any], str]] | None = None,
) -> TableView:
    """Any frame as a table: numbers right-aligned and formatted (``formats`` by column), text as is."""
    formats = formats or {}
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame
    ]
    rows = []
    for rec in frame.itertuples(index=False):
        row = []
        for value, is_num, col in zip(rec, numeric, frame.columns, strict=True):
            if col in formats:
                row.append(formats[col](value))
            elif is_num:
                integral = pd.api.types.is_integer_dtype(frame[col])
                row.append(fmt_int(value) if integral else fmt_num(value))
            else:
                row.append("–" if _missing_value(value) else str(value))
        rows.append(row)
    return TableView([humanise(c) for c in frame.columns], rows, numeric, caption)


def _sample(frame: pd.DataFrame, n: int = MAX_POINTS) -> tuple[pd.DataFrame, bool]:
    """At most ``n`` rows, drawn reproducibly (seeded generator), so big stores make small pages."""
    if len(frame) <= n:
        return frame, False
    idx = np.random.default_rng(0).choice(len(frame), size=n, replace=False)
    return frame.iloc[np.sort(idx)], True


def _unit(repo: Repository) -> tuple[str, float, str]:
    """Time unit code, multiplier and plural name of the latest summary run (weeks when unknown)."""
    run = latest_run_of(repo, "summary")
    params = (run or {}).get("params") or {}
    unit = str(params.get("time_unit", "W"))
    mult = float(params.get("freq_multiplier", 1) or 1)
    name = UNIT_NAMES.get(unit, "periods")
    if mult != 1:
        name = f"{name} x {mult:g}"
    return unit, mult, name


# --- sections --------------------------------------------------------------------------------------------------
def data_section(repo: Repository, run_id: str | None = None) -> Section:
    sec = Section(
        "data",
        "Data and cleaning",
        "Every row read is either kept or removed by exactly one cleaning rule; rows and revenue add up.",
    )
    res = latest_results(repo, "cleaning_report", run_id)
    if res is None:
        sec.missing = not_run_message("cleaning_report")
        return sec
    sec.run = run_label(res.run)
    report = res.run.get("report") or {}
    frame = res.rows
    rows_read = float(report.get("rows_read") or frame.loc[frame["action"] != "flag", "rows"].sum())
    sec.facts += [
        ("rows read", fmt_int(rows_read)),
        ("rows kept", fmt_int(report.get("rows_kept"))),
        ("revenue read", fmt_money(report.get("revenue_read"))),
        ("revenue kept", fmt_money(report.get("revenue_kept"))),
        ("customers", fmt_int(report.get("customers"))),
    ]
    tx = _transactions_overview(repo)
    if tx is not None:
        sec.facts += [
            ("orders", fmt_int(tx["orders"])),
            ("first purchase", fmt_date(tx["first"])),
            ("last purchase", fmt_date(tx["last"])),
        ]
    rows = [
        [
            humanise(r.rule),
            str(r.action),
            fmt_int(r.rows),
            fmt_pct(r.rows / rows_read if rows_read else float("nan")),
            fmt_money(r.revenue),
        ]
        for r in frame.itertuples()
    ]
    sec.tables.append(
        TableView(
            ["rule", "action", "rows", "share of rows read", "revenue (data currency)"],
            rows,
            [False, False, True, True, True],
            "Rows and line revenue (as read) by cleaning rule; action 'flag' rows are counted but kept.",
        )
    )
    removed = frame[(frame["rule"] != "kept") & (frame["rows"] > 0)]
    if len(removed):
        sec.charts.append(
            ChartView(
                "chart-cleaning",
                charts.bar(
                    [humanise(r) for r in removed["rule"]],
                    removed["rows"].tolist(),
                    title="Rows removed or flagged, by cleaning rule",
                    x_title="rows",
                    y_title="rule",
                    horizontal=True,
                    hover=[f"revenue {fmt_money(v)}" for v in removed["revenue"]],
                ),
            )
        )
    monthly = _monthly_revenue(repo)
    if monthly is not None and len(monthly):
        sec.charts.append(
            ChartView(
                "chart-monthly-revenue",
                charts.bar(
                    [pd.Timestamp(m).strftime("%Y-%m") for m in monthly["month"]],
                    monthly["revenue"].tolist(),
                    title="Kept revenue by month",
                    x_title="month",
                    y_title="revenue (data currency)",
                ),
            )
        )
    return sec


def _transactions_overview(repo: Repository) -> dict[str, Any] | None:
    if not repo.has_table("transactions"):
        return None
    row = repo.query(
        'SELECT COUNT(*) AS n, COUNT(DISTINCT "order_id") AS orders, MIN("timestamp") AS first, '
        'MAX("timestamp") AS last FROM "transactions"'
    ).iloc[0]
    return dict(row)


def _monthly_revenue(repo: Repository) -> pd.DataFrame | None:
    if not repo.has_table("transactions"):
        return None
    return repo.query(
        'SELECT date_trunc(\'month\', "timestamp") AS month, SUM("amount") AS revenue '
        'FROM "transactions" GROUP BY 1 ORDER BY 1'
    )


def clv_fit_section(repo: Repository, run_id: str | None = None) -> Section:
    sec = Section(
        "clv-fit",
        "CLV model fit",
        "The purchase model's parameters with 95 % intervals, and how well it tracks what customers did: "
        "repeat purchases over time and in the holdout period, calibration against holdout.",
    )
    params = latest_results(repo, "clv_parameters", run_id)
    if params is None:
        sec.missing = not_run_message("clv_parameters")
        return sec
    sec.run = run_label(params.run)
    p = params.rows
    sec.tables.append(
        TableView(
            ["model", "parameter", "estimate", "std. error", "95 % interval"],
            [
                [
                    str(r.model),
                    str(r.parameter),
                    fmt_num(r.estimate),
                    fmt_num(r.se),
                    f"[{fmt_num(r.lower_95)}, {fmt_num(r.upper_95)}]",
                ]
                for r in p.itertuples()
            ],
            [False, False, True, True, True],
            "Maximum-likelihood estimates; intervals from the standard errors.",
        )
    )
    comparison = latest_results(repo, "clv_model_comparison", params.run_id)
    if comparison is not None and len(comparison.rows):
        sec.tables.append(
            generic_table(comparison.rows, caption="Candidate models compared on the same data.")
        )
    for model_name, g in p.groupby("model", sort=False):
        if {"estimate", "lower_95", "upper_95"} <= set(g.columns) and len(g) > 0:
            sec.charts.append(
                ChartView(
                    f"chart-parameters-{model_name}",
                    _styled(
                        clv_plots.parameter_intervals_figure(
                            g.set_index("parameter")[["estimate", "lower_95", "upper_95"]],
                            title=f"{model_name} model: parameters with 95 % intervals",
                        )
                    ),
                )
            )
    model = load_model(repo, "purchase", params.run_id)
    if model is None:
        sec.notes.append("The fit run stored no 'purchase' model, so the fit checks below cannot be drawn.")
        return sec
    unit, _, _ = _unit(repo)
    summary_run = latest_run_of(repo, "summary")
    cal_end = ((summary_run or {}).get("params") or {}).get("calibration_end")
    for name, build in (("tracking plot", _tracking_chart), ("conditional expectations", _conditional_chart)):
        try:
            chart = build(repo, model, unit, cal_end)
        except CHECK_ERRORS as exc:
            sec.notes.append(f"{name} not drawn: {exc}")
            continue
        if chart is not None:
            sec.charts.append(chart)
    return sec


def _styled(fig: go.Figure) -> go.Figure:
    """A figure from :mod:`patron.plots.clv` in the report's look (its titles and axes kept)."""
    fig.update_layout(
        template=charts.TEMPLATE, height=charts.HEIGHT, margin={"l": 70, "r": 20, "t": 50, "b": 60}
    )
    return fig


def _tracking_chart(repo: Repository, model: Any, unit: str, cal_end: str | None) -> ChartView | None:
    if not repo.has_table("transactions") or cal_end is None:
        return None
    # one row per customer and purchase day is all the tracking needs (it counts purchase days)
    days = repo.query(
        'SELECT CAST("customer_id" AS VARCHAR) AS customer_id, CAST("timestamp" AS DATE) AS timestamp '
        'FROM "transactions" GROUP BY 1, 2'
    )
    if days.empty:
        return None
    track = clv_eval.tracking(model, days, calibration_end=cal_end, time_unit=unit)
    return ChartView(
        "chart-tracking",
        _styled(clv_plots.tracking_figure(track)),
        f"The model line is the expectation for the same {fmt_int(track.attrs.get('cohort'))} customers "
        "(first purchase before the calibration end), each from the day they were acquired.",
    )


def _conditional_chart(repo: Repository, model: Any, unit: str, cal_end: str | None) -> ChartView | None:
    cal = dataset(repo, "btyd_calibration")
    if cal is None or cal.empty:
        return None
    ce = clv_eval.conditional_expectations(clv_eval.holdout_predictions(model, cal))
    return ChartView(
        "chart-conditional",
        _styled(clv_plots.conditional_expectations_figure(ce)),
        "Customers per group: "
        + ", ".join(f"{label}: {fmt_int(n)}" for label, n in zip(ce.index, ce["n_customers"], strict=True)),
    )


def clv_distribution_section(repo: Repository, run_id: str | None = None) -> Section:
    sec = Section(
        "clv-scores",
        "CLV distribution and top customers",
        "Each customer's expected value over the horizon of the scoring run, with an 80 % interval.",
    )
    res = latest_results(repo, "clv_scores", run_id)
    if res is None:
        sec.missing = not_run_message("clv_scores")
        return sec
    sec.run = run_label(res.run)
    s = res.rows
    clv = s["clv"].astype(float)
    sec.facts += [
        ("customers scored", fmt_int(len(s))),
        ("total CLV", fmt_money(clv.sum())),
        ("median CLV", fmt_money(clv.median())),
        (
            "top 10 % share of CLV",
            fmt_pct(clv.nlargest(max(1, len(s) // 10)).sum() / clv.sum() if clv.sum() else np.nan),
        ),
    ]
    if "probability_alive" in s:
        sec.facts.append(("mean P(alive)", fmt_pct(s["probability_alive"].mean())))
    cap = float(clv.quantile(0.99)) if len(clv) else 0.0
    shown = clv[clv <= cap]
    counts, edges = np.histogram(shown, bins=40) if len(shown) else (np.array([]), np.array([0.0, 1.0]))
    sec.charts.append(
        ChartView(
            "chart-clv-histogram",
            charts.histogram_bars(
                edges.tolist(),
                counts.tolist(),
                title="Distribution of customer lifetime value",
                x_title="CLV (data currency)",
            ),
            f"{fmt_int((clv > cap).sum())} customers above the 99th percentile ({fmt_money(cap)}) are not drawn.",
        )
    )
    if "probability_alive" in s:
        pts, sampled = _sample(s[["customer_id", "probability_alive", "clv"]])
        positive = bool((pts["clv"] > 0).all())
        sec.charts.append(
            ChartView(
                "chart-clv-alive",
                charts.scatter(
                    pts["probability_alive"].astype(float),
                    pts["clv"].astype(float),
                    text=pts["customer_id"].astype(str).tolist(),
                    title="CLV against probability of being alive",
                    x_title="P(alive)",
                    y_title="CLV (data currency, log scale)" if positive else "CLV (data currency)",
                    log_y=positive,
                    probability_x=True,
                ),
                f"A random sample of {fmt_int(len(pts))} of {fmt_int(len(s))} customers." if sampled else "",
            )
        )
    top = s.sort_values("clv", ascending=False).head(TOP_CUSTOMERS)
    cols = [("customer_id", "customer", str, False)]
    cols += [
        (c, label, f, True)
        for c, label, f in (
            ("clv", "CLV", fmt_money),
            ("clv_lo_80", "80 % low", fmt_money),
            ("clv_hi_80", "80 % high", fmt_money),
            ("probability_alive", "P(alive)", fmt_pct),
            ("expected_purchases", "expected purchases", fmt_num),
            ("expected_spend", "expected spend per purchase", fmt_money),
        )
        if c in top
    ]
    sec.tables.append(
        TableView(
            [c[1] for c in cols],
            [[f(getattr(r, c)) for c, _, f, _ in cols] for r in top.itertuples()],
            [c[3] for c in cols],
            f"The {len(top)} customers with the highest CLV.",
            links=[f"customers/{quote(str(r.customer_id), safe='')}" for r in top.itertuples()],
        )
    )
    return sec


def matrices_section(repo: Repository, run_id: str | None = None) -> Section:
    sec = Section(
        "matrices",
        "Frequency / recency matrices",
        "What the purchase model expects of a customer with a given history, at the longest observation time: "
        "purchases in the next period, and the probability that the customer is still active.",
    )
    params = latest_results(repo, "clv_parameters", run_id)
    if params is None:
        sec.missing = not_run_message("clv_parameters")
        return sec
    sec.run = run_label(params.run)
    model = load_model(repo, "purchase", params.run_id)
    summary = dataset(repo, "btyd_summary", ["frequency", "recency", "T"])
    if model is None or summary is None or summary.empty:
        sec.missing = "not run yet: run `patron summary` and `patron clv fit`"
        return sec
    _, _, unit_name = _unit(repo)
    T = float(summary["T"].max())
    top = float(summary["frequency"].quantile(0.99))
    max_f = int(max(1, min(np.ceil(top), MATRIX_CELLS - 1)))
    try:
        expected = clv_eval.frequency_recency_matrix(model, T=T, max_frequency=max_f, n_recency=MATRIX_CELLS)
        alive = clv_eval.probability_alive_matrix(model, T=T, max_frequency=max_f, n_recency=MATRIX_CELLS)
    except CHECK_ERRORS as exc:
        sec.notes.append(f"matrices not drawn: {exc}")
        return sec
    for key, matrix, title, label in (
        ("expected", expected, "Expected purchases in the next period", "Expected purchases"),
        ("alive", alive, "Probability the customer is alive", "P(alive)"),
    ):
        matrix = matrix.rename(columns=lambda r: round(float(r), 1))
        fig = clv_plots.matrix_figure(matrix, title=f"{title} (T = {T:.1f} {unit_name})", value_label=label)
        fig.update_xaxes(title_text=f"recency: age at the last purchase ({unit_name})")
        fig.update_yaxes(title_text="frequency: repeat purchases")
        sec.charts.append(ChartView(f"chart-matrix-{key}", _styled(fig)))
    return sec


def segments_section(repo: Repository, run_id: str | None = None) -> Section:
    sec = Section(
        "segments", "Segments", "Who the segments are, how big, and how customers move between them."
    )
    res = latest_results(repo, "segment_profiles", run_id)
    if res is None:
        sec.missing = not_run_message("segment_profiles")
        return sec
    sec.run = run_label(res.run)
    prof = res.rows.sort_values("size", ascending=False)
    names = segment_names(prof)
    sec.tables.append(
        TableView(
            ["segment", "name", "customers", "share", "description"],
            [
                [str(r.segment), str(r.name), fmt_int(r.size), fmt_pct(r.share), str(r.description)]
                for r in prof.itertuples()
            ],
            [False, False, True, True, False],
            links=[f"segments/model/{quote(str(r.segment), safe='')}" for r in prof.itertuples()],
        )
    )
    sec.charts.append(
        ChartView(
            "chart-segment-sizes",
            charts.bar(
                [names[str(s)] for s in prof["segment"]],
                prof["size"].tolist(),
                title="Customers per segment",
                x_title="customers",
                y_title="segment",
                horizontal=True,
            ),
        )
    )
    trans = latest_results(repo, "segment_transitions", res.run_id)
    if trans is not None and len(trans.rows):
        chart = transition_chart(trans.rows, names)
        sec.charts.append(chart)
    return sec


def segment_names(profiles: pd.DataFrame) -> dict[str, str]:
    """segment label -> "label: name" for axes and legends."""
    return {
        str(r.segment): (f"{r.segment}: {r.name}" if str(r.name) != str(r.segment) else str(r.segment))
        for r in profiles.itertuples()
    }


def transition_chart(transitions: pd.DataFrame, names: dict[str, str]) -> ChartView:
    """The latest period pair's transition matrix (customers from row segment to column segment)."""
    t = transitions
    last = t.sort_values(["to_period", "from_period"]).iloc[-1]
    pair = t[(t["from_period"] == last["from_period"]) & (t["to_period"] == last["to_period"])]
    matrix = pair.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum", fill_value=0
    )
    labels = sorted(set(matrix.index.astype(str)) | set(matrix.columns.astype(str)))
    matrix.index = matrix.index.astype(str)
    matrix.columns = matrix.columns.astype(str)
    matrix = matrix.reindex(index=labels, columns=labels, fill_value=0)
    fig = charts.heatmap(
        matrix.to_numpy().tolist(),
        [names.get(c, c) for c in labels],
        [names.get(c, c) for c in labels],
        title=f"Segment transitions, {last['from_period']} → {last['to_period']}",
        x_title=f"segment in {last['to_period']}",
        y_title=f"segment in {last['from_period']}",
        colorbar_title="customers",
        text_format=".0f",
    )
    return ChartView(
        "chart-segment-transitions",
        fig,
        "Each cell counts customers who moved from the row's segment to the column's.",
    )


def churn_section(repo: Repository, run_id: str | None = None) -> Section:
    sec = Section(
        "churn",
        "Churn model",
        "How trustworthy the churn probabilities are (reliability) and how well they rank customers (lift).",
    )
    metrics = latest_results(repo, "churn_metrics", run_id)
    if metrics is None:
        sec.missing = not_run_message("churn_metrics")
        return sec
    sec.run = run_label(metrics.run)
    wide = metrics.rows.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
    sec.tables.append(
        TableView(
            ["model", *[humanise(c) for c in wide.columns]],
            [
                [str(m), *[fmt_num(v) for v in row]]
                for m, row in zip(wide.index, wide.to_numpy(), strict=True)
            ],
            [False, *[True] * len(wide.columns)],
            "Metrics on the held-out customers.",
        )
    )
    rel = latest_results(repo, "churn_reliability", metrics.run_id)
    if rel is not None and len(rel.rows):
        sec.charts.append(reliability_chart(rel.rows))
    lift = latest_results(repo, "churn_lift", metrics.run_id)
    if lift is not None and len(lift.rows):
        sec.charts.append(lift_chart(lift.rows))
    survival = latest_results(repo, "churn_survival", metrics.run_id)
    if survival is not None and len(survival.rows):
        sec.charts.append(survival_chart(survival.rows))
    return sec


def survival_chart(rows: pd.DataFrame) -> ChartView:
    """Kaplan-Meier curves (one per segment) as steps over days since the first purchase."""
    fig = go.Figure()
    for segment, g in rows.sort_values("time").groupby("segment", sort=True):
        fig.add_trace(
            go.Scatter(
                x=g["time"].tolist(),
                y=g["survival"].tolist(),
                name=str(segment),
                mode="lines",
                line_shape="hv",
            )
        )
    fig = charts.style(
        fig, "Customer survival (Kaplan-Meier)", "days since the first purchase", "share still active"
    )
    fig.update_yaxes(range=[0, 1.02])
    return ChartView(
        "chart-survival", fig, "A customer's lifetime ends at the last purchase before a horizon with none."
    )


def reliability_chart(rows: pd.DataFrame) -> ChartView:
    curves = {
        str(model): (
            g.sort_values("bin")["mean_predicted"].tolist(),
            g.sort_values("bin")["fraction_positive"].tolist(),
        )
        for model, g in rows.groupby("model", sort=True)
    }
    return ChartView(
        "chart-reliability",
        charts.reliability(curves, title="Reliability diagram: predicted vs observed churn"),
        "Points on the dotted diagonal mean that a predicted 30 % churns 30 % of the time.",
    )


def lift_chart(rows: pd.DataFrame) -> ChartView:
    rows = rows.sort_values("decile")
    value = (
        "lift" if "lift" in rows else next(c for c in rows.columns if c not in ("run_id", "decile", "model"))
    )
    series = (
        {str(m): g.sort_values("decile")[value].tolist() for m, g in rows.groupby("model", sort=True)}
        if "model" in rows
        else {humanise(value): rows[value].tolist()}
    )
    deciles = sorted(rows["decile"].unique().tolist())
    return ChartView(
        "chart-lift",
        charts.grouped_bars(
            deciles,
            series,
            title="Lift by risk decile",
            x_title="decile of predicted churn risk (1 = riskiest)",
            y_title=humanise(value) + (" (× base rate)" if value == "lift" else ""),
            reference=1.0 if value == "lift" else None,
        ),
        "Above the dotted line a decile churns more often than customers on average."
        if value == "lift"
        else "",
    )


def reasons_section(repo: Repository, run_id: str | None = None) -> Section:
    sec = Section(
        "reasons",
        "Top reasons across customers",
        "Why the churn model scores customers as it does: the features most often named as a customer's first reason.",
    )
    res = latest_results(repo, "churn_reasons", run_id)
    if res is None:
        sec.missing = not_run_message("churn_reasons")
        return sec
    sec.run = run_label(res.run)
    top = top_reasons(res.rows)
    sec.tables.append(
        TableView(
            ["feature", "first reason for", "among top 3 for", "mean contribution", "example"],
            [
                [
                    str(r.feature),
                    fmt_int(r.first),
                    fmt_int(r.top3),
                    fmt_num(r.mean_contribution),
                    str(r.example),
                ]
                for r in top.itertuples()
            ],
            [False, True, True, True, False],
            f"Across {fmt_int(res.rows['customer_id'].nunique())} scored customers (counts are customers).",
        )
    )
    shown = top.head(15)
    sec.charts.append(
        ChartView(
            "chart-reasons",
            charts.bar(
                shown["feature"].tolist(),
                shown["first"].tolist(),
                title="Most common first reason for churn risk",
                x_title="customers for whom it is the first reason",
                y_title="feature",
                horizontal=True,
            ),
        )
    )
    return sec


def top_reasons(reasons: pd.DataFrame) -> pd.DataFrame:
    """Per feature: customers for whom it is reason 1, customers with it in their top 3, mean contribution and an
    example sentence; most frequent first reason first."""
    grouped = reasons.groupby("feature")
    out = pd.DataFrame(
        {
            "first": reasons[reasons["rank"] == 1].groupby("feature").size(),
            "top3": reasons[reasons["rank"] <= 3].groupby("feature")["customer_id"].nunique(),
            "mean_contribution": grouped["contribution"].mean(),
            "example": grouped["reason"].first(),
        }
    ).fillna({"first": 0, "top3": 0})
    out = out.reset_index().rename(columns={"index": "feature"})
    return out.sort_values(["first", "top3"], ascending=False).reset_index(drop=True)


SECTIONS: tuple[Callable[[Repository, str | None], Section], ...] = (
    data_section,
    clv_fit_section,
    clv_distribution_section,
    matrices_section,
    segments_section,
    churn_section,
    reasons_section,
)


def all_sections(repo: Repository, run_id: str | None = None) -> list[Section]:
    """Every report section, in reading order."""
    return [build(repo, run_id) for build in SECTIONS]


__all__ = ["ChartView", "Results", "Section", "TableView", "all_sections"]

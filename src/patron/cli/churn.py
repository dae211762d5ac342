"""``patron churn fit|score``: calibrated churn model from the store's transactions, scores with reasons, plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from patron.cli.common import StoreOption, console, progress, store, user_errors
from patron.config import get_settings

churn_app = typer.Typer(
    name="churn",
    help="Churn: fit a calibrated model at a cutoff (metrics, reliability, lift, survival) and score customers.",
    no_args_is_help=True,
)

METRIC_COLUMNS = (
    "ece",
    "ece_floor",
    "brier",
    "log_loss",
    "auc",
    "lift_top_decile",
    "gain_top_3_deciles",
    "n",
)


def metrics_table(metrics: pd.DataFrame, title: str) -> Table:
    """One row per model, the headline metrics as columns (what the fit commands print)."""
    wide = metrics.pivot_table(index="model", columns="metric", values="value", sort=False)
    wide = wide[wide["ece"].notna()] if "ece" in wide.columns else wide  # the classifiers and baselines
    table = Table(title=title)
    table.add_column("model")
    cols = [c for c in METRIC_COLUMNS if c in wide.columns]
    for col in cols:
        table.add_column(col.replace("_", " "), justify="right")
    for model, row in wide.iterrows():
        cells = ["" if pd.isna(row[c]) else (f"{row[c]:,.0f}" if c == "n" else f"{row[c]:.4f}") for c in cols]
        table.add_row(str(model), *cells)
    return table


def write_plots(repo: Any, run_id: str, prefix: str, *, survival: bool) -> list[Path]:
    """Reliability diagram, lift chart (and KM curves) of a fit run, as offline HTML files in the output dir."""
    from patron.plots.churn import km_figure, lift_figure, reliability_figure, write_html

    out = get_settings().output_dir
    paths = [
        write_html(
            reliability_figure(
                repo.read_results(f"{prefix}_reliability", run_id=run_id), f"Reliability ({run_id})"
            ),
            out / f"{prefix}_reliability.html",
        ),
        write_html(
            lift_figure(repo.read_results(f"{prefix}_lift", run_id=run_id), f"Lift by decile ({run_id})"),
            out / f"{prefix}_lift.html",
        ),
    ]
    if survival:
        paths.append(
            write_html(
                km_figure(
                    repo.read_results(f"{prefix}_survival", run_id=run_id), f"Time to churn ({run_id})"
                ),
                out / f"{prefix}_km.html",
            )
        )
    return paths


def print_top(scores: pd.DataFrame, reasons: pd.DataFrame, n: int, what: str) -> None:
    top = scores.sort_values("probability", ascending=False).head(n)
    first = reasons[reasons["rank"] == 1].set_index("customer_id")["reason"]
    table = Table(title=f"Top {len(top)} customers by {what}")
    table.add_column("customer")
    table.add_column("probability", justify="right")
    table.add_column("main reason")
    for _, row in top.iterrows():
        table.add_row(
            str(row["customer_id"]),
            f"{row['probability']:.3f}",
            escape(str(first.get(row["customer_id"], ""))),
        )
    console.print(table)


def _bar(steps: tuple[str, ...]):  # type: ignore[no-untyped-def]
    bar = progress()
    task = bar.add_task("starting", total=len(steps))

    def advance(step: str) -> None:
        done = steps.index(step) if step in steps else 0
        bar.update(task, completed=done, description=step)

    return bar, task, advance


@churn_app.command("fit")
def fit(
    cutoff: str = typer.Option(
        None,
        "--cutoff",
        help="Features before this date, labels after it (YYYY-MM-DD); default: the latest "
        "date whose whole horizon is in the data.",
    ),
    horizon: int = typer.Option(90, "--horizon", min=1, help="Churn = no purchase in this many days."),
    calibration: str = typer.Option("isotonic", "--calibration", help="isotonic or platt (sigmoid)."),
    evaluation: str = typer.Option(
        "crossfit",
        "--evaluation",
        help="crossfit (every customer held out once) or holdout (one 25 % split).",
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write reliability, lift and KM plots."),
    store_url: str = StoreOption,
) -> None:
    """Fit the calibrated churn model; print held-out metrics next to the baselines; write the plots."""
    from patron.services.churn import FIT_STEPS, fit_churn

    with user_errors(), store(store_url) as repo:
        bar, task, advance = _bar(FIT_STEPS)
        with bar:
            run_id = fit_churn(
                repo,
                cutoff=cutoff,
                horizon_days=horizon,
                calibration=calibration,
                evaluation=evaluation,
                progress=advance,
            )
            bar.update(task, completed=len(FIT_STEPS), description="done")
        record = repo.get_run(run_id)
        report, params = record["report"], record["params"]
        console.print(
            f"{report['customers']:,} customers at cutoff {params['cutoff'][:10]}, "
            f"{report['churn_rate']:.1%} churned in the next {params['horizon_days']} days"
        )
        console.print(metrics_table(repo.read_results("churn_metrics", run_id=run_id), "Held-out metrics"))
        console.print(f"time to churn: Weibull concordance index {report['weibull_c_index']:.3f} (held out)")
        if plots:
            for path in write_plots(repo, run_id, "churn", survival=True):
                console.print(f"wrote {path}")
        console.print(
            f"run {run_id}: model 'churn', tables churn_metrics, churn_reliability, churn_lift, churn_survival"
        )


@churn_app.command("score")
def score(
    as_of: str = typer.Option(None, "--as-of", help="Score as of this date (YYYY-MM-DD); default: all data."),
    top: int = typer.Option(10, "--top", min=0, help="Print this many highest-risk customers."),
    store_url: str = StoreOption,
) -> None:
    """Score every customer with the latest churn model; store scores and reasons."""
    from patron.services.churn import SCORE_STEPS, score_churn

    with user_errors(), store(store_url) as repo:
        bar, task, advance = _bar(SCORE_STEPS)
        with bar:
            run_id = score_churn(repo, as_of=as_of, progress=advance)
            bar.update(task, completed=len(SCORE_STEPS), description="done")
        report = repo.get_run(run_id)["report"]
        if top:
            print_top(
                repo.read_results("churn_scores", run_id=run_id),
                repo.read_results("churn_reasons", run_id=run_id),
                top,
                "churn risk",
            )
        console.print(
            f"scored {report['customers']:,} customers (mean churn probability {report['mean_probability']:.3f}) "
            f"with model {report['model_version']}; run {run_id}: tables churn_scores, churn_reasons"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(churn_app, name="churn")

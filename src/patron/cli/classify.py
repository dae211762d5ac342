"""``patron classify fit|score``: a calibrated classifier for a labelled customer table or a high-value label."""

from __future__ import annotations

from pathlib import Path

import typer

from patron.cli.churn import _bar, metrics_table, print_top, write_plots
from patron.cli.common import StoreOption, console, store, user_errors

classify_app = typer.Typer(
    name="classify",
    help="Calibrated classifier for any customer label (a labelled table, or high_value / churn from transactions).",
    no_args_is_help=True,
)


@classify_app.command("fit")
def fit(
    data: Path = typer.Argument(
        None,
        help="Labelled customer table (CSV[.gz] or Parquet), one row per customer; omit for a label "
        "from the store's transactions.",
    ),
    target: str = typer.Option(
        ..., "--target", "-t", help="Label column, or high_value / churn without DATA."
    ),
    id_column: str = typer.Option(None, "--id", help="Customer id column of DATA."),
    positive: str = typer.Option(
        None, "--positive", help="The positive label value (default: Yes/True/1...)."
    ),
    table: str = typer.Option(
        None, "--table", help="Read the labelled table from the store instead of DATA."
    ),
    cutoff: str = typer.Option(None, "--cutoff", help="Transactions label: the cutoff date (YYYY-MM-DD)."),
    horizon: int = typer.Option(90, "--horizon", min=1, help="Transactions label: days after the cutoff."),
    share: float = typer.Option(0.2, "--share", help="high_value: the top share of future spend."),
    calibration: str = typer.Option("isotonic", "--calibration", help="isotonic or platt (sigmoid)."),
    evaluation: str = typer.Option("crossfit", "--evaluation", help="crossfit or holdout."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write reliability and lift plots."),
    store_url: str = StoreOption,
) -> None:
    """Fit a calibrated classifier; print held-out metrics next to the logistic baseline; write the plots."""
    from patron.services.classify import FIT_STEPS, fit_classifier

    with user_errors(), store(store_url) as repo:
        bar, task, advance = _bar(FIT_STEPS)
        with bar:
            run_id = fit_classifier(
                repo,
                target=target,
                data=data,
                table=table,
                id_column=id_column,
                positive=positive,
                cutoff=cutoff,
                horizon_days=horizon,
                high_value_share=share,
                calibration=calibration,
                evaluation=evaluation,
                progress=advance,
            )
            bar.update(task, completed=len(FIT_STEPS), description="done")
        report = repo.get_run(run_id)["report"]
        console.print(f"{report['rows']:,} customers, {report['positive_rate']:.1%} positive ({target})")
        console.print(metrics_table(repo.read_results("classify_metrics", run_id=run_id), "Held-out metrics"))
        if plots:
            for path in write_plots(repo, run_id, "classify", survival=False):
                console.print(f"wrote {path}")
        console.print(
            f"run {run_id}: model 'classifier', tables classify_metrics, classify_reliability, classify_lift"
        )


@classify_app.command("score")
def score(
    data: Path = typer.Argument(
        None, help="Customer table to score (the columns of the fit); omit for a transactions model."
    ),
    table: str = typer.Option(None, "--table", help="Score a table of the store instead of DATA."),
    as_of: str = typer.Option(None, "--as-of", help="Transactions model: score as of this date."),
    top: int = typer.Option(10, "--top", min=0, help="Print this many highest-scored customers."),
    store_url: str = StoreOption,
) -> None:
    """Score customers with the latest classifier; store scores and reasons."""
    from patron.services.classify import SCORE_STEPS, score_classifier

    with user_errors(), store(store_url) as repo:
        bar, task, advance = _bar(SCORE_STEPS)
        with bar:
            run_id = score_classifier(repo, data=data, table=table, as_of=as_of, progress=advance)
            bar.update(task, completed=len(SCORE_STEPS), description="done")
        report = repo.get_run(run_id)["report"]
        if top:
            print_top(
                repo.read_results("classify_scores", run_id=run_id),
                repo.read_results("classify_reasons", run_id=run_id),
                top,
                f"P({report['target']})",
            )
        console.print(
            f"scored {report['customers']:,} customers (mean probability {report['mean_probability']:.3f}) with "
            f"model {report['model_version']}; run {run_id}: tables classify_scores, classify_reasons"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(classify_app, name="classify")

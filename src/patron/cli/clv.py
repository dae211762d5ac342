"""``patron fit`` and ``patron score``: CLV models on the stored summary (thin: the work is in services.clv)."""

from __future__ import annotations

import math

import typer
from rich.table import Table

from patron.cli.common import StoreOption, console, progress, store, user_errors


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


def register(app: typer.Typer) -> None:
    @app.command("fit")
    def fit(
        model: str = typer.Option(
            "auto", "--model", "-m", help="Purchase model: auto, bgnbd, mbgnbd or pareto_nbd."
        ),
        covariate: list[str] = typer.Option(
            None,
            "--covariate",
            "-c",
            help="Time-invariant covariate (a column of btyd_summary, customers, or transactions such as region); "
            "repeat the option for several.",
        ),
        store_url: str = StoreOption,
    ) -> None:
        """Fit the CLV models on the stored summary: a purchase model and Gamma-Gamma for spend.

        With --model auto the purchase model is chosen on holdout error; prints the parameters and the run id.
        """
        # imported here, not at module level: scipy and scikit-learn would slow every `patron` command's start
        from patron.services.clv import FIT_STEPS, PURCHASE_MODELS, fit_clv

        if model != "auto" and model not in PURCHASE_MODELS:
            console.print(
                f"[bold red]error:[/] --model must be auto, {', '.join(PURCHASE_MODELS)}; not {model!r}"
            )
            raise typer.Exit(2)
        with user_errors(), store(store_url) as repo:
            with progress() as bar:
                task = bar.add_task("fit", total=len(FIT_STEPS))

                def advance(step: str) -> None:
                    bar.update(task, completed=FIT_STEPS.index(step), description=step)

                run_id = fit_clv(repo, model=model, covariates=covariate or None, progress=advance)
                bar.update(task, completed=len(FIT_STEPS), description="done")
            record = repo.get_run(run_id)
            params = repo.read_results("clv_parameters", run_id=run_id)
            comparison = (
                repo.read_results("clv_model_comparison", run_id=run_id)
                if model == "auto" and repo.has_table("clv_model_comparison")
                else None
            )
        if comparison is not None:
            table = Table(title="Purchase models (holdout = calibration/holdout split)")
            for col in ("model", "LL", "AIC", "BIC", "holdout MAE", "chosen"):
                table.add_column(col, justify="left" if col == "model" else "right")
            for row in comparison.itertuples():
                table.add_row(
                    row.model,
                    f"{row.log_likelihood:,.2f}",
                    f"{row.aic:,.2f}",
                    f"{row.bic:,.2f}",
                    f"{row.holdout_mae:.4f}",
                    "*" if row.chosen else "",
                )
            console.print(table)
        table = Table(title="Parameters (95% interval from the observed information)")
        for col in ("model", "parameter", "estimate", "se", "lower 95", "upper 95"):
            table.add_column(col, justify="left" if col in ("model", "parameter") else "right")
        for row in params.itertuples():
            table.add_row(
                row.model,
                row.parameter,
                _fmt(row.estimate),
                _fmt(row.se),
                _fmt(row.lower_95),
                _fmt(row.upper_95),
            )
        console.print(table)
        report = record["report"]
        note = (
            "" if report.get("converged") else " [yellow](a fit ended at the edge of the parameter space)[/]"
        )
        console.print(
            f"run {run_id}: {report['model']} on {report['customers']:,} customers, Gamma-Gamma on "
            f"{report['repeat_customers_for_spend']:,} repeat customers{note}"
        )

    @app.command("score")
    def score(
        horizon: int = typer.Option(52, "--horizon", help="Periods ahead, in the summary's time unit."),
        discount_rate: float = typer.Option(0.0, "--discount-rate", help="Discount rate per period."),
        margin: float = typer.Option(1.0, "--margin", help="Profit margin applied to spend (1 = revenue)."),
        level: list[float] = typer.Option(
            None, "--level", help="Interval level in percent (repeatable); default 80."
        ),
        top: int = typer.Option(10, "--top", help="How many top customers to print."),
        run_id: str = typer.Option(None, "--run", help="clv_fit run to use (default: the latest)."),
        store_url: str = StoreOption,
    ) -> None:
        """Score every customer with the latest CLV fit: P(alive), purchases, spend and CLV with intervals.

        Prints the top customers and the run id.
        """
        from patron.services.clv import SCORE_STEPS, score_clv

        levels = tuple(level) if level else (80.0,)
        with user_errors(), store(store_url) as repo:
            with progress() as bar:
                task = bar.add_task("score", total=len(SCORE_STEPS))

                def advance(step: str) -> None:
                    bar.update(task, completed=SCORE_STEPS.index(step), description=step)

                sid = score_clv(
                    repo,
                    horizon=horizon,
                    discount_rate=discount_rate,
                    margin=margin,
                    level=levels,
                    run_id=run_id,
                    progress=advance,
                )
                bar.update(task, completed=len(SCORE_STEPS), description="done")
            scores = repo.read_results("clv_scores", run_id=sid)
            record = repo.get_run(sid)
        tag = f"{levels[0]:g}".replace(".", "_")
        best = scores.sort_values("clv", ascending=False).head(top)
        table = Table(title=f"Top {len(best)} customers by CLV over {horizon} periods")
        for col in ("customer", "P(alive)", "purchases", "spend", "CLV", f"CLV {levels[0]:g}% interval"):
            table.add_column(col, justify="left" if col == "customer" else "right")
        for row in best.itertuples():
            lo, hi = getattr(row, f"clv_lo_{tag}"), getattr(row, f"clv_hi_{tag}")
            table.add_row(
                str(row.customer_id),
                f"{row.probability_alive:.3f}",
                f"{row.expected_purchases:.2f}",
                f"{row.expected_spend:,.2f}",
                f"{row.clv:,.2f}",
                f"{lo:,.2f} - {hi:,.2f}",
            )
        console.print(table)
        report = record["report"]
        console.print(
            f"run {sid}: {report['customers']:,} customers scored, total CLV {report['total_clv']:,.2f} "
            f"(fit run {report['fit_run_id']}); table clv_scores"
        )

"""``patron summary``: build the per-customer summaries (BTYD, calibration/holdout, RFM, behaviour) in the store."""

from __future__ import annotations

import typer
from rich.table import Table

from patron.cli.common import StoreOption, console, progress, store, user_errors
from patron.services.summary import STEPS, build_summaries

UNITS = {"day": "D", "week": "W", "month": "M", "d": "D", "w": "W", "m": "M"}


def register(app: typer.Typer) -> None:
    @app.command("summary")
    def summary(
        unit: str = typer.Option(
            "week", "--unit", "-u", help="Time unit of the BTYD summary: day, week or month."
        ),
        end: str = typer.Option(
            None, "--end", help="Observation period end (YYYY-MM-DD); default: the latest transaction."
        ),
        calibration_end: str = typer.Option(
            None,
            "--calibration-end",
            help="End of the calibration period (YYYY-MM-DD); default: 3/4 of the way through the history.",
        ),
        store_url: str = StoreOption,
    ) -> None:
        """Summarise each customer from the stored transactions: BTYD summary, calibration/holdout, RFM, categories.

        Frequency, recency, T and mean spend at the chosen time unit, a calibration/holdout split, RFM values and a
        customer x category matrix, computed in SQL and stored as one run.
        """
        code = UNITS.get(unit.strip().lower())
        if code is None:
            console.print(f"[bold red]error:[/] --unit must be day, week or month, not {unit!r}")
            raise typer.Exit(2)
        with user_errors(), store(store_url) as repo:
            with progress() as bar:
                task = bar.add_task("summaries", total=len(STEPS))

                def advance(step: str) -> None:
                    done = STEPS.index(step)
                    bar.update(task, completed=done, description=step.replace("_", " "))

                run_id = build_summaries(
                    repo,
                    time_unit=code,
                    observation_period_end=end,
                    calibration_end=calibration_end,
                    progress=advance,
                )
                bar.update(task, completed=len(STEPS), description="done")
            record = repo.get_run(run_id)
        _print(record, unit.lower(), repo_url=str(store_url or repo.url))


def _print(record: dict, unit: str, *, repo_url: str) -> None:
    report, params = record["report"], record["params"]
    name = {"d": "days", "day": "days", "w": "weeks", "week": "weeks", "m": "months", "month": "months"}[unit]
    table = Table(title=f"Customer summary ({name})", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("customers", f"{report['customers']:,}")
    table.add_row("repeat customers", f"{report['repeaters']:,}")
    table.add_row("mean frequency (repeat periods)", f"{report['mean_frequency']:.3f}")
    table.add_row(f"mean recency ({name})", f"{report['mean_recency']:.3f}")
    table.add_row(f"mean T ({name})", f"{report['mean_T']:.3f}")
    table.add_row("mean repeat spend", f"{report['mean_monetary_value']:.2f}")
    table.add_row("observation end", params["observation_period_end"][:10])
    table.add_row("calibration end", params["calibration_end"][:10])
    console.print(table)
    console.print(
        f"run {record['run_id']}: tables btyd_summary, btyd_calibration, rfm, behaviour (by "
        f"{params['behaviour_by']}) written to {repo_url}"
    )

"""``patron report``: write the self-contained HTML report of the store's latest results."""

from __future__ import annotations

from pathlib import Path

import typer

from patron.cli.common import StoreOption, console, store, user_errors
from patron.config import get_settings


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        out: Path = typer.Option(
            None, "--out", "-o", help="HTML file to write [default: report.html in the output folder]."
        ),
        run_id: str = typer.Option(
            None, "--run", help="Show this run's results for the tables it wrote (default: the latest runs)."
        ),
        store_url: str = StoreOption,
    ) -> None:
        """Write one offline HTML report: cleaning, CLV fit and scores, segments, churn and the top reasons.

        Sections whose results are not in the store yet say which command makes them.
        """
        from patron.report import build_report

        path = out or get_settings().output_dir / "report.html"
        with user_errors(), store(store_url) as repo:
            if run_id is not None:
                repo.get_run(run_id)  # a NotFoundError names the unknown run
            written = build_report(repo, path, run_id=run_id)
        size = written.stat().st_size / 2**20
        console.print(f"report written to [bold]{written}[/] ({size:.1f} MB); open it in any browser")

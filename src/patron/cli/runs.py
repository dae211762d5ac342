"""``patron runs``: list the runs in the store."""

from __future__ import annotations

import typer
from rich.table import Table

from patron.cli.common import StoreOption, console, store, user_errors


def register(app: typer.Typer) -> None:
    @app.command("runs")
    def runs(
        kind: str = typer.Option(
            None, "--kind", "-k", help="Only runs of this kind (ingest, clv, segment, churn ...)."
        ),
        limit: int = typer.Option(20, help="How many runs to show, newest first."),
        store_url: str = StoreOption,
    ) -> None:
        """List runs (id, kind, status, when, how long) newest first."""
        with user_errors(), store(store_url) as repo:
            frame = repo.list_runs(kind).head(limit)
        table = Table("run id", "kind", "status", "started (UTC)", "seconds", "error")
        for row in frame.itertuples():
            total = ""
            if isinstance(row.timings, str):
                import json

                total = str(json.loads(row.timings).get("total", ""))
            table.add_row(
                row.run_id, row.kind, row.status, str(row.started_at)[:19], total, (row.error or "")[:60]
            )
        console.print(table)

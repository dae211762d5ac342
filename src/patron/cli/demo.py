"""``patron demo``: the whole pipeline on the sample shipped inside the package."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.panel import Panel

from patron.cli.common import StoreOption, console, progress, store, user_errors
from patron.config import get_settings


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        store_url: str = StoreOption,
        out: Path = typer.Option(
            None, "--out", help="Folder for the report and plots [default: patron-out]."
        ),
    ) -> None:
        """Run the whole pipeline on the bundled Online Retail sample and print where the results are."""
        from patron.services.demo import DemoResult, demo_steps

        out_dir = out or get_settings().output_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        with user_errors(), store(store_url) as repo:
            result = DemoResult(store=repo.url, out_dir=out_dir)
            steps = demo_steps(repo, out_dir, result)
            with progress() as bar:
                task = bar.add_task("demo", total=len(steps))
                for name, step in steps:
                    bar.update(task, description=name)
                    step()
                    bar.advance(task)
                bar.update(task, description="done")
        lines = [
            f"Store:  [bold]{Path(result.store).resolve()}[/]",
            f"Rows read {result.facts.get('rows_read', 0):,}, kept {result.facts.get('rows_kept', 0):,}; "
            f"{result.facts.get('customers', 0):,} customers",
            *(f"{name}: [bold]{where}[/]" for name, where in result.outputs.items()),
            "Next: [cyan]patron runs[/] lists every stored run.",
        ]
        console.print(Panel.fit("\n".join(lines), title="Patron demo finished"))

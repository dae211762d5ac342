"""``patron relate QUERY.json``: run a lift scan from a JSON query and print the top patterns in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from patron.cli.common import StoreOption, console, store, user_errors
from patron.errors import InputError


def read_json_file(path: Path, what: str) -> Any:
    """Parse a JSON file, naming the file and the line of a syntax error."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror}", file=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the {what} is not valid JSON: {exc.msg}", file=str(path), row=exc.lineno) from None


def register(app: typer.Typer) -> None:
    @app.command("relate")
    def relate(
        query_file: Annotated[Path, typer.Argument(help="JSON relate query (grammar: docs/relate.md).")],
        save_as: str = typer.Option(
            None, "--save-as", help="Store the pattern at --rank as a relate segment with this name."
        ),
        rank: int = typer.Option(1, "--rank", min=1, help="Which listed pattern --save-as saves (1 = top)."),
        store_url: str = StoreOption,
    ) -> None:
        """Find the behaviours and attributes that make the target likelier (lift, CI, exact test, FDR q)."""
        from patron.services.relate import RESULTS_TABLE, describe_pattern, run_relate
        from patron.services.segments import define_segment

        with user_errors(), store(store_url) as repo:
            query = read_json_file(query_file, "relate query")
            selected = run_relate(repo, query)
            full = repo.read_results(RESULTS_TABLE, run_id=selected.attrs["run_id"]).set_index("pattern")
            rows = full.loc[selected["pattern"]].reset_index()
            attrs = selected.attrs
            table = Table(
                "#",
                "pattern (plain words)",
                "support",
                "P(target | pattern)",
                "lift [95% CI]",
                "q",
                title=(
                    f"{attrs['n_tested']:,} patterns tested over {attrs['n_customers']:,} customers; "
                    f"base rate {attrs['base_rate']:.1%} {attrs['target']}"
                ),
            )
            for i, row in rows.iterrows():
                table.add_row(
                    str(i + 1),
                    describe_pattern(row, attrs["target"], attrs["row_fields"]),
                    f"{int(row['support']):,}",
                    f"{row['p']:.1%}",
                    f"{row['lift']:.2f} [{row['lift_lower']:.2f}, {row['lift_upper']:.2f}]",
                    f"{row['q_value']:.2g}",
                )
            console.print(table)
            if len(rows):  # the headline finding as one unwrapped sentence, for logs and narrow terminals
                top = describe_pattern(rows.iloc[0], attrs["target"], attrs["row_fields"])
                console.print(f"strongest pattern: {top}", soft_wrap=True)
            console.print(f"run {attrs['run_id']} stored (relate_results)")
            if save_as:
                if rank > len(rows):
                    raise InputError(f"--rank {rank} but the query lists only {len(rows)} pattern(s)")
                pattern = rows["pattern"].iloc[rank - 1]
                define_segment(repo, save_as, {"relate": query, "pattern": pattern})
                console.print(f"segment {save_as!r} saved: {pattern}")

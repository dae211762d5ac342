"""``patron ingest``: read, validate, clean and store transaction files, then print the cleaning report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from patron.cli.common import StoreOption, console, progress, store
from patron.data import sample_path
from patron.errors import ConfigError, PatronError
from patron.io.cleaning import KEPT, CleaningRules
from patron.io.mapping import ColumnMapping


class Preset(StrEnum):
    default = "default"
    classic = "classic"


class Keep(StrEnum):
    drop = "drop"
    keep = "keep"


class Returns(StrEnum):
    net = "net"
    drop = "drop"
    keep = "keep"


RULE_HELP = {
    "unparseable_timestamp": "timestamp missing or unreadable",
    "future_timestamp": "timestamp after now",
    "missing_customer_id": "no customer id",
    "missing_amount": "no line value",
    "exact_duplicate": "repeats an earlier row",
    "non_product": "postage, fees, adjustments",
    "returns_netted": "matched to their purchases",
    "returns_unmatched": "no earlier purchase to match",
    "returns_dropped": "cancellations, returns",
    "returns": "cancellations, returns",
    "zero_quantity": "quantity 0",
    "nonpositive_price": "price zero or negative",
    "zero_amount": "no unit price, value 0",
    "purchases_fully_returned": "returned in full",
    KEPT: "stored in transactions",
}


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A PatronError as one red line (never wrapped, markup in file names escaped) and exit code 2.

    Like ``patron.cli.common.user_errors``, but an error naming a long path stays on one line at any width.
    """
    try:
        yield
    except PatronError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        files: Annotated[
            list[str] | None,
            typer.Argument(
                help="Transaction files (CSV/TSV/whitespace text, .gz, Parquet, Excel), duckdb:PATH::TABLE, or "
                "postgresql://...::TABLE. Several sources are merged with identity resolution.",
                show_default=False,
            ),
        ] = None,
        sample: Annotated[
            bool,
            typer.Option(
                "--sample", help="Ingest the Online Retail sample shipped with Patron (UCI, CC BY 4.0)."
            ),
        ] = False,
        map_: Annotated[
            list[str] | None,
            typer.Option(
                "--map",
                "-m",
                help="Name a column: canonical=source, e.g. --map customer_id=Cust --map timestamp=When. "
                "Columns not named are recognised from the header.",
            ),
        ] = None,
        preset: Annotated[
            Preset,
            typer.Option(
                "--preset",
                "-p",
                help="default: net returns, drop non-product lines; classic: the usual clean subset "
                "(customer id present, not cancelled, quantity > 0, price > 0).",
            ),
        ] = Preset.default,
        duplicates: Annotated[
            Keep | None, typer.Option("--duplicates", help="Exact duplicate rows: drop or keep.")
        ] = None,
        non_product: Annotated[
            Keep | None,
            typer.Option("--non-product", help="Postage, fees and adjustment lines: drop or keep."),
        ] = None,
        returns: Annotated[
            Returns | None,
            typer.Option(
                "--returns", help="Cancellations and returns: net against their orders, drop, or keep."
            ),
        ] = None,
        encoding: Annotated[
            str, typer.Option("--encoding", help="Text encoding of CSV files (e.g. latin-1).")
        ] = "utf-8",
        link_ids: Annotated[
            bool,
            typer.Option(
                "--link-ids/--no-link-ids",
                help="Treat the same customer id in two sources as one customer (off: the sources number their "
                "customers independently; equal emails still link).",
            ),
        ] = True,
        store_url: str = StoreOption,
    ) -> None:
        """Read transaction files, clean them with an account of every row, and store them.

        Prints the cleaning report: rows and revenue per rule, and a check that they add up to what was read.
        """
        from patron.services.ingest import ingest

        with _one_line_errors():
            sources = [*([str(sample_path())] if sample else []), *(files or [])]
            if not sources:
                raise ConfigError("name at least one file to ingest (or --sample for the shipped sample)")
            mapping = ColumnMapping.from_pairs(map_) if map_ else None
            rules = CleaningRules.preset(preset.value).with_(
                duplicates=duplicates.value if duplicates else None,
                non_product=non_product.value if non_product else None,
                returns=returns.value if returns else None,
            )
            with store(store_url) as repo, progress() as bar:
                task = bar.add_task("ingest", total=1)

                def report_progress(text: str, done: int, total: int) -> None:
                    bar.update(task, description=text, completed=done, total=total)

                result = ingest(
                    repo,
                    sources,
                    mapping=mapping,
                    rules=rules,
                    progress=report_progress,
                    encoding=encoding,
                    match_source_ids=link_ids,
                )
                url = repo.url
        console.print(report_table(result.report, result.summary))
        console.print(
            f"[green]stored[/] {result.rows_kept:,} transactions of {result.customers:,} customers in {url} "
            f"(run {result.run_id})"
        )


def report_table(report, summary: dict, *, explain: bool | None = None) -> Table:
    """The cleaning report as a Rich table, with the totals checked.

    ``explain`` adds a column saying what each rule is (default: when the terminal is at least 110 wide).
    """
    explain = console.width >= 110 if explain is None else explain
    table = Table(title="Cleaning report", title_justify="left")
    # The numbers never shrink; the explanation column gives way on a narrow terminal.
    table.add_column("rule", no_wrap=True, min_width=24)
    table.add_column("action", no_wrap=True, min_width=11)
    table.add_column("rows", justify="right", no_wrap=True, min_width=9)
    table.add_column("revenue", justify="right", no_wrap=True, min_width=14)
    if explain:
        table.add_column("what", style="dim", no_wrap=True, overflow="ellipsis", max_width=32)
    for row in report.itertuples(index=False):
        if row.rows == 0 and row.rule != KEPT:
            continue
        style = "bold" if row.rule == KEPT else ("dim" if row.action == "flag" else None)
        action = {"flag": "flag (kept)", "keep": "keep", "net": "net"}.get(row.action, row.action)
        cells = [row.rule, action, f"{row.rows:,}", f"{row.revenue:,.2f}", RULE_HELP.get(row.rule, "")]
        table.add_row(*cells[: 5 if explain else 4], style=style)
    partition = report[report["action"] != "flag"]
    rows_sum, revenue_sum = int(partition["rows"].sum()), float(partition["revenue"].sum())
    ok = rows_sum == summary["rows_read"]
    table.add_section()
    cells = [
        "read",
        "[green]= sum ✓[/]" if ok else "[red]≠ sum ✗[/]",
        f"{summary['rows_read']:,}",
        f"{summary['revenue_read']:,.2f}",
        "" if ok else f"the rules account for {rows_sum:,} rows and {revenue_sum:,.2f}",
    ]
    table.add_row(*cells[: 5 if explain else 4])
    if summary.get("revenue_netted_from_kept"):
        cells = [
            "kept after netting",
            "",
            f"{summary['rows_kept']:,}",
            f"{summary['revenue_kept']:,.2f}",
            f"{summary['revenue_netted_from_kept']:,.2f} netted off kept lines",
        ]
        table.add_row(*cells[: 5 if explain else 4])
    return table

"""``patron segment``: segment the customers (HDBSCAN, K-Means or RFM), optionally per month or quarter."""

from __future__ import annotations

import math

import typer
from rich.table import Table

from patron.cli.common import StoreOption, console, progress, store, user_errors
from patron.config import get_settings


def register(app: typer.Typer) -> None:
    @app.command("segment")
    def segment(
        method: str = typer.Option(
            "hdbscan",
            "--method",
            "-m",
            help="hdbscan (default: no k, noise label), kmeans, rfm, or glrm (low-rank model + K-Means; --k, default 4).",
        ),
        period: str = typer.Option(
            None, "--period", "-p", help="Also segment per month or quarter and show the transition matrix."
        ),
        k: int = typer.Option(
            None, "--k", "-k", help="K-Means: number of segments (default: best silhouette)."
        ),
        min_cluster_size: int = typer.Option(
            None,
            "--min-cluster-size",
            help="HDBSCAN: smallest segment (default: 1% of customers, at least 15).",
        ),
        max_fit_samples: int = typer.Option(
            None,
            "--max-fit-samples",
            help="HDBSCAN: above this many customers (default 10,000) fit on a sample and assign the rest; "
            "0 fits every customer exactly.",
        ),
        out: str = typer.Option(
            None, "--out", help="Folder for the plots \\[default: PATRON_OUTPUT_DIR or patron-out]."
        ),
        store_url: str = StoreOption,
    ) -> None:
        """Segment the customers (RFM, K-Means, HDBSCAN or GLRM), with profiles and, by period, migration.

        Needs `patron summary` first. Profiles name each segment's defining behaviours by lift; every segmentation
        reports a stability score; with --period the migration between segments is stored too.
        """
        from patron.plots.segments import write_segment_plots
        from patron.services.segmentation import PROFILES, TRANSITIONS
        from patron.services.segmentation import segment as run_segment

        with user_errors(), store(store_url) as repo:
            with progress() as bar:
                task = bar.add_task("segment", total=None)

                def advance(step: str, done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total, description=step)

                run_id = run_segment(
                    repo,
                    method=method,
                    period=period.strip().lower() if period else None,
                    k=k,
                    min_cluster_size=min_cluster_size,
                    progress=advance,
                    # absent: the service's default; 0: None, every customer in the exact fit
                    **({} if max_fit_samples is None else {"max_fit_samples": max_fit_samples or None}),
                )
            record = repo.get_run(run_id)
            profiles = repo.read_results(PROFILES, run_id=run_id).sort_values("segment")
            transitions = repo.read_results(TRANSITIONS, run_id=run_id) if period else None
            _print_profiles(record, profiles)
            if transitions is not None:
                _print_transitions(transitions)
            paths = write_segment_plots(out or get_settings().output_dir, profiles, transitions)
        tables = "segment_assignments, segment_profiles" + (
            ", segment_periods, segment_transitions" if period else ""
        )
        console.print(f"run {run_id}: tables {tables} written to {store_url or repo.url}")
        console.print("plots: " + ", ".join(str(p) for p in paths))


def _print_profiles(record: dict, profiles) -> None:
    report = record["report"]
    stability = report.get("stability")
    title = f"{record['params']['method']} segments of {report['customers']:,} customers"
    if stability is not None:
        title += f"; stability (adjusted Rand across refits) {stability:.2f}"
    table = Table(title=title)
    for col in ("segment", "name", "customers", "share", "revenue", "recency (days)", "orders", "spend"):
        table.add_column(col, justify="left" if col == "name" else "right")
    has_clv = profiles["mean_clv"].notna().any()
    has_churn = profiles["churn_probability"].notna().any()
    if has_clv:
        table.add_column("CLV", justify="right")
    if has_churn:
        table.add_column("churn", justify="right")
    for r in profiles.itertuples():
        cells = [
            str(r.segment),
            str(r.name),
            f"{r.size:,}",
            f"{r.share:.1%}",
            f"{r.revenue_share:.1%}",
            f"{r.mean_recency_days:.0f}",
            f"{r.mean_frequency:.1f}",
            f"{r.mean_monetary:,.0f}",
        ]
        if has_clv:
            cells.append("" if math.isnan(r.mean_clv) else f"{r.mean_clv:,.0f}")
        if has_churn:
            cells.append("" if math.isnan(r.churn_probability) else f"{r.churn_probability:.0%}")
        table.add_row(*cells)
    console.print(table)
    for r in profiles.itertuples():
        console.print(f"- {r.description}", soft_wrap=True)


def _print_transitions(transitions) -> None:
    from patron.models.segmentation.longitudinal import transition_matrix

    if not len(transitions):
        console.print("no transitions: only one period had enough customers")
        return
    last = transitions[transitions["to_period"] == transitions["to_period"].max()]
    m = transition_matrix(last)
    frm, to = last["from_period"].iloc[0], last["to_period"].iloc[0]
    table = Table(title=f"Transitions {frm} -> {to} (rows: from, columns: to; customers)")
    table.add_column("from \\ to")
    for c in m.columns:
        table.add_column(str(c), justify="right")
    table.add_column("total", justify="right")
    for state, row in m.iterrows():
        table.add_row(str(state), *[f"{v:,}" for v in row.to_numpy()], f"{int(row.sum()):,}")
    console.print(table)

"""Render the report's sections into one HTML file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from patron import __version__
from patron.plots.report import plotly_js
from patron.report.sections import all_sections
from patron.storage.base import Repository


def environment() -> Environment:
    """The Jinja2 environment over the templates shipped in the package (HTML autoescaped)."""
    return Environment(
        loader=PackageLoader("patron.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(repo: Repository, *, run_id: str | None = None) -> str:
    """The report as one HTML string (plotly.js embedded once)."""
    sections = all_sections(repo, run_id)
    template = environment().get_template("report.html.j2")
    return template.render(
        title="Patron report",
        store=repo.url,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        sections=sections,
        plotly_js=plotly_js(),
    )


def build_report(repo: Repository, path: str | Path, *, run_id: str | None = None) -> Path:
    """Write the HTML report for the store's latest results (or ``run_id``'s, for the tables that run wrote) to
    ``path`` and return the path.

    Sections whose tables the store does not have yet say which command makes them instead of failing. The file
    needs no network: plotly.js is embedded from the installed plotly package.
    """
    path = Path(path)
    if path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(repo, run_id=run_id), encoding="utf-8")
    return path

"""The self-contained HTML report: one file, charts included, readable offline.

``build_report(repo, path)`` renders every section of :mod:`patron.report.sections` with the Jinja2 templates in
``patron/report/templates``; plotly.js is embedded once from the installed plotly package (no CDN).
"""

from patron.report.build import build_report

__all__ = ["build_report"]

"""Segment figures (Plotly): sizes and value per segment, and the transition heatmap between periods.

Files are written for offline use: one ``segments.html`` carrying plotly.js once (inline, no CDN) with every
figure, and each figure's JSON (``segment_sizes.json``, ``segment_transitions.json``) for embedding elsewhere
(``plotly.io.from_json``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from patron.models.segmentation.longitudinal import transition_matrix


def sizes_figure(profiles: pd.DataFrame) -> go.Figure:
    """Bars: share of customers and share of revenue per segment (named)."""
    p = profiles.sort_values("segment")
    labels = [str(n) for n in p["name"]]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("share of customers", "share of revenue"))
    fig.add_trace(go.Bar(x=labels, y=p["share"], name="customers", text=p["size"]), row=1, col=1)
    fig.add_trace(go.Bar(x=labels, y=p["revenue_share"], name="revenue"), row=1, col=2)
    fig.update_yaxes(tickformat=".0%")
    fig.update_layout(title="Segments: size and value", showlegend=False)
    return fig


def transitions_figure(transitions: pd.DataFrame) -> go.Figure:
    """Heatmap of customers moving between states, summed over all consecutive periods."""
    m = transition_matrix(transitions)
    fig = go.Figure(
        go.Heatmap(
            z=m.to_numpy(),
            x=[str(c) for c in m.columns],
            y=[str(r) for r in m.index],
            text=m.to_numpy(),
            texttemplate="%{text}",
            colorscale="Blues",
        )
    )
    first, last = transitions["from_period"].min(), transitions["to_period"].max()
    fig.update_layout(
        title=f"Segment transitions {first} to {last} (customers, summed over periods)",
        xaxis_title="to",
        yaxis_title="from",
        yaxis_autorange="reversed",
    )
    return fig


def write_segment_plots(
    out_dir: str | Path, profiles: pd.DataFrame, transitions: pd.DataFrame | None = None
) -> list[Path]:
    """Write the figures' JSON and one self-contained HTML (plotly.js inline once); return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"segment_sizes": sizes_figure(profiles)}
    if transitions is not None and len(transitions):
        figures["segment_transitions"] = transitions_figure(transitions)
    paths = []
    for name, fig in figures.items():
        path = out / f"{name}.json"
        path.write_text(pio.to_json(fig))
        paths.append(path)
    parts = [
        pio.to_html(fig, include_plotlyjs=(i == 0), full_html=False) for i, fig in enumerate(figures.values())
    ]
    html = out / "segments.html"
    html.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Patron segments</title></head><body>"
        + "".join(parts)
        + "</body></html>"
    )
    paths.append(html)
    return paths

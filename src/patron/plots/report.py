"""Chart helpers shared by the HTML report and the dashboard.

Each function takes plain lists/arrays that a view model has already prepared (no fitting, no aggregation here)
and returns a :class:`plotly.graph_objects.Figure` with a title, axis titles that carry units, and one consistent
look. :func:`figure_div` turns a figure into an HTML ``<div>`` *without* plotly.js, so a page that shows many
charts embeds the library once (:func:`plotly_js` for a self-contained file, :func:`plotly_js_path` for a web
server).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import plotly.graph_objects as go

TEMPLATE = "plotly_white"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
HEIGHT = 380


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, *, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        template=TEMPLATE,
        height=height,
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        colorway=list(PALETTE),
    )
    fig.update_xaxes(title_text=x_title, automargin=True)
    fig.update_yaxes(title_text=y_title, automargin=True)
    return fig


def style(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    """Give a figure built elsewhere the shared look, a title and axis titles."""
    return _layout(fig, title, x_title, y_title)


def bar(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    x_title: str,
    y_title: str,
    horizontal: bool = False,
    hover: Sequence[str] | None = None,
) -> go.Figure:
    """One bar per label (horizontal bars read better for long labels)."""
    if horizontal:
        trace = go.Bar(x=list(values), y=list(labels), orientation="h", hovertext=hover)
    else:
        trace = go.Bar(x=list(labels), y=list(values), hovertext=hover)
    fig = _layout(go.Figure(trace), title, x_title, y_title, height=max(HEIGHT, 28 * len(labels) + 120))
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    return fig


def histogram_bars(
    edges: Sequence[float], counts: Sequence[int], *, title: str, x_title: str, y_title: str = "customers"
) -> go.Figure:
    """A histogram from pre-computed bin edges and counts (so the page carries bins, not every value)."""
    left, right = list(edges[:-1]), list(edges[1:])
    centres = [(a + b) / 2 for a, b in zip(left, right, strict=True)]
    widths = [b - a for a, b in zip(left, right, strict=True)]
    fig = go.Figure(go.Bar(x=centres, y=list(counts), width=widths, marker_line_width=0))
    fig.update_layout(bargap=0.02)
    return _layout(fig, title, x_title, y_title)


def lines(
    x: Sequence,
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    dashed: Sequence[str] = (),
    markers: bool = False,
) -> go.Figure:
    """Several named lines over one x (tracking plots, conditional expectations)."""
    fig = go.Figure()
    for name, y in series.items():
        fig.add_trace(
            go.Scatter(
                x=list(x),
                y=list(y),
                name=name,
                mode="lines+markers" if markers else "lines",
                line={"dash": "dash" if name in dashed else "solid"},
            )
        )
    return _layout(fig, title, x_title, y_title)


def scatter(
    x: Sequence[float],
    y: Sequence[float],
    *,
    title: str,
    x_title: str,
    y_title: str,
    text: Sequence[str] | None = None,
    log_y: bool = False,
    probability_x: bool = False,
) -> go.Figure:
    """Points (callers downsample big data first: every point is written into the page).

    ``probability_x`` fixes the x axis to 0-100 %: left to autorange, a probability that is ~1 for everyone
    (P(alive) on data with little dropout) gets ticks such as 0.999999998 that read as noise."""
    fig = go.Figure(
        go.Scattergl(x=list(x), y=list(y), mode="markers", text=text, marker={"size": 5, "opacity": 0.6})
    )
    fig = _layout(fig, title, x_title, y_title)
    if log_y:
        fig.update_yaxes(type="log")
    if probability_x:
        fig.update_xaxes(range=[-0.02, 1.02], tickformat=".0%")
    return fig


def heatmap(
    z: Sequence[Sequence[float]],
    x: Sequence,
    y: Sequence,
    *,
    title: str,
    x_title: str,
    y_title: str,
    colorbar_title: str,
    text_format: str | None = None,
) -> go.Figure:
    """A matrix as a heat map; ``text_format`` (e.g. ``".0f"``) writes each cell's value on it."""
    trace = go.Heatmap(
        z=[list(row) for row in z],
        x=list(x),
        y=list(y),
        colorscale="Viridis",
        colorbar={"title": {"text": colorbar_title}},
        texttemplate=None if text_format is None else "%{z:" + text_format + "}",
    )
    fig = go.Figure(trace)
    if len(x) and isinstance(next(iter(x)), str):
        fig.update_xaxes(type="category")
    if len(y) and isinstance(next(iter(y)), str):
        fig.update_yaxes(type="category")
    return _layout(fig, title, x_title, y_title, height=max(HEIGHT, min(22 * len(y) + 140, 520)))


def reliability(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, title: str = "Reliability diagram"
) -> go.Figure:
    """Observed fraction of positives against mean predicted probability per bin, one curve per model, with
    the diagonal of perfect calibration."""
    fig = go.Figure(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            name="perfectly calibrated",
            mode="lines",
            line={"dash": "dot", "color": "grey"},
        )
    )
    for name, (predicted, observed) in curves.items():
        fig.add_trace(go.Scatter(x=list(predicted), y=list(observed), name=name, mode="lines+markers"))
    fig = _layout(fig, title, "mean predicted probability of churn", "observed fraction churned")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return fig


def grouped_bars(
    labels: Sequence,
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    reference: float | None = None,
) -> go.Figure:
    """Bars side by side per label (lift by decile, actual vs predicted); ``reference`` draws a flat line."""
    fig = go.Figure([go.Bar(x=[str(v) for v in labels], y=list(y), name=name) for name, y in series.items()])
    fig.update_layout(barmode="group")
    if reference is not None:
        fig.add_hline(y=reference, line_dash="dot", line_color="grey")
    return _layout(fig, title, x_title, y_title)


def figure_div(fig: go.Figure, div_id: str) -> str:
    """The figure as an HTML ``<div>`` plus the script that draws it; plotly.js itself is not included."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def plotly_js() -> str:
    """The minified plotly.js shipped inside the installed plotly package (embedded once per report)."""
    return plotly_js_path().read_text(encoding="utf-8")


def plotly_js_path() -> Path:
    """Path of the plotly.min.js bundled with the installed plotly package (served by the dashboard)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))

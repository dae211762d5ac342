"""Plotly figures of a churn / classifier fit: pure functions, result frames in, figure out.

The frames are the result tables the services write (``churn_reliability``, ``churn_lift``, ``churn_survival`` and
their ``classify_*`` twins), so a figure can be redrawn from the store for any past run.
:func:`write_html` writes a figure as a self-contained file (plotly.js embedded, no CDN, works offline).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go


def reliability_figure(reliability: pd.DataFrame, title: str = "Reliability diagram") -> go.Figure:
    """Mean predicted probability vs observed fraction per bin, one line per model, with the diagonal."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line={"dash": "dash", "color": "grey"},
        )
    )
    for model, part in reliability.groupby("model", sort=False):
        part = part.sort_values("mean_predicted")
        fig.add_trace(
            go.Scatter(
                x=part["mean_predicted"],
                y=part["fraction_positive"],
                mode="lines+markers",
                name=str(model),
                text=[f"n = {int(c):,}" for c in part["count"]],
                hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{text}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis={"title": "mean predicted probability", "range": [0, 1]},
        yaxis={"title": "observed fraction", "range": [0, 1]},
        template="plotly_white",
    )
    return fig


def lift_figure(lift: pd.DataFrame, title: str = "Lift by decile") -> go.Figure:
    """Lift per decile (bars) for each model; decile 1 = the highest scores."""
    fig = go.Figure()
    for model, part in lift.groupby("model", sort=False):
        fig.add_trace(
            go.Bar(
                x=part["decile"],
                y=part["lift"],
                name=str(model),
                customdata=part["cumulative_gain"],
                hovertemplate="decile %{x}<br>lift %{y:.2f}<br>cumulative gain %{customdata:.1%}"
                "<extra>%{fullData.name}</extra>",
            )
        )
    fig.add_hline(y=1.0, line_dash="dash", line_color="grey")
    fig.update_layout(
        title=title,
        barmode="group",
        xaxis={"title": "decile (1 = highest predicted)", "dtick": 1},
        yaxis={"title": "lift (positive rate / overall rate)"},
        template="plotly_white",
    )
    return fig


def km_figure(
    curves: pd.DataFrame, title: str = "Time to churn (Kaplan-Meier)", unit: str = "days"
) -> go.Figure:
    """Kaplan-Meier step curves per segment (``segment, time, survival`` rows)."""
    fig = go.Figure()
    for segment, part in curves.groupby("segment", sort=False):
        part = part.sort_values("time")
        x = [0.0, *part["time"].tolist()]
        y = [1.0, *part["survival"].tolist()]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line_shape="hv", name=str(segment)))
    fig.update_layout(
        title=title,
        xaxis={"title": unit},
        yaxis={"title": "share not churned", "range": [0, 1.02]},
        template="plotly_white",
    )
    return fig


def write_html(fig: go.Figure, path: str | Path) -> Path:
    """Write ``fig`` as one self-contained HTML file (plotly.js inlined: opens offline)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path

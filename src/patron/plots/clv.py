"""Figures for CLV model evaluation (Plotly). Pure: frames in, ``go.Figure`` out; no numerics.

Each function takes the frame the matching :mod:`patron.models.clv.evaluation` function (or a fitted model's
``summary_``) returns:

* :func:`tracking_figure` <- ``evaluation.tracking`` (cumulative or per period; FHL 2005 fig. 2/3),
* :func:`conditional_expectations_figure` <- ``evaluation.conditional_expectations`` (FHL fig. 4),
* :func:`matrix_figure` <- ``evaluation.frequency_recency_matrix`` / ``evaluation.probability_alive_matrix``,
* :func:`parameter_intervals_figure` <- ``model.summary_`` (estimate, lower_95, upper_95).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from patron.errors import InputError

ACTUAL = "#1f3b73"
EXPECTED = "#d9822b"
_UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}


def _need(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {', '.join(map(repr, missing))}", column=missing[0])


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.02},
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 70, "r": 30, "t": 80, "b": 60},
    )
    return fig


def tracking_figure(
    tracking: pd.DataFrame, *, cumulative: bool = True, title: str | None = None
) -> go.Figure:
    """Actual vs model-expected repeat transactions by period, with the end of calibration marked.

    Parameters
    ----------
    tracking
        The frame of ``evaluation.tracking`` (index ``period``; columns actual, expected, actual_cumulative,
        expected_cumulative, in_calibration, period_end).
    cumulative
        Cumulative totals (FHL fig. 2) if true, per-period counts (FHL fig. 3) if false.
    """
    suffix = "_cumulative" if cumulative else ""
    _need(tracking, (f"actual{suffix}", f"expected{suffix}", "in_calibration"), "the tracking frame")
    unit = _UNIT_NAMES.get(str(tracking.attrs.get("time_unit", "")), "periods")
    x = tracking.index.to_numpy()
    hover = tracking["period_end"].dt.strftime("%Y-%m-%d") if "period_end" in tracking else None
    fig = go.Figure()
    for col, name, color, dash in (
        (f"actual{suffix}", "Actual", ACTUAL, "solid"),
        (f"expected{suffix}", "Model", EXPECTED, "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=tracking[col],
                mode="lines",
                name=name,
                line={"color": color, "dash": dash, "width": 2},
                customdata=hover,
                hovertemplate=f"{name}: %{{y:,.1f}}<br>period %{{x}} (ends %{{customdata}})<extra></extra>"
                if hover is not None
                else None,
            )
        )
    in_cal = tracking.index[tracking["in_calibration"].to_numpy(dtype=bool)]
    if len(in_cal) and len(in_cal) < len(tracking):
        fig.add_vline(
            x=float(in_cal.max()) + 0.5,
            line={"color": "grey", "dash": "dot"},
            annotation_text="end of calibration",
            annotation_position="top left",
        )
    what = "Cumulative repeat transactions" if cumulative else "Repeat transactions per period"
    return _layout(
        fig, title or f"{what}: actual vs model", f"Time since the cohort's first purchase ({unit})", what
    )


def conditional_expectations_figure(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Mean holdout purchases, actual vs predicted, by number of repeat purchases in calibration (FHL fig. 4).

    ``table`` is ``evaluation.conditional_expectations`` (index buckets "0".."7+"; columns actual, predicted,
    n_customers).
    """
    _need(table, ("actual", "predicted"), "the conditional expectations table")
    labels = [str(v) for v in table.index]
    n = table["n_customers"] if "n_customers" in table else pd.Series(index=table.index, dtype=float)
    fig = go.Figure()
    for col, name, color, dash in (
        ("actual", "Actual", ACTUAL, "solid"),
        ("predicted", "Model", EXPECTED, "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=table[col],
                mode="lines+markers",
                name=name,
                line={"color": color, "dash": dash, "width": 2},
                customdata=n.to_numpy(),
                hovertemplate=f"{name}: %{{y:.2f}}<br>%{{customdata:,}} customers<extra></extra>",
            )
        )
    return _layout(
        fig,
        title or "Holdout purchases by calibration frequency: actual vs model",
        "Repeat purchases in the calibration period",
        "Mean purchases in the holdout period",
    )


def matrix_figure(
    matrix: pd.DataFrame,
    *,
    title: str | None = None,
    value_label: str = "Expected purchases",
    colorscale: str = "Viridis",
) -> go.Figure:
    """Heatmap of a frequency x recency matrix (``evaluation.frequency_recency_matrix`` or
    ``probability_alive_matrix``): frequency on the vertical axis (0 at the top), recency across. NaN cells
    (impossible histories) are left blank. For P(alive) pass ``value_label="P(alive)"``."""
    if matrix.empty:
        raise InputError("the matrix is empty", column="matrix")
    zmax = 1.0 if value_label.lower().startswith("p(") else None
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=[f"{v:g}" for v in matrix.columns.astype(float)],
            y=[str(v) for v in matrix.index],
            colorscale=colorscale,
            zmin=0.0,
            zmax=zmax,
            colorbar={"title": {"text": value_label}},
            hovertemplate="frequency %{y}, recency %{x}<br>" + value_label + ": %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return _layout(
        fig,
        title or f"{value_label} by frequency and recency",
        "Recency (time of the last purchase)",
        "Frequency (repeat purchases)",
    )


def parameter_intervals_figure(
    summary: pd.DataFrame, *, title: str | None = None, log_scale: bool | None = None
) -> go.Figure:
    """Point estimates with 95% intervals for each parameter (a fitted model's ``summary_``: estimate, lower_95,
    upper_95 indexed by parameter). The axis is logarithmic when every bound is positive (parameters of very
    different scales then stay readable), unless ``log_scale`` says otherwise."""
    _need(summary, ("estimate", "lower_95", "upper_95"), "the parameter summary")
    est, lo, hi = summary["estimate"], summary["lower_95"], summary["upper_95"]
    if log_scale is None:
        log_scale = bool((lo.fillna(est) > 0).all())
    names = [str(v) for v in summary.index]
    fig = go.Figure(
        go.Scatter(
            x=est,
            y=names,
            mode="markers",
            marker={"color": ACTUAL, "size": 9},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": hi - est,
                "arrayminus": est - lo,
                "thickness": 2,
            },
            name="estimate",
            customdata=pd.concat([lo, hi], axis=1).to_numpy(),
            hovertemplate="%{y}: %{x:.4g} (95%: %{customdata[0]:.4g} to %{customdata[1]:.4g})<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    if log_scale:
        fig.update_xaxes(type="log")
    fig.update_layout(showlegend=False)
    return _layout(
        fig, title or "Parameter estimates with 95% intervals", "Estimate (95% interval)", "Parameter"
    )

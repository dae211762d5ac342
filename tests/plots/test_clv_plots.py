"""CLV evaluation figures: the right traces, titles and axes from small hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from patron.errors import InputError
from patron.plots import clv as plots


@pytest.fixture
def tracking_frame():
    periods = pd.Index(np.arange(1, 7), name="period")
    actual = np.array([0.0, 3, 5, 4, 6, 5])
    expected = np.array([1.0, 3, 4, 5, 5, 5])
    frame = pd.DataFrame(
        {
            "period_end": pd.date_range("1997-01-07", periods=6, freq="7D"),
            "in_calibration": [True, True, True, False, False, False],
            "actual": actual,
            "expected": expected,
            "actual_cumulative": actual.cumsum(),
            "expected_cumulative": expected.cumsum(),
        },
        index=periods,
    )
    frame.attrs["time_unit"] = "W"
    return frame


def test_tracking_figure_cumulative_and_incremental(tracking_frame):
    fig = plots.tracking_figure(tracking_frame)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["Actual", "Model"]
    np.testing.assert_array_equal(fig.data[0].y, tracking_frame["actual_cumulative"])
    assert "Cumulative" in fig.layout.title.text and fig.layout.xaxis.title.text.endswith("(weeks)")
    assert fig.layout.shapes[0].x0 == 3.5  # the end-of-calibration line between periods 3 and 4
    inc = plots.tracking_figure(tracking_frame, cumulative=False, title="Weekly")
    np.testing.assert_array_equal(inc.data[1].y, tracking_frame["expected"])
    assert inc.layout.title.text == "Weekly"
    fig.to_json()  # serialisable for the report and the dashboard


def test_conditional_expectations_figure():
    table = pd.DataFrame(
        {"n_customers": [10, 5, 2], "actual": [0.2, 0.8, 2.0], "predicted": [0.25, 0.7, 1.9]},
        index=pd.Index(["0", "1", "2+"], name="frequency_cal"),
    )
    fig = plots.conditional_expectations_figure(table)
    assert list(fig.data[0].x) == ["0", "1", "2+"] and list(fig.data[1].y) == [0.25, 0.7, 1.9]
    assert fig.layout.yaxis.title.text == "Mean purchases in the holdout period"
    with pytest.raises(InputError, match="predicted"):
        plots.conditional_expectations_figure(table.drop(columns="predicted"))


def test_matrix_figure_keeps_blank_cells():
    matrix = pd.DataFrame([[1.0, np.nan], [np.nan, 0.6]], index=[0, 1], columns=[0.0, 19.5])
    fig = plots.matrix_figure(matrix, value_label="P(alive)")
    heat = fig.data[0]
    assert np.isnan(heat.z[0][1]) and heat.zmax == 1.0 and list(heat.x) == ["0", "19.5"]
    assert fig.layout.yaxis.autorange == "reversed" and "P(alive)" in fig.layout.title.text
    with pytest.raises(InputError, match="empty"):
        plots.matrix_figure(pd.DataFrame())


def test_parameter_intervals_figure():
    summary = pd.DataFrame(
        {"estimate": [0.24, 4.41], "se": [0.01, 0.38], "lower_95": [0.22, 3.7], "upper_95": [0.27, 5.2]},
        index=pd.Index(["r", "alpha"], name="parameter"),
    )
    fig = plots.parameter_intervals_figure(summary)
    assert fig.layout.xaxis.type == "log" and list(fig.data[0].y) == ["r", "alpha"]
    np.testing.assert_allclose(fig.data[0].error_x.array, [0.03, 0.79])
    with_coef = pd.concat(
        [
            summary,
            pd.DataFrame({"estimate": [-0.3], "lower_95": [-0.5], "upper_95": [-0.1]}, index=["alpha[x]"]),
        ]
    )
    assert plots.parameter_intervals_figure(with_coef).layout.xaxis.type is None

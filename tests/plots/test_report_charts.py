"""The report's generic charts: axis choices that keep probabilities readable."""

from __future__ import annotations

from patron.plots import report as charts


def test_probability_axis_is_fixed_to_the_unit_interval_even_when_every_value_is_about_one():
    # P(alive) ~ 1 for everyone (little dropout): autorange would span 0.999999997-0.999999999.
    fig = charts.scatter(
        [0.999999997, 0.999999998, 0.999999999],
        [10.0, 20.0, 30.0],
        title="t",
        x_title="P(alive)",
        y_title="CLV",
        probability_x=True,
    )
    assert tuple(fig.layout.xaxis.range) == (-0.02, 1.02)
    assert fig.layout.xaxis.tickformat == ".0%"


def test_other_axes_keep_autorange():
    fig = charts.scatter([1.0, 2.0], [3.0, 4.0], title="t", x_title="x", y_title="y")
    assert fig.layout.xaxis.range is None
    assert fig.layout.xaxis.tickformat is None

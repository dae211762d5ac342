"""The churn figures are pure: result frames in, a Plotly figure out; files are self-contained HTML."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patron.models.churn import kaplan_meier
from patron.models.classify import lift_table, reliability_table
from patron.plots.churn import km_figure, lift_figure, reliability_figure, write_html


def test_figures_from_result_frames(tmp_path) -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p).astype(int)
    rel = pd.concat([reliability_table(y, p).assign(model=m) for m in ("a", "b")])
    fig = reliability_figure(rel)
    assert [t.name for t in fig.data] == ["perfect calibration", "a", "b"]
    np.testing.assert_allclose(fig.data[1].y, rel[rel["model"] == "a"]["fraction_positive"])
    lift = lift_table(y, p).assign(model="a")
    assert list(lift_figure(lift).data[0].x) == list(range(1, 11))
    times, surv, at_risk, events = kaplan_meier(rng.integers(1, 50, 100), rng.integers(0, 2, 100))
    curves = pd.DataFrame(
        {"segment": "all", "time": times, "survival": surv, "at_risk": at_risk, "events": events}
    )
    km = km_figure(curves)
    assert km.data[0].y[0] == 1.0 and km.data[0].line.shape == "hv"
    path = write_html(km, tmp_path / "sub" / "km.html")
    html = path.read_text()
    assert '<script src="http' not in html and "Plotly.newPlot" in html

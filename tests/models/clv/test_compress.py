"""Row compression (``patron.models.clv._base.compress``) against a pandas groupby of the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.models.clv._base import compress


def _groupby(data: dict[str, np.ndarray], Z: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({**data, **{f"z{j}": Z[:, j] for j in range(Z.shape[1])}, "w": w})
    out = frame.groupby(list(frame.columns[:-1]), sort=True, as_index=False)["w"].sum()
    return out[out["w"] > 0].reset_index(drop=True)


@pytest.mark.parametrize("kind", ["weekly", "grid_many_counts", "sparse_keys", "continuous"])
def test_compress_matches_groupby(kind: str) -> None:
    """Dense keys (counted), sparse keys (sorted) and continuous data (only sorted by frequency): the same weighted
    rows as a groupby, and sorted by the first column."""
    rng = np.random.default_rng(0)
    n = 30_000
    x = rng.poisson(2.0, n).astype(float)
    if kind == "weekly":
        T = rng.integers(1, 40, n).astype(float)
    elif kind == "grid_many_counts":
        x = rng.integers(0, 3000, n).astype(float)
        T = rng.integers(1, 40, n).astype(float)
    elif kind == "sparse_keys":
        T = np.round(rng.uniform(1, 40, n), 2)
    else:
        T = rng.uniform(1, 40, n)
    t_x = np.where(x > 0, np.floor(T * rng.uniform(0, 1, n)), 0.0)
    Z = rng.integers(0, 3, (n, 1)).astype(float)
    w = rng.integers(0, 3, n).astype(float)  # zero weights are dropped
    data = {"frequency": x, "recency": t_x, "T": T}
    cdata, cZ, cw = compress(data, Z, w)
    assert np.all(np.diff(cdata["frequency"]) >= 0)
    got = pd.DataFrame({**cdata, "z0": cZ[:, 0], "w": cw}).sort_values(["frequency", "recency", "T", "z0"])
    expected = _groupby(data, Z, w)
    if kind == "continuous":
        assert len(cw) == (w > 0).sum()  # nothing merged, only sorted
        got = got.groupby(["frequency", "recency", "T", "z0"], as_index=False)["w"].sum()
    else:
        assert len(cw) < n
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    assert cw.sum() == pytest.approx(w.sum())

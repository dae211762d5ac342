"""GLRM (Udell, Horn, Zadeh & Boyd 2016): planted low-rank structure in mixed types with entries hidden at random.

Imputation must beat mean/mode filling, planted clusters must be recovered from the embeddings, Huber must resist
gross outliers, each loss's gradient must equal finite differences and the objective must never increase.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from patron.errors import ConfigError, InputError
from patron.models.segmentation import _glrm_losses as losses
from patron.models.segmentation.glrm import GLRM, GLRMSegmenter, infer_column_types

CENTERS = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])


def planted(n: int = 600, seed: int = 0, missing: float = 0.2, noise: float = 0.3):
    """A mixed-type table generated from a rank-2 embedding with three planted clusters.

    Returns (complete table, table with ``missing`` of the entries hidden at random, hidden mask, cluster labels).
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    X = CENTERS[labels] + rng.normal(scale=0.5, size=(n, 2))
    U = X @ rng.normal(size=(2, 16))
    cols: dict[str, object] = {}
    for j in range(5):  # numbers on very different scales: the column scaling must make them comparable
        scale = 1 + 10 * j
        cols[f"num{j}"] = U[:, j] * scale + 5 * j + rng.normal(scale=noise * scale, size=n)
    cols["flag0"] = (U[:, 5] + rng.logistic(size=n) * noise) > 0
    cols["flag1"] = (U[:, 6] + rng.logistic(size=n) * noise) > 0
    cols["count"] = pd.array(rng.poisson(np.exp(0.5 * U[:, 7] + 1)), dtype="Int64")
    level = np.clip(np.round(U[:, 8] + 3 + rng.normal(scale=noise, size=n)), 1, 5).astype(int)
    cols["level"] = pd.Categorical(level, categories=[1, 2, 3, 4, 5], ordered=True)
    cols["cat0"] = np.array(list("abc"))[np.argmax(U[:, 9:12] + rng.gumbel(size=(n, 3)) * noise, axis=1)]
    cols["cat1"] = np.array(list("wxyz"))[np.argmax(U[:, 12:16] + rng.gumbel(size=(n, 4)) * noise, axis=1)]
    full = pd.DataFrame(cols)
    hidden = rng.random(full.shape) < missing
    frame = full.copy()
    for j, c in enumerate(frame.columns):
        if frame[c].dtype == bool:
            frame[c] = frame[c].astype(object)  # a boolean column with gaps, as pandas reads one
        frame.loc[hidden[:, j], c] = None if frame[c].dtype == object else np.nan
    return full, frame, hidden, labels


@pytest.fixture(scope="module")
def fitted():
    full, frame, hidden, labels = planted()
    return full, frame, hidden, labels, GLRM(rank=2, random_state=0).fit(frame)


# ------------------------------------------------------------------------------------------------------ losses


def _finite_difference(f, u, a, eps=1e-6):
    return (f(u + eps, a)[0] - f(u - eps, a)[0]) / (2 * eps)


@settings(max_examples=60, deadline=None)
@given(u=st.floats(-8, 8), a=st.floats(-8, 8), sign=st.sampled_from([-1.0, 1.0]), count=st.integers(0, 40))
def test_scalar_loss_gradients_equal_finite_differences(u, a, sign, count):
    cases = [(losses.quadratic, a), (losses.logistic, sign), (losses.poisson, float(count))]
    if abs(abs(u - a) - 1.0) > 1e-4:  # Huber is not twice differentiable at |u - a| = 1
        cases.append((losses.huber, a))
    for f, obs in cases:
        uu, aa = np.array([u]), np.array([obs])
        grad = f(uu, aa)[1]
        np.testing.assert_allclose(grad, _finite_difference(f, uu, aa), rtol=1e-5, atol=1e-5 * (1 + abs(u)))


@settings(max_examples=40, deadline=None)
@given(u=st.floats(-3, 9), d=st.integers(2, 7), data=st.data())
def test_ordinal_gradient_equals_finite_differences_and_decodes_by_rounding(u, d, data):
    a = np.array([float(data.draw(st.integers(1, d)))])
    uu = np.array([u])
    f = lambda v, obs: losses.ordinal(v, obs, d)  # noqa: E731
    np.testing.assert_allclose(f(uu, a)[1], _finite_difference(f, uu, a), rtol=1e-5, atol=1e-6)
    levels = np.arange(1, d + 1, dtype=float)
    best = levels[np.argmin([f(uu, np.array([lv]))[0][0] for lv in levels])]
    if abs(u - np.floor(u) - 0.5) > 1e-6:  # away from a tie between two levels
        assert losses.ordinal_decode(uu, d)[0] == best


@settings(max_examples=40, deadline=None)
@given(n_levels=st.integers(2, 6), data=st.data())
def test_block_loss_gradients_equal_finite_differences(n_levels, data):
    U = np.array([data.draw(st.lists(st.floats(-6, 6), min_size=n_levels, max_size=n_levels))])
    a = np.array([data.draw(st.integers(0, n_levels - 1))])
    for f in (losses.multinomial, losses.one_vs_all):
        grad = f(U, a)[1][0]
        for col in range(n_levels):
            e = np.zeros_like(U)
            e[0, col] = 1e-6
            fd = (f(U + e, a)[0][0] - f(U - e, a)[0][0]) / 2e-6
            assert grad[col] == pytest.approx(fd, rel=1e-5, abs=1e-6)


def test_poisson_loss_is_zero_at_the_count():
    a = np.array([0.0, 1.0, 7.0])
    assert losses.poisson(np.log(np.maximum(a, 1e-300)), a)[0][1:] == pytest.approx([0.0, 0.0], abs=1e-12)


# -------------------------------------------------------------------------------------------------- imputation


def test_imputation_beats_mean_and_mode_filling(fitted):
    full, frame, hidden, _, model = fitted
    imputed = model.impute(frame)
    for j, col in enumerate(frame.columns):
        h = hidden[:, j]
        truth = full[col][h]
        if col.startswith("num") or col == "count":
            truth = truth.astype(float)
            rmse = np.sqrt(np.mean((imputed[col][h].astype(float) - truth) ** 2))
            rmse_mean = np.sqrt(np.mean((frame[col].astype(float).mean() - truth) ** 2))
            assert rmse / rmse_mean < 0.8, (col, rmse / rmse_mean)
        else:
            accuracy = np.mean(imputed[col][h].astype(str).to_numpy() == truth.astype(str).to_numpy())
            mode = str(frame[col].mode()[0])
            accuracy_mode = np.mean(truth.astype(str).to_numpy() == mode)
            assert accuracy > accuracy_mode + 0.1, (col, accuracy, accuracy_mode)


@pytest.mark.parametrize("seed", [1, 2])
def test_noise_scaling_imputes_every_number_and_the_count_better_than_the_papers(seed):
    """The default "noise" scaling (quadratic losses weighed by their residual variance, likelihood losses by 1)
    beats the paper's sec. 4.3 variance scaling column by column on planted data with precise numbers."""
    full, frame, hidden, _ = planted(n=3000, seed=seed)
    errors = {}
    for scaling in ("variance", "noise"):
        imputed = GLRM(rank=2, scaling=scaling).fit(frame).impute(frame)
        for j, col in enumerate(frame.columns):
            if col.startswith("num") or col == "count":
                truth = full[col][hidden[:, j]].astype(float)
                errors[scaling, col] = np.sqrt(
                    np.mean((imputed[col][hidden[:, j]].astype(float) - truth) ** 2)
                )
    for col in [c for c in frame.columns if c.startswith("num") or c == "count"]:
        assert errors["noise", col] < errors["variance", col], (
            col,
            errors["noise", col],
            errors["variance", col],
        )
    with pytest.raises(ConfigError, match="scaling"):
        GLRM(scaling="bogus").fit(frame)


def test_impute_keeps_observed_entries_and_dtypes(fitted):
    _, frame, _, _, model = fitted
    imputed = model.impute(frame)
    assert not imputed.isna().any().any()
    observed = frame.notna()
    for col in frame.columns:
        pd.testing.assert_series_equal(
            imputed[col][observed[col]].astype(str), frame[col][observed[col]].astype(str)
        )
    assert imputed["count"].dtype == "Int64"
    assert isinstance(imputed["level"].dtype, pd.CategoricalDtype) and imputed["level"].dtype.ordered
    assert set(imputed["flag0"]) <= {True, False}
    assert set(imputed["cat1"]) <= set("wxyz")


def test_imputation_is_invariant_to_row_order(fitted):
    _, frame, _, _, model = fitted
    order = np.random.default_rng(1).permutation(len(frame))
    shuffled = GLRM(rank=2, random_state=0).fit(frame.iloc[order])
    a = model.impute(frame)
    b = shuffled.impute(frame.iloc[order]).loc[frame.index]
    for col in frame.columns:
        if col.startswith("num"):
            np.testing.assert_allclose(a[col], b[col], rtol=1e-3, atol=1e-3 * frame[col].std())
        else:
            assert np.mean(a[col].astype(str) == b[col].astype(str)) >= 0.99, col


def test_huber_beats_quadratic_with_gross_outliers():
    rng = np.random.default_rng(3)
    n, p = 400, 8
    truth = rng.normal(size=(n, 2)) @ rng.normal(size=(2, p)) + rng.normal(scale=0.1, size=(n, p))
    observed = truth.copy()
    outliers = rng.random((n, p)) < 0.05
    observed[outliers] += rng.choice([-1, 1], size=outliers.sum()) * rng.uniform(20, 40, size=outliers.sum())
    hidden = (rng.random((n, p)) < 0.2) & ~outliers
    observed[hidden] = np.nan
    frame = pd.DataFrame(observed, columns=[f"v{j}" for j in range(p)])
    errors = {}
    for loss in ("quadratic", "huber"):
        imputed = GLRM(rank=2, numeric_loss=loss, random_state=0).fit(frame).impute(frame).to_numpy()
        errors[loss] = np.sqrt(np.mean((imputed[hidden] - truth[hidden]) ** 2))
    assert errors["huber"] < 0.5 * errors["quadratic"], errors


# ----------------------------------------------------------------------------------------- embedding, clusters


def test_planted_clusters_are_recovered_from_the_embeddings():
    _, frame, _, labels = planted(n=800, seed=4)
    train, new = frame.iloc[:600], frame.iloc[600:]
    seg = GLRMSegmenter(rank=2, n_clusters=3, random_state=0).fit(train)
    assert adjusted_rand_score(labels[:600], seg.labels_) >= 0.9
    # scoring new customers: rows the model has not seen land in their planted cluster
    assert adjusted_rand_score(labels[600:], seg.predict(new)) >= 0.9
    np.testing.assert_array_equal(seg.predict(train), seg.labels_)


def test_transform_of_training_rows_returns_their_fitted_embeddings(fitted):
    _, frame, _, _, model = fitted
    np.testing.assert_allclose(model.transform(frame), model.X_, atol=0.05 * np.abs(model.X_).max())
    assert model.fit_transform(frame).shape == (len(frame), 2)


def test_unseen_levels_count_as_missing(fitted):
    _, frame, _, _, model = fitted
    rows = frame.head(5).copy()
    blank = rows.copy()
    rows["cat0"] = "never-seen"
    blank["cat0"] = None
    np.testing.assert_allclose(model.transform(rows), model.transform(blank))


# ------------------------------------------------------------------------------------------------- invariants


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), rank=st.integers(1, 3), missing=st.floats(0.0, 0.5))
def test_objective_never_increases(seed, rank, missing):
    _, frame, _, _ = planted(n=60, seed=seed, missing=missing)
    model = GLRM(rank=rank, max_iter=40, random_state=seed).fit(frame)
    history = model.objective_history_
    assert np.all(np.diff(history) <= 1e-9 * np.abs(history[:-1]))
    assert model.objective_ == history[-1]
    assert 1 <= model.n_iter_ <= 40


def test_fit_is_deterministic_and_clone_works(fitted):
    _, frame, _, _, model = fitted
    again = clone(model).fit(frame)
    np.testing.assert_array_equal(again.X_, model.X_)
    rnd = GLRM(rank=2, init="random", random_state=7)
    np.testing.assert_array_equal(clone(rnd).fit(frame).X_, clone(rnd).fit(frame).X_)
    assert again.get_params()["rank"] == 2


def test_column_types_are_inferred_from_dtypes(fitted):
    _, frame, _, _, model = fitted
    kinds = {c.name: c.kind for c in model.columns_}
    assert kinds == infer_column_types(frame)
    assert kinds["num0"] == "quadratic" and kinds["flag0"] == "logistic" and kinds["count"] == "poisson"
    assert kinds["level"] == "ordinal" and kinds["cat0"] == "categorical"
    override = GLRM(column_types={"cat0": "one_vs_all", "num1": "huber", "count": "huber"}, max_iter=5)
    override.fit(frame)
    assert {c.name: c.kind for c in override.columns_}["cat0"] == "one_vs_all"
    imputed = override.impute(frame)  # an Int64 column modelled as a number is filled with whole numbers
    assert imputed["count"].dtype == "Int64" and not imputed["count"].isna().any()
    # scaling (sec. 4.3): at the offsets, every column's mean scaled loss is about one
    assert all(c.weight > 0 for c in model.columns_)


# ------------------------------------------------------------------------------------------------------ errors


def test_unsupported_dtype_is_an_input_error():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "when": pd.date_range("2024-01-01", periods=3)})
    with pytest.raises(InputError, match=r"column 'when'.*unsupported.*datetime64"):
        GLRM(rank=1).fit(frame)


def test_all_missing_column_is_an_input_error():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "empty": [np.nan] * 3})
    with pytest.raises(InputError, match=r"column 'empty'.*no observed value"):
        GLRM(rank=1).fit(frame)


def test_bad_configuration_and_missing_columns():
    _, frame, _, _ = planted(n=50)
    with pytest.raises(ConfigError, match="unknown column type"):
        GLRM(column_types={"num0": "gaussian"}).fit(frame)
    with pytest.raises(ConfigError, match=r"not in the table: \['nope'\]"):
        GLRM(column_types={"nope": "quadratic"}).fit(frame)
    with pytest.raises(ConfigError, match="rank"):
        GLRM(rank=0).fit(frame)
    with pytest.raises(InputError, match="must be numeric"):
        GLRM(column_types={"cat0": "quadratic"}).fit(frame)
    model = GLRM(rank=1, max_iter=3).fit(frame)
    with pytest.raises(InputError, match=r"lacks the fitted column\(s\) \['cat1'\]"):
        model.transform(frame.drop(columns="cat1"))

"""scikit-learn's estimator checks on the clustering segmenters (the contract DESIGN.md asks for)."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from patron.models.segmentation.hdbscan import HDBSCANSegmenter
from patron.models.segmentation.kmeans import KMeansSegmenter

pytestmark = pytest.mark.slow


@parametrize_with_checks(
    [
        HDBSCANSegmenter(min_cluster_size=5, stability_runs=1),
        KMeansSegmenter(n_clusters=3, stability_runs=1),
        KMeansSegmenter(k_range=(2, 4), stability_runs=1),
    ]
)
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)

"""Segmentation models: RFM rules, HDBSCAN and K-Means segmenters, relate lift scans, migration and profiles."""

from patron.models.segmentation.hdbscan import HDBSCANSegmenter
from patron.models.segmentation.kmeans import KMeansSegmenter
from patron.models.segmentation.rfm import RFM_SEGMENTS, RFMSegmenter, rfm_scores

__all__ = ["RFM_SEGMENTS", "HDBSCANSegmenter", "KMeansSegmenter", "RFMSegmenter", "rfm_scores"]

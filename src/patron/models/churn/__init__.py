"""Churn: survival analysis (Kaplan-Meier, Weibull AFT, concordance). Labels and features live in
:mod:`patron.features.churn_features`, the classifiers in :mod:`patron.models.classify`."""

from patron.models.churn.survival import (
    WeibullAFTModel,
    concordance_index,
    fit_weibull_aft,
    kaplan_meier,
)

__all__ = ["WeibullAFTModel", "concordance_index", "fit_weibull_aft", "kaplan_meier"]

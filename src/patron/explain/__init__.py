"""Per-customer reasons: exact TreeSHAP contributions and plain-language reason codes."""

from patron.explain.reasons import BIAS, describe, reason_codes, tree_contributions

__all__ = ["BIAS", "describe", "reason_codes", "tree_contributions"]

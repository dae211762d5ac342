"""Segment profiles ("personas"): size, value, RFM means, CLV, churn, defining behaviours and a description.

Defining behaviours are found with the relate lift scan (:func:`patron.models.segmentation.relate.lift_scan`):
membership is the target and each category a one-item pattern, so by Bayes' rule the lift
``P(member | buys c) / P(member)`` equals ``P(buys c | member) / P(buys c)``, "members are L x as likely as the
average customer to buy c"; the exact hypergeometric test with Benjamini-Hochberg q-values keeps chance out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patron.models.segmentation.relate import incidence_from_pairs, lift_scan

PROFILE_COLUMNS: tuple[str, ...] = (
    "segment",
    "name",
    "size",
    "share",
    "revenue",
    "revenue_share",
    "mean_recency_days",
    "mean_frequency",
    "mean_monetary",
    "mean_strength",
    "mean_clv",
    "churn_probability",
    "behaviours",
    "description",
)
NOISE_NAME = "Unassigned (noise)"


def segment_profiles(
    assignments: pd.DataFrame,
    rfm: pd.DataFrame,
    *,
    names: dict[int, str] | None = None,
    clv: pd.DataFrame | None = None,
    churn: pd.DataFrame | None = None,
    behaviour: pd.DataFrame | None = None,
    top: int = 3,
    min_member_share: float = 0.05,
) -> pd.DataFrame:
    """One row per segment with :data:`PROFILE_COLUMNS` (``mean_clv``/``churn_probability`` NaN when absent).

    ``assignments``: customer_id, segment (int; -1 = noise)[, strength]; ``rfm``: the rfm table; ``clv``:
    customer_id, clv; ``churn``: customer_id, probability; ``behaviour``: long customer_id, category.
    ``names`` overrides the generated names (RFM segments are named by their rules).
    """
    a = assignments.assign(customer_id=assignments["customer_id"].astype(str))
    r = rfm.reset_index() if "customer_id" not in rfm.columns else rfm
    r = r.assign(customer_id=r["customer_id"].astype(str)).set_index("customer_id")
    base = r.reindex(a["customer_id"])
    data = pd.DataFrame(
        {
            "segment": a["segment"].to_numpy(dtype=np.int64),
            "recency": base["recency_days"].to_numpy(dtype=float),
            "frequency": base["frequency"].to_numpy(dtype=float),
            "monetary": base["monetary"].to_numpy(dtype=float),
            "strength": a["strength"].to_numpy(dtype=float) if "strength" in a else np.ones(len(a)),
        },
        index=pd.Index(a["customer_id"].to_numpy(), name="customer_id"),
    )
    data["clv"] = _lookup(clv, "clv", data.index)
    data["churn"] = _lookup(churn, "probability", data.index)
    n = len(data)
    total_revenue = float(data["monetary"].clip(lower=0).sum())
    overall = data[["recency", "frequency", "monetary", "clv", "churn"]].mean()
    lifts = _defining_behaviours(data, behaviour, top, min_member_share)
    rows = []
    for seg, group in data.groupby("segment", sort=True):
        seg = int(seg)
        means = group[["recency", "frequency", "monetary", "clv", "churn"]].mean()
        revenue = float(group["monetary"].clip(lower=0).sum())
        name = (names or {}).get(seg) or generated_name(seg, means, overall)
        row = {
            "segment": seg,
            "name": name,
            "size": len(group),
            "share": len(group) / n if n else 0.0,
            "revenue": revenue,
            "revenue_share": revenue / total_revenue if total_revenue else 0.0,
            "mean_recency_days": float(means["recency"]),
            "mean_frequency": float(means["frequency"]),
            "mean_monetary": float(means["monetary"]),
            "mean_strength": float(group["strength"].mean()),
            "mean_clv": float(means["clv"]),
            "churn_probability": float(means["churn"]),
            "behaviours": "; ".join(
                f"{item} ({lift:.1f}x, {share:.0%} vs {base_share:.0%})"
                for item, lift, share, base_share in lifts.get(seg, [])
            ),
        }
        row["description"] = describe(row, overall, lifts.get(seg, []))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))


def _lookup(frame: pd.DataFrame | None, column: str, index: pd.Index) -> np.ndarray:
    if frame is None or column not in frame.columns:
        return np.full(len(index), np.nan)
    values = frame.assign(customer_id=frame["customer_id"].astype(str)).drop_duplicates("customer_id")
    return values.set_index("customer_id")[column].reindex(index).to_numpy(dtype=float)


def _defining_behaviours(
    data: pd.DataFrame, behaviour: pd.DataFrame | None, top: int, min_member_share: float
) -> dict[int, list[tuple[str, float, float, float]]]:
    """Per segment: up to ``top`` categories members buy significantly more often (lift > 1, q < 0.05)."""
    if behaviour is None or not len(behaviour) or top <= 0:
        return {}
    b = behaviour[behaviour["customer_id"].astype(str).isin(set(data.index))]
    if not len(b):
        return {}
    X, customers, items = incidence_from_pairs(
        b["customer_id"].astype(str).to_numpy(), b["category"].astype(str).to_numpy(), universe=data.index
    )
    labels = data["segment"].reindex(customers).to_numpy()
    out: dict[int, list[tuple[str, float, float, float]]] = {}
    for seg in np.unique(labels):
        member = labels == seg
        n_members = int(member.sum())
        if member.all() or n_members == 0:
            continue
        scan = lift_scan(X, member, list(items), max_order=1, min_support=5, alternative="greater")
        keep = (scan["q_value"] < 0.05) & (scan["lift"] > 1) & (scan["hits"] >= min_member_share * n_members)
        picked = scan[keep].head(top)
        out[int(seg)] = [
            (str(p), float(lift), float(h) / n_members, float(s))
            for p, lift, h, s in zip(
                picked["pattern"], picked["lift"], picked["hits"], picked["support_share"], strict=True
            )
        ]
    return out


def generated_name(segment: int, means: pd.Series, overall: pd.Series) -> str:
    """A short name from how the segment's means compare with everyone's, e.g. ``"2: recent, frequent, high spend"``."""
    if segment < 0:
        return NOISE_NAME
    words = []
    rec = _ratio(means["recency"], overall["recency"])
    if rec is not None:
        words.append("recent" if rec < 0.6 else "lapsing" if rec > 1.5 else "")
    freq = _ratio(means["frequency"], overall["frequency"])
    if freq is not None:
        words.append("frequent" if freq > 1.5 else "occasional" if freq < 0.7 else "")
    mon = _ratio(means["monetary"], overall["monetary"])
    if mon is not None:
        words.append("high spend" if mon > 1.5 else "low spend" if mon < 0.6 else "")
    words = [w for w in words if w]
    return f"{segment}: " + (", ".join(words) if words else "average")


def _ratio(value: float, reference: float) -> float | None:
    if not np.isfinite(value) or not np.isfinite(reference) or reference == 0:
        return None
    return float(value / reference)


def describe(row: dict, overall: pd.Series, lifts: list[tuple[str, float, float, float]]) -> str:
    """Plain sentences: size, value, how recency/frequency/spend (and CLV, churn) compare, defining behaviours."""
    text = (
        f"{row['name']}: {row['size']:,} customers ({row['share']:.1%} of all) bringing "
        f"{row['revenue_share']:.1%} of revenue."
    )
    text += (
        f" On average they last bought {row['mean_recency_days']:.0f} days ago (everyone: "
        f"{overall['recency']:.0f}), placed {row['mean_frequency']:.1f} orders ({overall['frequency']:.1f}) and "
        f"spent {row['mean_monetary']:,.0f} ({overall['monetary']:,.0f})."
    )
    if np.isfinite(row["mean_clv"]):
        text += f" Mean CLV {row['mean_clv']:,.0f} ({overall['clv']:,.0f})."
    if np.isfinite(row["churn_probability"]):
        text += f" Churn probability {row['churn_probability']:.0%} ({overall['churn']:.0%})."
    if lifts:
        text += " They are " + "; ".join(
            f"{lift:.1f}x as likely as the average customer to buy {item} ({share:.0%} vs {base:.0%})"
            for item, lift, share, base in lifts
        )
        text += "."
    return text

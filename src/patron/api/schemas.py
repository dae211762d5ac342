"""Request and response bodies (``XBase`` shared fields, ``XCreate`` what a client sends, ``XPublic`` what it
gets back). Request bodies forbid unknown fields, so a typo is a clear 422, not a silently ignored value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BATCH = 10_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors -----------------------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no stored scores for customer 'C042'"])


class ErrorPublic(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Missing or invalid API key"},
    403: {"model": ErrorPublic, "description": "The key lacks the scope this endpoint needs"},
    422: {"model": ErrorPublic, "description": "Invalid input (the message names the field)"},
}


# --- health -----------------------------------------------------------------------------------------------------
class HealthPublic(BaseModel):
    status: str = Field(examples=["ok"])
    version: str = Field(examples=["0.1.0"])


class ReadinessPublic(BaseModel):
    status: str = Field(examples=["ready"])
    store: str = Field(examples=["duckdb"])
    runs: int = Field(examples=[12])


# --- runs and models --------------------------------------------------------------------------------------------
class RunPublic(BaseModel):
    run_id: str = Field(examples=["20260101T120000-1a2b3c4d"])
    kind: str = Field(examples=["clv_fit"])
    status: str = Field(examples=["succeeded"])
    started_at: datetime | None = None
    finished_at: datetime | None = None
    params: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    error: str | None = None
    package_version: str | None = None


class ModelPublic(BaseModel):
    name: str = Field(examples=["purchase"])
    run_id: str
    kind: str = Field(examples=["clv_fit"])
    finished_at: datetime | None = None


# --- segments ---------------------------------------------------------------------------------------------------
class SegmentPublic(BaseModel):
    name: str = Field(examples=["big spenders"])
    kind: str = Field(examples=["where"])
    definition: dict[str, Any] = Field(
        examples=[{"where": {"revenue": {"$gte": 100}}, "from": "order_lines"}]
    )
    created_at: datetime | None = None


class MembersPublic(BaseModel):
    segment: str
    total: int
    offset: int
    members: list[dict[str, Any]] = Field(examples=[[{"customer_id": "12347"}]])


# --- queries ----------------------------------------------------------------------------------------------------
class RelateCreate(Strict):
    query: dict[str, Any] = Field(
        description="A relate query (see docs/relate.md).",
        examples=[
            {
                "relate": ["category"],
                "target": {"$top": {"revenue": 0.2}},
                "having": {"q_value": {"$lt": 0.05}},
                "limit": 5,
            }
        ],
    )


class RelatePublic(BaseModel):
    target: str
    n_customers: int
    base_rate: float
    patterns: list[dict[str, Any]]


class CustomerQueryCreate(Strict):
    where: dict[str, Any] = Field(
        description="A customer-level condition (the query language of docs/relate.md).",
        examples=[{"revenue": {"$gte": 100}, "orders": {"$gte": 2}}],
    )
    from_: str = Field("order_lines", alias="from", max_length=100, examples=["order_lines"])
    limit: int = Field(1000, ge=1, le=100_000)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CustomerQueryPublic(BaseModel):
    total: int
    customer_ids: list[str]


# --- scores -----------------------------------------------------------------------------------------------------
class CustomerScoresPublic(BaseModel):
    customer_id: str
    clv: list[dict[str, Any]] = Field(default_factory=list)
    churn: list[dict[str, Any]] = Field(default_factory=list)
    reasons: list[dict[str, Any]] = Field(default_factory=list)
    segment: list[dict[str, Any]] = Field(default_factory=list)


class CustomerBase(Strict):
    """One customer's BTYD summary, in the time unit the models were fitted in."""

    customer_id: str | None = Field(None, max_length=200, examples=["C001"])
    frequency: float = Field(ge=0, le=1e6, description="Repeat purchase periods", examples=[4])
    recency: float = Field(ge=0, le=1e6, description="Age at the last repeat purchase", examples=[30.4])
    T: float = Field(ge=0, le=1e6, description="Age at the end of observation", examples=[38.9])
    monetary_value: float | None = Field(
        None, ge=0, le=1e9, description="Mean value of repeat purchases", examples=[42.5]
    )
    features: dict[str, float | None] | None = Field(
        None,
        description="Churn model features (optional; adds the churn probability, model version and reasons)",
        examples=[{"orders": 5, "days_since_last": 12.0}],
    )

    segment_features: dict[str, float] | None = Field(
        None,
        description=(
            "Inputs of the stored segmenter that the summary cannot give (e.g. `share <category>`), or overrides "
            "of the derived ones (recency_days, tenure_days, log_frequency, log_monetary, ...). Without them the "
            "segment comes from the summary and the CLV scores alone, or is null with `segment_missing`."
        ),
        examples=[{"share DOG FOODS": 0.4}],
    )

    @model_validator(mode="after")
    def _consistent(self) -> CustomerBase:
        if self.recency > self.T:
            raise ValueError(f"recency ({self.recency}) must not exceed T ({self.T})")
        if self.frequency == 0 and self.recency != 0:
            raise ValueError("a customer with frequency 0 has recency 0")
        if self.frequency > 0 and self.monetary_value is None:
            raise ValueError("a customer with repeat purchases (frequency > 0) needs monetary_value")
        if self.features is not None and len(self.features) > 1000:
            raise ValueError("at most 1000 features")
        if self.segment_features is not None and len(self.segment_features) > 1000:
            raise ValueError("at most 1000 segment_features")
        return self


class ScoreCreate(Strict):
    customers: list[CustomerBase] = Field(min_length=1, max_length=MAX_BATCH)
    horizon: int = Field(
        52, ge=1, le=1000, description="Periods ahead (the time unit the models were fitted in)"
    )
    discount_rate: float = Field(0.0, ge=0, lt=1, description="Per period")
    margin: float = Field(1.0, gt=0, le=1)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customers": [
                        {
                            "customer_id": "C001",
                            "frequency": 4,
                            "recency": 30.4,
                            "T": 38.9,
                            "monetary_value": 42.5,
                        }
                    ],
                    "horizon": 52,
                }
            ]
        },
    )


class ScorePublic(BaseModel):
    clv_run_id: str
    churn_run_id: str | None = None
    segment_run_id: str | None = None
    horizon: int
    scores: list[dict[str, Any]]

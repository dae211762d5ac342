"""Deliver records to a webhook: HTTP POST of JSON batches, with retries, backoff and a delivery record.

Each batch is ``{"profiles": [{"email", "customer_id", "properties"}, ...]}`` (see
:func:`patron.services.exports.campaign_records`), sent with an ``Idempotency-Key`` header
(``<delivery_id>-<batch>``) so a receiver can drop a batch it already applied when a retry follows a lost answer.

Retries: connection errors, timeouts, 429 and 5xx are retried up to ``max_attempts`` times with exponential
backoff (``backoff * 2**(attempt-1)`` seconds, capped at ``max_backoff``; a 429/503 ``Retry-After`` in seconds is
honoured within the cap). Other 4xx answers are the receiver refusing the data: not retried, recorded as failed.

Every batch is recorded in ``webhook_deliveries`` (delivery_id, batch, url, n_records, first_customer_id,
last_customer_id, payload_sha256, status ``delivered``/``failed``, status_code, attempts, error, created_at,
delivered_at), so what reached the tool, and what did not, is known afterwards.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd

from patron.errors import ConfigError
from patron.storage.base import Repository

DELIVERIES_TABLE = "webhook_deliveries"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class DeliveryReport:
    """What one :func:`deliver` call did."""

    delivery_id: str
    url: str
    batches: int = 0
    delivered: int = 0
    failed: int = 0
    records_delivered: int = 0
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"webhook URL must be http(s)://host/..., got {url!r}")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _post_with_retries(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_attempts: int,
    backoff: float,
    max_backoff: float,
    sleep: Callable[[float], None],
) -> tuple[bool, int | None, int, str | None]:
    """POST until success, a non-retryable answer or the last attempt: (ok, status_code, attempts, error)."""
    status: int | None = None
    error: str | None = None
    for attempt in range(1, max_attempts + 1):
        wait = min(max_backoff, backoff * 2 ** (attempt - 1))
        try:
            response = client.post(url, content=body, headers=dict(headers))
        except httpx.TransportError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            if 200 <= status < 300:
                return True, status, attempt, None
            error = f"HTTP {status}: {response.text[:200]}"
            if status not in RETRY_STATUS:
                return False, status, attempt, error
            hinted = _retry_after(response)
            if hinted is not None:
                wait = min(max_backoff, max(0.0, hinted))
        if attempt < max_attempts:
            sleep(wait)
    return False, status, max_attempts, error


def deliver(
    repo: Repository,
    url: str,
    records: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = 500,
    max_attempts: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """POST ``records`` to ``url`` in batches of ``batch_size``; record each batch; return a report.

    A failed batch does not stop the following ones (each is recorded); check ``report.ok``.
    """
    _check_url(url)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    if max_attempts < 1:
        raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
    ensure_table(repo)
    report = DeliveryReport(uuid.uuid4().hex[:16], url)
    with httpx.Client(timeout=timeout) as client:
        for index, start in enumerate(range(0, len(records), batch_size)):
            batch = list(records[start : start + batch_size])
            body = json.dumps({"profiles": batch}, default=str, separators=(",", ":")).encode()
            created = _now()
            ok, status, attempts, error = _post_with_retries(
                client,
                url,
                body,
                {
                    "content-type": "application/json",
                    "idempotency-key": f"{report.delivery_id}-{index}",
                    **(headers or {}),
                },
                max_attempts=max_attempts,
                backoff=backoff,
                max_backoff=max_backoff,
                sleep=sleep,
            )
            repo.execute(
                f"INSERT INTO {DELIVERIES_TABLE} (delivery_id, batch, url, n_records, first_customer_id, "
                "last_customer_id, payload_sha256, status, status_code, attempts, error, created_at, delivered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    report.delivery_id,
                    index,
                    url,
                    len(batch),
                    str(batch[0].get("customer_id")) if batch else None,
                    str(batch[-1].get("customer_id")) if batch else None,
                    hashlib.sha256(body).hexdigest(),
                    "delivered" if ok else "failed",
                    status,
                    attempts,
                    error,
                    created,
                    _now() if ok else None,
                ],
            )
            report.batches += 1
            report.attempts += attempts
            if ok:
                report.delivered += 1
                report.records_delivered += len(batch)
            else:
                report.failed += 1
                report.errors.append(f"batch {index}: {error}")
    return report


def ensure_table(repo: Repository) -> None:
    if not repo.has_table(DELIVERIES_TABLE):
        repo.execute(
            f"CREATE TABLE IF NOT EXISTS {DELIVERIES_TABLE} (delivery_id VARCHAR NOT NULL, batch INTEGER NOT NULL, "
            "url VARCHAR NOT NULL, n_records INTEGER NOT NULL, first_customer_id VARCHAR, last_customer_id VARCHAR, "
            "payload_sha256 VARCHAR NOT NULL, status VARCHAR NOT NULL, status_code INTEGER, attempts INTEGER NOT NULL, "
            "error VARCHAR, created_at TIMESTAMP NOT NULL, delivered_at TIMESTAMP, PRIMARY KEY (delivery_id, batch))"
        )


def deliveries(repo: Repository, delivery_id: str | None = None) -> pd.DataFrame:
    """The delivery records (of one delivery if given), in order."""
    ensure_table(repo)
    where, params = ("WHERE delivery_id = ?", [delivery_id]) if delivery_id else ("", [])
    return repo.query(
        f"SELECT * FROM {DELIVERIES_TABLE} {where} ORDER BY created_at, delivery_id, batch", params
    )

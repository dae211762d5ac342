"""Exports: score files, campaign records, and webhook delivery to a real local HTTP server (both stores)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from patron.errors import ConfigError
from patron.services.exports import campaign_records, export_scores
from patron.services.segments import define_segment, members
from patron.services.webhooks import deliver, deliveries
from patron.storage import open_repository
from tests.api.conftest import write_scores
from tests.query.synthetic import fill_store
from tests.storage.stores import BACKENDS, store_url


class Receiver(BaseHTTPRequestHandler):
    """Records every POST; ``/flaky`` answers 503 to the first ``fail_first`` requests, ``/reject`` always 400."""

    received: list[tuple[str, dict, dict]]
    fail_first: int = 2
    calls: dict[str, int]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        server = self.server
        server.calls[self.path] = server.calls.get(self.path, 0) + 1
        if self.path == "/reject":
            self._answer(400, b'{"detail": "email is required"}')
        elif self.path == "/flaky" and server.calls[self.path] <= server.fail_first:
            self._answer(503, b"busy", {"Retry-After": "0"})
        else:
            server.received.append((self.path, dict(self.headers), body))
            self._answer(200, b'{"ok": true}')

    def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.calls, server.fail_first = [], {}, 2
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=BACKENDS)
def repo(request, tmp_path):
    with store_url(request.param, tmp_path) as url, open_repository(url) as r:
        fill_store(r, n_customers=80, seed=4)
        r.replace_tables(
            {
                "customers": pd.DataFrame(
                    {
                        "customer_id": [f"C{i:04d}" for i in range(80)],
                        "email": [f"c{i}@example.com" for i in range(80)],
                    }
                )
            }
        )
        write_scores(r, 100.0)
        define_segment(r, "big", {"where": {"$top": {"revenue": 0.25}}})
        yield r


def test_export_scores_files(repo, tmp_path) -> None:
    csv = pd.read_csv(export_scores(repo, tmp_path / "clv.csv"))
    parquet = pd.read_parquet(export_scores(repo, tmp_path / "churn.parquet", table="churn_scores"))
    assert csv["clv"].tolist() == [100.0 + i for i in range(10)]
    assert len(parquet) == 10 and parquet["probability"].eq(0.1).all()
    with pytest.raises(ConfigError, match="csv or parquet"):
        export_scores(repo, tmp_path / "x.xlsx")


def test_campaign_records_shape(repo) -> None:
    records = campaign_records(repo)
    assert len(records) == 10
    first = records[0]
    assert first == {
        "email": "c0@example.com",
        "customer_id": "C0000",
        "properties": {
            "patron_clv": 100.0,
            "patron_probability_alive": 0.9,
            "patron_expected_purchases": 2.0,
            "patron_churn_probability": 0.1,
        },
    }
    seg = campaign_records(repo, "big")
    assert [r["customer_id"] for r in seg] == members(repo, "big")["customer_id"].tolist()
    assert all(r["properties"]["patron_segment_name"] == "big" for r in seg)


def test_webhook_batches_arrive_in_order(repo, receiver) -> None:
    server, base = receiver
    records = campaign_records(repo, "big")
    report = deliver(
        repo, f"{base}/hook", records, batch_size=7, headers={"Authorization": "Bearer tool-key"}
    )
    assert report.ok and report.batches == 3 and report.records_delivered == len(records) == 20
    got = [p for _, _, body in server.received for p in body["profiles"]]
    assert got == records
    _, headers, _ = server.received[0]
    assert headers["Authorization"] == "Bearer tool-key"
    assert headers["idempotency-key"] == f"{report.delivery_id}-0"
    log = deliveries(repo, report.delivery_id)
    assert log["status"].tolist() == ["delivered"] * 3
    assert log["n_records"].tolist() == [7, 7, 6] and log["attempts"].tolist() == [1, 1, 1]


def test_failing_then_succeeding_endpoint_is_retried(repo, receiver) -> None:
    server, base = receiver
    waits: list[float] = []
    records = campaign_records(repo)
    report = deliver(repo, f"{base}/flaky", records, batch_size=100, backoff=0.01, sleep=waits.append)
    assert report.ok and report.attempts == 3
    assert server.calls["/flaky"] == 3 and len(server.received) == 1
    assert waits == [0.0, 0.0]  # Retry-After: 0 honoured
    (row,) = deliveries(repo, report.delivery_id).to_dict("records")
    assert row["status"] == "delivered" and row["attempts"] == 3 and row["status_code"] == 200


def test_refusal_and_unreachable_are_recorded_as_failed(repo, receiver) -> None:
    _, base = receiver
    records = campaign_records(repo)
    report = deliver(repo, f"{base}/reject", records, batch_size=5, sleep=lambda s: None)
    assert not report.ok and report.failed == 2 and report.attempts == 2  # 400 is not retried
    assert "email is required" in report.errors[0]
    waits: list[float] = []
    down = deliver(repo, "http://127.0.0.1:9/", records, max_attempts=3, backoff=0.5, sleep=waits.append)
    assert not down.ok and waits == [0.5, 1.0]
    log = deliveries(repo, down.delivery_id)
    assert log["status"].tolist() == ["failed"] and log["status_code"].isna().all()
    assert "ConnectError" in log["error"].iloc[0]
    with pytest.raises(ConfigError, match="http"):
        deliver(repo, "file:///etc/passwd", records)

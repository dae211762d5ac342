"""``patron export segment NAME --webhook URL`` and ``patron export deliveries`` through the real CLI, against a
real local HTTP server, on both stores."""

from __future__ import annotations

from typer.testing import CliRunner

from patron.cli.main import app
from patron.services.exports import campaign_records
from patron.services.webhooks import deliveries
from tests.api.test_exports import receiver, repo  # noqa: F401  (fixtures)

runner = CliRunner()


def test_segment_to_webhook_in_batches_with_a_header(repo, receiver) -> None:  # noqa: F811
    server, base = receiver
    result = runner.invoke(
        app,
        [
            "export",
            "segment",
            "big",
            "--webhook",
            f"{base}/hook",
            "--batch-size",
            "8",
            "-H",
            "Authorization: Bearer tool-key",
            "--store",
            repo.url,
        ],
    )
    assert result.exit_code == 0, result.output
    records = campaign_records(repo, "big")
    assert len(records) == 20
    assert [p for _, _, body in server.received for p in body["profiles"]] == records
    assert all(h["Authorization"] == "Bearer tool-key" for _, h, _ in server.received)
    log = deliveries(repo)
    assert log["n_records"].tolist() == [8, 8, 4] and (log["status"] == "delivered").all()
    delivery_id = log["delivery_id"].iloc[0]
    assert f"delivery {delivery_id}: 20 of 20 profiles" in result.output
    assert "Bearer" not in log.to_string()  # headers (the tool's key) are never stored

    listed = runner.invoke(app, ["export", "deliveries", "--delivery", delivery_id, "--store", repo.url])
    assert listed.exit_code == 0, listed.output
    assert "3 batches shown: 3 delivered, 0 failed" in listed.output
    assert delivery_id in listed.output


def test_retries_then_failures_are_reported_with_exit_code_1(repo, receiver) -> None:  # noqa: F811
    _, base = receiver
    flaky = runner.invoke(
        app, ["export", "segment", "big", "--webhook", f"{base}/flaky", "--store", repo.url]
    )
    assert flaky.exit_code == 0, flaky.output  # two 503s with Retry-After: 0, then accepted
    (row,) = deliveries(repo).to_dict("records")
    assert row["attempts"] == 3 and row["status"] == "delivered"

    refused = runner.invoke(
        app, ["export", "segment", "big", "--webhook", f"{base}/reject", "--store", repo.url]
    )
    assert refused.exit_code == 1
    assert "email is required" in refused.output and "patron export deliveries --delivery" in refused.output
    listed = runner.invoke(app, ["export", "deliveries", "--store", repo.url])
    assert "2 batches shown: 1 delivered, 1 failed" in listed.output


def test_bad_options_are_clear_errors(repo, receiver) -> None:  # noqa: F811
    _, base = receiver
    for args, message in (
        (["--webhook", f"{base}/hook", "-H", "no colon"], "--header must read"),
        (["--webhook", f"{base}/hook", "--audience"], "--webhook sends the members"),
        (["--webhook", "ftp://example.com/x"], "webhook URL must be http"),
        (["--webhook", f"{base}/hook", "--batch-size", "0"], "batch_size must be at least 1"),
    ):
        result = runner.invoke(app, ["export", "segment", "big", *args, "--store", repo.url])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
    missing = runner.invoke(app, ["export", "deliveries", "--delivery", "nope", "--store", repo.url])
    assert missing.exit_code == 2 and "no delivery 'nope'" in missing.output

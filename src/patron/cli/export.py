"""``patron export ...``: define segments and send them anywhere (member lists, audiences, weekly covariates)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from patron.cli.common import StoreOption, console, store, user_errors
from patron.config import get_settings
from patron.errors import ConfigError, InputError

export_app = typer.Typer(
    name="export",
    help="Define segments and export them (members, audiences, weekly covariates, webhooks).",
    no_args_is_help=True,
)


def _json_option(text: str, option: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{option} is not valid JSON ({exc.msg} at character {exc.pos}): {text!r}") from None


@export_app.command("define")
def define(
    name: str = typer.Argument(..., help="Segment name."),
    where: str = typer.Option(
        None, "--where", help='Customer-level JSON condition, e.g. \'{"revenue": {"$gte": 100}}\'.'
    ),
    source: str = typer.Option("order_lines", "--from", help="Source of the customers for --where."),
    model_label: str = typer.Option(None, "--model-label", help="A label of the latest segment run."),
    method: str = typer.Option(None, "--method", help="With --model-label: only this segmentation method."),
    relate_query: Annotated[
        Path | None, typer.Option("--relate", help="With --pattern: a relate query JSON file.")
    ] = None,
    pattern: str = typer.Option(
        None, "--pattern", help='With --relate: e.g. "category=DOG FOODS AND age=35-44".'
    ),
    store_url: str = StoreOption,
) -> None:
    """Store a named segment (exactly one of --where, --model-label, --relate + --pattern)."""
    from patron.cli.relate import read_json_file
    from patron.services.segments import define_segment, members

    with user_errors(), store(store_url) as repo:
        given = [
            o
            for o, v in (("--where", where), ("--model-label", model_label), ("--relate", relate_query))
            if v
        ]
        if len(given) != 1:
            raise ConfigError(f"give exactly one of --where, --model-label, --relate (got {given or 'none'})")
        if where:
            definition: dict = {"where": _json_option(where, "--where"), "from": source}
        elif model_label:
            definition = {"model": {"label": model_label, **({"method": method} if method else {})}}
        else:
            definition = {"relate": read_json_file(relate_query, "relate query"), "pattern": pattern}
        define_segment(repo, name, definition)
        console.print(f"segment {name!r} defined: {len(members(repo, name)):,} members")


@export_app.command("list")
def list_(store_url: str = StoreOption) -> None:
    """List the defined segments with their size."""
    from patron.services.segments import list_segments, members

    with user_errors(), store(store_url) as repo:
        table = Table("name", "kind", "members", "definition")
        for seg in list_segments(repo):
            table.add_row(seg.name, seg.kind, f"{len(members(repo, seg)):,}", json.dumps(seg.definition)[:80])
        console.print(table)


@export_app.command("profile")
def profile_(name: str = typer.Argument(..., help="Segment name."), store_url: str = StoreOption) -> None:
    """Describe a segment: size, value, and what distinguishes it (lift over categories and attributes)."""
    from patron.services.segments import profile

    with user_errors(), store(store_url) as repo:
        console.print(profile(repo, name).description)


@export_app.command("segment")
def segment(
    name: str = typer.Argument(..., help="Segment name (see `patron export list`)."),
    fmt: str = typer.Option(None, "--format", "-f", help="csv or parquet (default: from --out, else csv)."),
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file [default: PATRON_OUTPUT_DIR/segment-NAME.csv]."),
    ] = None,
    audience: bool = typer.Option(
        False, "--audience", help="Export a treatment/control split instead of members."
    ),
    treatment_share: float = typer.Option(0.5, "--treatment-share", help="Share of members in treatment."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the split (same seed, same split)."),
    unstratified: bool = typer.Option(
        False, "--unstratified", help="Do not stratify the split by value band."
    ),
    covariates: bool = typer.Option(
        False, "--covariates", help="Export the weekly covariate series instead."
    ),
    webhook: str = typer.Option(
        None,
        "--webhook",
        help="POST the members as campaign profiles (email, customer_id, patron_* properties) to this URL "
        "in JSON batches, with retries; every batch is recorded (see `patron export deliveries`).",
    ),
    batch_size: int = typer.Option(500, "--batch-size", help="With --webhook: profiles per POST."),
    max_attempts: int = typer.Option(
        5, "--max-attempts", help="With --webhook: tries per batch (timeouts, 429 and 5xx are retried)."
    ),
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            help='With --webhook: an HTTP header "Name: value" (repeatable), e.g. the tool\'s API key; '
            "never stored.",
        ),
    ] = None,
    store_url: str = StoreOption,
) -> None:
    """Write a segment's members (or its audience split, or its weekly covariates) to CSV or Parquet, or send
    them to a webhook."""
    from patron.services import segments

    with user_errors(), store(store_url) as repo:
        if webhook:
            if audience or covariates or out or fmt:
                raise ConfigError(
                    "--webhook sends the members: drop --audience, --covariates, --out, --format"
                )
            _send_to_webhook(repo, name, webhook, batch_size, max_attempts, header or [])
            return
        if audience and covariates:
            raise ConfigError("choose one of --audience and --covariates")
        fmt = (fmt or (out.suffix.lstrip(".") if out and out.suffix else "csv")).lower()
        if fmt not in ("csv", "parquet"):
            raise ConfigError(f"--format must be csv or parquet, got {fmt!r}")
        what = "audience" if audience else "covariates" if covariates else "members"
        out = out or get_settings().output_dir / f"segment-{name}-{what}.{fmt}"
        if what == "members":
            path = segments.export_members(repo, name, out, format=fmt)
            n = len(segments.members(repo, name))
        else:
            frame = (
                segments.audience(
                    repo,
                    name,
                    treatment_share=treatment_share,
                    seed=seed,
                    stratify=None if unstratified else "value_band",
                )
                if audience
                else segments.weekly_covariates(repo, name)
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(out, index=False) if fmt == "csv" else frame.to_parquet(out, index=False)
            path, n = out, len(frame)
        console.print(f"wrote {n:,} rows ({what}) of segment {name!r} to {path}")


def _parse_headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t\r\n") or "\n" in content:
            raise ConfigError(f'--header must read "Name: value", got {value!r}')
        headers[name.strip()] = content.strip()
    return headers


def _send_to_webhook(
    repo, name: str, url: str, batch_size: int, max_attempts: int, header: list[str]
) -> None:
    from patron.services.exports import campaign_records
    from patron.services.webhooks import deliver

    headers = _parse_headers(header)
    records = campaign_records(repo, name)
    report = deliver(repo, url, records, batch_size=batch_size, max_attempts=max_attempts, headers=headers)
    console.print(
        f"delivery {report.delivery_id}: {report.records_delivered:,} of {len(records):,} profiles of segment "
        f"{name!r} delivered to {url} in {report.delivered} of {report.batches} batches ({report.attempts} POSTs)",
        soft_wrap=True,
    )
    for error in report.errors:
        console.print(f"[red]failed[/] {error}", soft_wrap=True, markup=True, highlight=False)
    if not report.ok:
        console.print(f"see `patron export deliveries --delivery {report.delivery_id}`")
        raise typer.Exit(1)


@export_app.command("deliveries")
def deliveries_(
    delivery: str = typer.Option(None, "--delivery", help="Only this delivery's batches."),
    last: int = typer.Option(50, "--last", help="Show the newest N batches (0: all)."),
    store_url: str = StoreOption,
) -> None:
    """List webhook deliveries batch by batch: where, how many profiles, status, attempts, errors."""
    from patron.services.webhooks import deliveries

    with user_errors(), store(store_url) as repo:
        frame = deliveries(repo, delivery)
        if delivery and frame.empty:
            raise ConfigError(f"no delivery {delivery!r} (see `patron export deliveries`)")
        if last > 0:
            frame = frame.tail(last)
        table = Table("delivery", "batch", "url", "profiles", "status", "http", "attempts", "at", "error")
        for row in frame.itertuples(index=False):
            table.add_row(
                row.delivery_id,
                str(row.batch),
                row.url,
                f"{row.n_records:,}",
                row.status,
                ""
                if row.status_code is None or row.status_code != row.status_code
                else str(int(row.status_code)),
                str(row.attempts),
                f"{row.created_at:%Y-%m-%d %H:%M:%S}",
                (row.error or "")[:60] if isinstance(row.error, str) else "",
            )
        console.print(table)
        ok = int((frame["status"] == "delivered").sum())
        console.print(f"{len(frame):,} batches shown: {ok:,} delivered, {len(frame) - ok:,} failed")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")

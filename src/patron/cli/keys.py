"""``patron keys ...``: create, list and revoke API keys (only their salted hashes are stored)."""

from __future__ import annotations

import typer
from rich.table import Table

from patron.cli.common import StoreOption, console, store, user_errors

keys_app = typer.Typer(
    name="keys", help="Create, list and revoke API keys for `patron serve`.", no_args_is_help=True
)


@keys_app.command("create")
def create(
    scope: list[str] = typer.Option(
        ..., "--scope", help="read, score or admin (repeat for several: --scope read --scope score)."
    ),
    name: str = typer.Option(None, "--name", help="A label to recognise the key by (who or what uses it)."),
    store_url: str = StoreOption,
) -> None:
    """Create a key and print it once (it cannot be shown again: only its hash is stored)."""
    from patron.services.keys import create_key

    with user_errors(), store(store_url) as repo:
        key, token = create_key(repo, scope, name)
    console.print(
        f"created key {key.key_id} with scopes {', '.join(key.scopes)}; store it now, it is shown once:"
    )
    typer.echo(token)


@keys_app.command("list")
def list_(store_url: str = StoreOption) -> None:
    """List keys (id, name, scopes, created, revoked); secrets are never shown."""
    from patron.services.keys import list_keys

    with user_errors(), store(store_url) as repo:
        keys = list_keys(repo)
    table = Table("key id", "name", "scopes", "created (UTC)", "revoked (UTC)")
    for k in keys:
        table.add_row(
            k.key_id,
            k.name or "",
            ", ".join(k.scopes),
            f"{k.created_at:%Y-%m-%d %H:%M:%S}" if k.created_at else "",
            f"{k.revoked_at:%Y-%m-%d %H:%M:%S}" if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key id (see `patron keys list`)."),
    store_url: str = StoreOption,
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from patron.services.keys import revoke_key

    with user_errors(), store(store_url) as repo:
        key = revoke_key(repo, key_id)
    console.print(f"revoked key {key.key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")

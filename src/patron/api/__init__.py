"""The HTTP API: a FastAPI app over the services (routes -> services -> storage). Build it with
:func:`create_app`; serve it with ``patron serve``."""

from __future__ import annotations

from patron.api.app import create_app

__all__ = ["create_app"]

"""Dependencies: a repository per request (from a small pool) and the API-key check with scopes.

The key check is an ``async`` dependency that answers from :class:`patron.services.keys.VerifiedKeyCache` when it
can (no thread hop, no connection, no query: most of a scoring request's cost before this cache) and goes to the
store, in the thread pool, only for a key it has not verified in the last ``ttl`` seconds (2 s by default, so a
revoked key stops working within 2 s; ``PATRON_KEY_CACHE_SECONDS``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from patron.errors import PatronError
from patron.services.keys import ApiKey, VerifiedKeyCache
from patron.storage import Repository, open_repository


class RepositoryPool:
    """Open repositories shared by request threads: one request uses one repository at a time.

    A DuckDB file opened several times in one process shares one database, and a PostgreSQL repository is one
    connection, so each request gets its own connection and transactions never interleave.
    """

    def __init__(self, url: str, size: int = 8, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._idle: queue.LifoQueue[Repository] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def acquire(self) -> Repository:
        self._slots.acquire()
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            try:
                return open_repository(self.url, read_only=self.read_only)
            except BaseException:
                self._slots.release()
                raise

    def release(self, repo: Repository, *, broken: bool = False) -> None:
        if broken:
            repo.close()
        else:
            self._idle.put(repo)
        self._slots.release()

    @contextmanager
    def borrow(self) -> Iterator[Repository]:
        """A repository for the duration of a ``with`` block (dropped, not reused, after an unexpected error)."""
        repo = self.acquire()
        broken = False
        try:
            yield repo
        except PatronError:
            raise
        except BaseException:
            broken = True
            raise
        finally:
            self.release(repo, broken=broken)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def get_repo(request: Request) -> Iterator[Repository]:
    pool: RepositoryPool = request.app.state.pool
    repo = pool.acquire()
    broken = False
    try:
        yield repo
    except (PatronError, HTTPException):
        raise  # answered as a 4xx; the repository's transactions are closed by their context managers
    except BaseException:
        broken = True  # an unexpected failure may have left the connection unusable: do not reuse it
        raise
    finally:
        pool.release(repo, broken=broken)


Repo = Annotated[Repository, Depends(get_repo)]

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`patron keys create`)")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


async def _authenticate(
    request: Request,
    header: Annotated[str | None, Security(_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> ApiKey:
    token = header or (bearer.credentials if bearer else None)
    if not token:
        raise HTTPException(
            401,
            "an API key is required: send it in the X-API-Key header or as Authorization: Bearer",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache: VerifiedKeyCache = request.app.state.keys
    key = cache.get(token)
    if key is None:
        key = await run_in_threadpool(cache.verify, request.app.state.pool.borrow, token)
    if key is None:
        raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return key


def require(scope: str):
    """A dependency granting access to keys with ``scope`` (or ``admin``)."""

    async def check(key: Annotated[ApiKey, Depends(_authenticate)]) -> ApiKey:
        if not key.allows(scope):
            raise HTTPException(
                403, f"this API key lacks the {scope!r} scope (it has: {', '.join(key.scopes)})"
            )
        return key

    return check


# --- the dashboard: browsers cannot send a header when following a link, so it also takes the key from a cookie ---
DASHBOARD_COOKIE = "patron_api_key"
DASHBOARD_LOGIN = "/dashboard/login"
_cookie = APIKeyCookie(
    name=DASHBOARD_COOKIE, auto_error=False, description="The API key, set by the login page"
)


def dashboard_guard(
    request: Request,
    repo: Repo,
    header: Annotated[str | None, Security(_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    cookie: Annotated[str | None, Security(_cookie)] = None,
) -> ApiKey:
    """A read key from the header, a bearer token or the login cookie; else a redirect to the login page.

    Only the dashboard's read-only GET pages accept the cookie: the JSON API never does, so a page on another
    site cannot make a signed-in browser call it (no CSRF surface), and the cookie is SameSite=Strict anyway.
    """
    token = header or (bearer.credentials if bearer else None) or cookie
    key = request.app.state.keys.verify(repo, token) if token else None
    if key is None or not key.allows("read"):
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        raise HTTPException(
            303,
            "sign in with an API key that has the read scope",
            headers={"Location": f"{DASHBOARD_LOGIN}?next={target}"},
        )
    return key

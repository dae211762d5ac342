"""The verified-key cache: a revoked key stops working within the stated bound (2 s by default), on both stores.

Time is a fake clock handed to the cache, so the bound is checked exactly (no sleeping, no timing).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from patron.api import create_app
from patron.config import Settings
from patron.errors import ConfigError
from patron.services.keys import VerifiedKeyCache, create_key, revoke_key
from patron.storage import open_repository
from tests.storage.stores import BACKENDS, store_url


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with store_url(request.param, tmp_path) as u:
        yield u


def test_revoked_key_works_at_most_ttl_seconds_then_never(url) -> None:
    clock = Clock()
    app = create_app(Settings(store=url))
    app.state.keys = VerifiedKeyCache(2.0, clock=clock)
    with open_repository(url) as repo:
        key, token = create_key(repo, ["read"])
    with TestClient(app) as client:
        headers = {"X-API-Key": token}
        assert client.get("/runs", headers=headers).status_code == 200  # verified in the store, cached
        with open_repository(url) as repo:
            revoke_key(repo, key.key_id)
        clock.now += 1.999
        assert client.get("/runs", headers=headers).status_code == 200  # within the bound: still cached
        clock.now += 0.001
        r = client.get("/runs", headers=headers)
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
        clock.now += 100
        assert client.get("/runs", headers=headers).status_code == 401  # failures are never cached as success


def test_without_cache_revocation_is_immediate(url) -> None:
    app = create_app(Settings(store=url, key_cache_seconds=0))
    with open_repository(url) as repo:
        key, token = create_key(repo, ["read"])
    with TestClient(app) as client:
        assert client.get("/runs", headers={"X-API-Key": token}).status_code == 200
        with open_repository(url) as repo:
            revoke_key(repo, key.key_id)
        assert client.get("/runs", headers={"X-API-Key": token}).status_code == 401


def test_cache_is_keyed_by_the_whole_token(url) -> None:
    """A cached key's id with another secret is still checked against the store (and refused)."""
    clock = Clock()
    cache = VerifiedKeyCache(2.0, clock=clock)
    with open_repository(url) as repo:
        key, token = create_key(repo, ["score"])
        assert cache.verify(repo, token).key_id == key.key_id
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert cache.verify(repo, forged) is None
        assert cache.get(forged) is None
        assert cache.get(token).scopes == ("score",)
        clock.now += 2.0
        assert cache.get(token) is None  # expired: the next request goes to the store


def test_cache_size_is_bounded_and_ttl_checked() -> None:
    from patron.services.keys import ApiKey

    cache = VerifiedKeyCache(5.0, max_entries=3)
    for i in range(5):
        cache.put(f"token{i}", ApiKey(f"id{i}", None, ("read",)))
    assert [cache.get(f"token{i}") is not None for i in range(5)] == [False, False, True, True, True]
    with pytest.raises(ConfigError, match=">= 0"):
        VerifiedKeyCache(-1)

"""API keys: created, listed and revoked from the CLI; only a salted hash is stored.

A key reads ``patron_<key_id>_<secret>``: ``key_id`` (12 hex digits) is public and finds the row, ``secret`` is 32
random bytes (``secrets.token_urlsafe``, 256 bits). The table ``api_keys`` keeps ``salt`` (16 random bytes, hex)
and ``hash = sha256(salt || secret)``; the secret itself is shown once, at creation, and never stored.

Why SHA-256 with a per-key salt and not a slow KDF (scrypt, bcrypt): slow KDFs exist to make guessing *low-entropy*
secrets (passwords) expensive. A 256-bit random secret cannot be guessed whatever the hash speed, so a slow KDF
would only add ~50 ms of CPU to every request (and make the API easy to overload) without making a stolen table any
easier to protect. The salt still means equal secrets never hash alike and no precomputed table applies. This is the
scheme GitHub and Stripe-style API tokens use. Comparison is constant-time (``hmac.compare_digest``).

Scopes: ``read`` (runs, models, segments, scores, queries), ``score`` (POST /score) and ``admin`` (everything).

The API checks a key against the store once and then remembers the answer for a short while
(:class:`VerifiedKeyCache`, 2 s by default): a request with a known key costs no query. Revoking a key therefore
takes effect within that time in a running server, not instantly; the cache holds only keys that verified, keyed
by a SHA-256 of the token (never the token), so an unknown, wrong or revoked key always reaches the store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from patron.errors import ConfigError, InputError, NotFoundError
from patron.storage.base import Repository

KEYS_TABLE = "api_keys"
SCOPES: tuple[str, ...] = ("read", "score", "admin")
PREFIX = "patron"
_TOKEN = re.compile(r"^patron_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (key_id VARCHAR PRIMARY KEY, name VARCHAR, scopes VARCHAR NOT NULL, "
    "salt VARCHAR NOT NULL, hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)"
)


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the secret)."""

    key_id: str
    name: str | None
    scopes: tuple[str, ...]
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        """Whether the key grants ``scope`` (``admin`` grants all)."""
        return scope in self.scopes or "admin" in self.scopes


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def ensure_table(repo: Repository) -> None:
    """Create ``api_keys`` if the store lacks it."""
    if not repo.has_table(KEYS_TABLE):
        repo.execute(_DDL)


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validated, de-duplicated scopes in canonical order."""
    if not scopes:
        raise ConfigError(f"give at least one scope (one of {', '.join(SCOPES)})")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ConfigError(f"unknown scope(s) {unknown}; valid scopes: {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in scopes)


def create_key(
    repo: Repository, scopes: list[str] | tuple[str, ...], name: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key; return it and the full token (shown once: only its hash is stored)."""
    scopes = check_scopes(scopes)
    if name is not None and len(name) > 200:
        raise InputError("a key name must be at most 200 characters")
    ensure_table(repo)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    created = _now()
    repo.execute(
        f"INSERT INTO {KEYS_TABLE} (key_id, name, scopes, salt, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [key_id, name, ",".join(scopes), salt, _hash(salt, secret), created],
    )
    return ApiKey(key_id, name, scopes, created), f"{PREFIX}_{key_id}_{secret}"


def revoke_key(repo: Repository, key_id: str) -> ApiKey:
    """Revoke a key by id (it stops working at once); revoking twice is an error naming the first time."""
    key = get_key(repo, key_id)
    if key.revoked_at is not None:
        raise ConfigError(f"key {key_id} was already revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    when = _now()
    repo.execute(f"UPDATE {KEYS_TABLE} SET revoked_at = ? WHERE key_id = ?", [when, key_id])
    return ApiKey(key.key_id, key.name, key.scopes, key.created_at, when)


def _key(row: pd.Series) -> ApiKey:
    revoked = row["revoked_at"]
    return ApiKey(
        row["key_id"],
        None if pd.isna(row["name"]) else row["name"],
        tuple(str(row["scopes"]).split(",")),
        pd.Timestamp(row["created_at"]).to_pydatetime(),
        None if pd.isna(revoked) else pd.Timestamp(revoked).to_pydatetime(),
    )


def get_key(repo: Repository, key_id: str) -> ApiKey:
    ensure_table(repo)
    rows = repo.query(f"SELECT * FROM {KEYS_TABLE} WHERE key_id = ?", [key_id])
    if rows.empty:
        raise NotFoundError(f"no API key with id {key_id!r} (see `patron keys list`)")
    return _key(rows.iloc[0])


def list_keys(repo: Repository) -> list[ApiKey]:
    """All keys, newest first, revoked ones included."""
    ensure_table(repo)
    rows = repo.query(f"SELECT * FROM {KEYS_TABLE} ORDER BY created_at DESC, key_id")
    return [_key(r) for _, r in rows.iterrows()]


def verify_key(repo: Repository, token: str) -> ApiKey | None:
    """The active key a token belongs to, or None (malformed, unknown, revoked or wrong secret alike)."""
    match = _TOKEN.match(token or "")
    if not match or not repo.has_table(KEYS_TABLE):
        return None
    key_id, secret = match.groups()
    rows = repo.query_rows(
        f"SELECT name, scopes, salt, hash, created_at FROM {KEYS_TABLE} WHERE key_id = ? AND revoked_at IS NULL",
        [key_id],
    )
    if not rows:
        return None
    name, scopes, salt, hashed, created = rows[0]
    if not hmac.compare_digest(_hash(str(salt), secret), str(hashed)):
        return None
    return ApiKey(key_id, name, tuple(str(scopes).split(",")), created)


class VerifiedKeyCache:
    """Keys that verified recently, so that a request with a known key costs no query (see the module docstring).

    An entry lives ``ttl`` seconds from the moment it was verified against the store, whatever its use, so a
    revoked key keeps working for at most ``ttl`` seconds. Only successes are cached: failures always go to the
    store (a key created a moment ago works at once). At most ``max_entries`` keys are kept (oldest dropped).
    """

    def __init__(
        self, ttl: float = 2.0, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl < 0:
            raise ConfigError(f"the key cache time must be >= 0 seconds, got {ttl}")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[bytes, tuple[float, ApiKey]] = {}

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> ApiKey | None:
        """The cached key for ``token`` if verified less than ``ttl`` seconds ago, else None."""
        digest = self._digest(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[digest]
                return None
            return entry[1]

    def verify(self, repo_or_factory: Repository | Callable[[], Repository], token: str) -> ApiKey | None:
        """:func:`verify_key` through the cache; ``repo_or_factory`` is used only on a miss (a factory may be a
        context manager returning a repository, so a connection is taken only when needed)."""
        cached = self.get(token)
        if cached is not None:
            return cached
        if isinstance(repo_or_factory, Repository):
            key = verify_key(repo_or_factory, token)
        else:
            with repo_or_factory() as repo:
                key = verify_key(repo, token)
        if key is not None and self.ttl > 0:
            self.put(token, key)
        return key

    def put(self, token: str, key: ApiKey) -> None:
        digest = self._digest(token)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[digest] = (self._clock() + self.ttl, key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

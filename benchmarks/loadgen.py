"""An open-loop, fixed-rate HTTP/1.1 load generator for loopback benchmarks (used by ``bench_api``).

Why hand-written: the tools made for this (wrk2's ``-R``, oha's ``-q`` with ``--latency-correction``, vegeta)
are not installable on the build machine (no crates.io or Go toolchain access; Debian ships wrk 4.1, which has
no fixed-rate mode, ``hey``, whose per-worker rate limit is closed-loop, and ``h2load``, whose ``--rate`` is
connections per second). httpx's AsyncClient, used before, spends about 1 ms of CPU per request in Python, so at
300 requests/s the generator took a third of a core from a 2-core machine and its own queueing showed up as
server latency.

What it does instead, on the standard library only:

* **Open loop.** Request ``i`` is due at ``start + i / rate`` whatever the earlier answers did. A request goes
  out on an idle keep-alive connection, or on a new one when all are busy (up to ``max_connections``; past that
  it waits for a connection, and the wait counts in its latency).
* **No coordinated omission.** Latency is measured from the *due* time, not from when the request was written,
  so a stalled server (or a stalled generator) shows in the percentiles instead of silently thinning the load.
* **Little CPU.** Requests are pre-encoded bytes written straight to an :class:`asyncio.Protocol`; a response is
  parsed only as far as its status line and ``Content-Length``. About 40-60 µs of CPU per request, i.e. 1-2 %
  of a core at 300 requests/s; the run reports the generator's own CPU time so this can be checked.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field

import numpy as np


class _Conn(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:  # chunked or close-delimited bodies are not expected from a JSON API
            self._fail(ConnectionError("response without Content-Length"))
            return
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buf) < total:
            return
        status = int(head[9:12])
        del self.buf[:total]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(status)

    def _fail(self, exc: BaseException) -> None:
        self.closed = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionError("connection closed by the server"))


@dataclass
class LoadResult:
    rate: float
    duration: float
    latencies_ms: np.ndarray  # from each request's due time; NaN where it failed or never finished
    statuses: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    elapsed: float = 0.0
    generator_cpu: float = 0.0
    connections: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    def percentile(self, q: float) -> float:
        done = self.latencies_ms[~np.isnan(self.latencies_ms)]
        return float(np.percentile(done, q)) if len(done) else float("inf")

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values()) + sum(n for s, n in self.statuses.items() if s != 200)


def request_bytes(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """One HTTP/1.1 request, encoded once and written as is."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    rate: float,
    duration: float,
    max_connections: int = 512,
    timeout: float = 10.0,
    grace: float = 15.0,
) -> LoadResult:
    """Send ``rate * duration`` requests (cycling through ``requests``) at a fixed rate; see the module docstring."""
    loop = asyncio.get_running_loop()
    n = int(rate * duration)
    result = LoadResult(rate, duration, np.full(n, np.nan))
    idle: collections.deque[_Conn] = collections.deque()
    waiting: collections.deque[asyncio.Future[_Conn]] = collections.deque()
    opened = 0

    async def connect() -> _Conn:
        nonlocal opened
        opened += 1
        _, conn = await loop.create_connection(_Conn, host, port)
        return conn

    async def get_conn() -> _Conn:
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        if opened < max_connections:
            return await connect()
        fut: asyncio.Future[_Conn] = loop.create_future()
        waiting.append(fut)
        return await fut

    def put_conn(conn: _Conn) -> None:
        if conn.closed:
            return
        while waiting:
            fut = waiting.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        idle.append(conn)

    async def one(i: int, due: float) -> None:
        conn = None
        try:
            conn = await get_conn()
            conn.waiter = loop.create_future()
            conn.transport.write(requests[i % len(requests)])  # type: ignore[union-attr]
            status = await asyncio.wait_for(conn.waiter, timeout)
        except (TimeoutError, OSError) as exc:
            result.errors[type(exc).__name__] += 1
            if conn is not None:
                conn._fail(exc)
            return
        result.latencies_ms[i] = (time.perf_counter() - due) * 1000.0
        result.statuses[status] += 1
        put_conn(conn)

    for _ in range(min(16, max_connections)):  # a few warm connections, as a real client pool would have
        idle.append(await connect())
    cpu0 = time.process_time()
    start = time.perf_counter() + 0.05
    tasks = []
    interval = 1.0 / rate
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and start + i * interval <= now:
            tasks.append(loop.create_task(one(i, start + i * interval)))
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
    _, pending = await asyncio.wait(tasks, timeout=grace) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    if pending:
        result.errors[f"unfinished {grace:g} s after the last send"] = len(pending)
    result.elapsed = time.perf_counter() - start
    result.generator_cpu = time.process_time() - cpu0
    result.connections = opened
    for conn in idle:
        if conn.transport is not None:
            conn.transport.close()
    return result

"""An open-loop, fixed-rate HTTP/1.1 load generator for loopback benchmarks (used by ``bench_api``).

Why hand-written: the tools made for this (wrk2's ``-R``, oha's ``-q`` with ``--latency-correction``, vegeta)
are not installable on the build machine (no crates.io or Go toolchain access; Debian ships wrk 4.1, which has
no fixed-rate mode, ``hey``, whose per-worker rate limit is closed-loop, and ``h2load``, whose ``--rate`` is
connections per second). httpx's AsyncClient, used before, builds every request and response in Python objects
on a task of its own: at 300 requests/s on 2 shared cores its own CPU and queueing showed up as server latency.

What it does instead, on the standard library only:

* **Open loop.** Request ``i`` is due at ``start + i / rate`` whatever the earlier answers did. A request goes
  out on an idle keep-alive connection, or on a new one when all are busy (up to ``max_connections``; past that
  it waits for a connection, and the wait counts in its latency).
* **No coordinated omission.** Latency is measured from the *due* time, not from when the request was written,
  so a stalled server (or a stalled generator) shows in the percentiles instead of silently thinning the load.
* **Little CPU.** Requests are pre-encoded bytes written straight to an :class:`asyncio.Protocol` from plain
  callbacks (no task per request), on uvloop when installed; a response is parsed only as far as its status line
  and ``Content-Length``. Each run reports the generator's own CPU time per request, so this can be checked.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from dataclasses import dataclass, field

import numpy as np

MAX_IDLE = 3.0  # seconds a keep-alive connection may sit idle before the generator stops using it


class _Conn(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight (no pipelining). Callbacks only, no tasks."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.current: tuple[int, float] | None = None  # (request index, due time)
        self.closed = False
        self.idle_since = time.perf_counter()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, i: int, due: float) -> None:
        self.current = (i, due)
        self.transport.write(self.gen.requests[i % len(self.gen.requests)])  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:  # chunked or close-delimited bodies are not expected from a JSON API
            self.fail("response without Content-Length")
            return
        stop = head.find(b"\r\n", at + 2)
        total = end + 4 + int(head[at + 17 : stop if stop >= 0 else len(head)])
        if len(self.buf) < total:
            return
        del self.buf[:total]
        current, self.current = self.current, None
        if current is not None:
            self.gen.done(self, current[0], current[1], int(head[9:12]))

    def fail(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        current, self.current = self.current, None
        if self.transport is not None:
            self.transport.close()
        self.gen.failed(self, current, reason)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.fail(type(exc).__name__ if exc else "connection closed by the server")


@dataclass
class LoadResult:
    rate: float
    duration: float
    latencies_ms: np.ndarray  # from each request's due time; NaN where it failed or never finished
    statuses: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    elapsed: float = 0.0
    generator_cpu: float = 0.0  # user + system seconds of this process during the run
    generator_system: float = (
        0.0  # the system part (on loopback the kernel's TCP work for both ends is large)
    )
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


class _Generator:
    """Dispatches requests at their due times to idle connections (opening more as needed) and records answers."""

    def __init__(self, loop, host: str, port: int, requests: list[bytes], result: LoadResult, max_conns: int):
        self.loop, self.host, self.port, self.requests, self.result = loop, host, port, requests, result
        self.max_conns = max_conns
        self.idle: collections.deque[_Conn] = collections.deque()
        self.busy: set[_Conn] = set()
        self.backlog: collections.deque[tuple[int, float]] = collections.deque()
        self.opened = 0
        self.finished = 0
        self.all_done = loop.create_future()

    async def open(self) -> _Conn:
        self.opened += 1
        _, conn = await self.loop.create_connection(lambda: _Conn(self), self.host, self.port)
        return conn

    def _connect_then_send(self, i: int, due: float) -> None:
        async def go() -> None:
            try:
                conn = await self.open()
            except OSError as exc:
                self._record_error(i, type(exc).__name__)
                return
            self.busy.add(conn)
            conn.send(i, due)

        self.loop.create_task(go())

    def dispatch(self, i: int, due: float) -> None:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed and time.perf_counter() - conn.idle_since > MAX_IDLE:
                # The server may be closing it (uvicorn drops keep-alive connections idle for 5 s): a request
                # written now could meet the close and fail through no fault of the server under load.
                conn.closed = True
                conn.transport.close()  # type: ignore[union-attr]
                continue
            if not conn.closed:
                self.busy.add(conn)
                conn.send(i, due)
                return
        if self.opened < self.max_conns:
            self._connect_then_send(i, due)
        else:
            self.backlog.append((i, due))  # waits for a connection; the wait counts in its latency

    def done(self, conn: _Conn, i: int, due: float, status: int) -> None:
        self.result.latencies_ms[i] = (time.perf_counter() - due) * 1000.0
        self.result.statuses[status] += 1
        self._finish_one()
        self.busy.discard(conn)
        if self.backlog:
            self.busy.add(conn)
            conn.send(*self.backlog.popleft())
        else:
            conn.idle_since = time.perf_counter()
            self.idle.append(conn)

    def failed(self, conn: _Conn, current: tuple[int, float] | None, reason: str) -> None:
        self.busy.discard(conn)
        if current is not None:
            self._record_error(current[0], reason)

    def _record_error(self, i: int, reason: str) -> None:
        self.result.errors[reason] += 1
        self._finish_one()

    def _finish_one(self) -> None:
        self.finished += 1
        if self.finished >= self.result.requests and not self.all_done.done():
            self.all_done.set_result(None)

    def sweep(self, timeout: float) -> None:
        """Fail requests older than ``timeout`` seconds (their connection is closed)."""
        now = time.perf_counter()
        for conn in list(self.busy):
            if conn.current is not None and now - conn.current[1] > timeout:
                conn.fail("timeout")


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
    gen = _Generator(loop, host, port, requests, result, max_connections)
    for _ in range(min(16, max_connections)):  # a few warm connections, as a real client pool would have
        gen.idle.append(await gen.open())
    cpu0 = os.times()
    start = time.perf_counter() + 0.05
    interval = 1.0 / rate
    i = 0
    next_sweep = start + 0.5
    while i < n:
        now = time.perf_counter()
        while i < n and start + i * interval <= now:
            gen.dispatch(i, start + i * interval)
            i += 1
        if now >= next_sweep:
            gen.sweep(timeout)
            next_sweep = now + 0.5
        if i < n:
            # At least 1 ms: event-loop timers are millisecond-grained, and shorter sleeps return at once and
            # spin. A request sent up to ~1 ms late still counts that lateness in its latency (from its due time).
            await asyncio.sleep(max(0.001, start + i * interval - time.perf_counter()))
    deadline = time.perf_counter() + grace
    while not gen.all_done.done() and time.perf_counter() < deadline:
        gen.sweep(timeout)
        await asyncio.wait([gen.all_done], timeout=0.5)
    unfinished = n - gen.finished
    if unfinished > 0:
        result.errors[f"unfinished {grace:g} s after the last send"] = unfinished
    result.elapsed = time.perf_counter() - start
    cpu1 = os.times()
    result.generator_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    result.generator_system = cpu1.system - cpu0.system
    result.connections = gen.opened
    for conn in [*gen.idle, *gen.busy]:
        if conn.transport is not None:
            conn.transport.close()
    return result


def run_sync(host: str, port: int, requests: list[bytes], **kwargs) -> LoadResult:
    """:func:`run` on uvloop when installed (a C event loop: about half the generator's CPU), else asyncio."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(run(host, port, requests, **kwargs))

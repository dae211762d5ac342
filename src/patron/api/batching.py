"""Score the small ``POST /score`` requests that are waiting at the same moment in one pass over the models.

Each pass over the models has a fixed cost (about 1 ms of CPU, see :func:`patron.services.scoring.score_many`)
far above its cost per customer. One scorer task runs on the event loop: it takes every request queued so far,
scores them together, answers each, and repeats while requests keep arriving. An idle server therefore scores a
lone request at once (no waiting for company), and a busy one forms larger passes by itself: the requests that
arrive while a pass runs make up the next one. Nothing is reordered or delayed on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from patron.services.scoring import ScoringModels, score_many

MAX_PASS_CUSTOMERS = 256  # bounds how long one pass holds the event loop


class ScoreBatcher:
    def __init__(self, max_customers: int = MAX_PASS_CUSTOMERS) -> None:
        self.max_customers = max_customers
        self._queue: list[tuple[ScoringModels, list[Mapping[str, Any]], tuple, asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self.passes = 0  # how many passes and requests so far (to see the batching at work)
        self.requests = 0

    async def score(
        self,
        models: ScoringModels,
        customers: Sequence[Mapping[str, Any]],
        *,
        horizon: int,
        discount_rate: float,
        margin: float,
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._queue.append((models, list(customers), (horizon, discount_rate, margin), future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # let requests that are ready to be queued join this pass
            taken, size = [], 0
            while self._queue and (not taken or size + len(self._queue[0][1]) <= self.max_customers):
                item = self._queue.pop(0)
                taken.append(item)
                size += len(item[1])
            # One pass per model set and parameters (almost always one: the models change rarely).
            groups: dict[tuple, list] = {}
            for item in taken:
                groups.setdefault((id(item[0]), item[2]), []).append(item)
            for (_, (horizon, discount_rate, margin)), items in groups.items():
                try:
                    results = score_many(
                        items[0][0],
                        [customers for _, customers, _, _ in items],
                        horizon=horizon,
                        discount_rate=discount_rate,
                        margin=margin,
                    )
                except Exception as exc:  # an unexpected failure answers every request of the pass with it
                    results = [exc] * len(items)
                self.passes += 1
                self.requests += len(items)
                for (_, _, _, future), result in zip(items, results, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

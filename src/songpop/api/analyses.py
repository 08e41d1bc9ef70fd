"""How many audio analyses the server runs at once, and stopping one whose client left.

An analysis holds its decoded signal and spectrogram in memory (up to a few hundred MB for a
20-minute file) and a core for seconds, so the server runs at most `limit` at a time (`songpop
serve --max-analyses`, default the number of cores); an upload that finds every slot taken is
answered at once with 503 and `Retry-After`, never queued. While an analysis runs in its worker
thread, the request is watched: when the client disconnects, the decoder's cancel event
(`songpop.audio.decode.CANCEL`) is set, decoding stops at its next block, and the slot is freed
when the thread has really finished.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from songpop import config
from songpop.audio.decode import CANCEL

T = TypeVar("T")

RETRY_AFTER_S = 5
"""What a 503 answer's Retry-After says (seconds): about one analysis of a song."""
WATCH_S = 0.25
"""How often a running analysis checks that its client is still there."""


def default_limit() -> int:
    """The cores this process may use (`config.usable_cores`): one analysis per core."""
    return config.usable_cores()


class AnalysisSlots:
    """At most `limit` analyses at a time; taken and given back on the event loop only.

    Attributes:
        limit: the most analyses at once.
        running: how many run now.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = max(1, int(limit if limit is not None else default_limit()))
        self.running = 0

    def take(self) -> bool:
        """A slot, if one is free (never waits)."""
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    def give_back(self) -> None:
        self.running = max(0, self.running - 1)

    def doing(self) -> str:
        """What the taken slots are busy with, for the 503's words."""
        return f"analysing {self.running} file(s), its limit (--max-analyses {self.limit})"

    def busy(self) -> JSONResponse:
        """The 503 answer for a request that found every slot taken (never queued)."""
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
            content={"detail": f"the server is {self.doing()}; try again in {RETRY_AFTER_S} s"},
        )


def slots_of(request: Request | None) -> AnalysisSlots:
    """The app's analysis slots (`app.state.analysis_slots`), made on first use."""
    if request is None:
        return AnalysisSlots()
    state = request.app.state
    slots = getattr(state, "analysis_slots", None)
    if slots is None:
        slots = state.analysis_slots = AnalysisSlots()
    return slots


async def run_watched(request: Request | None, func: Callable[..., T], *args: Any, **kw: Any) -> T:
    """`func(*args, **kw)` in a worker thread, cancelled (through the decoder's cancel event)
    when the client disconnects; returns only once the thread has finished."""

    event = threading.Event()

    def call() -> T:
        token = CANCEL.set(event)
        try:
            return func(*args, **kw)
        finally:
            CANCEL.reset(token)

    task = asyncio.ensure_future(run_in_threadpool(call))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=WATCH_S)
            if done:
                return task.result()
            if request is not None and not event.is_set() and await request.is_disconnected():
                event.set()
    finally:
        event.set()
        if not task.done():  # this coroutine was cancelled: still wait for the thread
            await asyncio.shield(asyncio.wait({task}))


ONLINE_LOOKUPS = 2
"""Songs the server asks the feature APIs for at once (`serve --online`): each may hold a worker
thread until the providers' deadline, and every one spends the operator's quota."""


class LookupSlots(AnalysisSlots):
    """At most `limit` online lookups at a time; beyond them a 503 with Retry-After."""

    def __init__(self, limit: int = ONLINE_LOOKUPS) -> None:
        super().__init__(limit)

    def doing(self) -> str:
        return f"already asking the feature APIs for {self.running} song(s), its limit"


def lookup_slots_of(request: Request) -> LookupSlots:
    """The app's online-lookup slots (`app.state.lookup_slots`), made on first use."""
    slots = getattr(request.app.state, "lookup_slots", None)
    if slots is None:
        slots = request.app.state.lookup_slots = LookupSlots()
    return slots

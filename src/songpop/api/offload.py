"""Scoring off the event loop, on a pool of its own.

A prediction calls a model (`songpop.inference.scoring`); a model file is untrusted input, and
even one checked graph runs up to `compiled.RUN_SECONDS` before it is stopped. Run in the event
loop, such a call would hold every other request; so every prediction runs in a worker thread.
The pool has one thread per core (not Starlette's 40): the scoring holds the GIL most of the
time, and fewer threads keep the hand-off cheap for the many small requests.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from songpop.api.analyses import default_limit

T = TypeVar("T")

_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(default_limit(), thread_name_prefix="songpop-score"))
    return _POOL[0]


async def off_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)` in the scoring pool; the event loop keeps serving meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(func, *args, **kwargs))

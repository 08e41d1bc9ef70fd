"""Wall-time of named stages, for the run folder's timings and the training summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Timer:
    """Collects named wall times (seconds), in the order the stages ran.

    Args:
        seconds: the dict to fill (default: a new one, at `Timer.seconds`).
        on_stage: called with (stage name, seconds of this block) after each block.
    """

    def __init__(
        self,
        seconds: dict[str, float] | None = None,
        on_stage: Callable[[str, float], None] | None = None,
    ) -> None:
        self.seconds: dict[str, float] = {} if seconds is None else seconds
        self.on_stage = on_stage

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block under `name` (added to an earlier time of the same name)."""
        log.debug("stage %s: start", name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            self.seconds[name] = round(self.seconds.get(name, 0.0) + elapsed, 3)
            log.debug("stage %s: %.2f s", name, elapsed)
        if self.on_stage:
            self.on_stage(name, round(elapsed, 2))

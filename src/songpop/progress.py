"""Progress hooks: the library says what it is doing, an interface decides how to show it.

Nothing in songpop's library prints: a long job (`pipeline.run_pipeline`, `train.train_task`,
`models.search.search_model`) takes a `hook`, a callable given one `Event` at a time, and the
CLI turns those into a live Rich view or plain log lines (`songpop.cli.output.RunView`). A hook
may be called from worker processes: `QueueHook` forwards events through a queue to the process
that shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One thing that happened.

    Attributes:
        kind: "stage" (a stage starts: `done` 0, or ends: `seconds` set), "search" (one fit of
            a model search done), or "note" (a line worth showing, in `label`).
        stage: the pipeline stage, e.g. "train_seed".
        label: what inside the stage, e.g. "audio · lgbm".
        done: fits (or steps) done so far.
        total: fits (or steps) planned.
        best: the best cross-validated accuracy seen so far, when there is one.
        seconds: the stage's wall time, at its end.
        reused: the run a stage's outputs were reused from (nothing recomputed).
    """

    kind: str
    stage: str
    label: str = ""
    done: int = 0
    total: int = 0
    best: float | None = None
    seconds: float | None = None
    reused: str | None = None


Hook = Callable[[Event], None]


def emit(hook: Hook | None, event: Event) -> None:
    """Give `event` to `hook` when there is one."""
    if hook is not None:
        hook(event)


@dataclass
class QueueHook:
    """A picklable hook that puts each event on a (multiprocessing manager's) queue."""

    queue: Any

    def __call__(self, event: Event) -> None:
        self.queue.put(event)


@dataclass
class StageHook:
    """A hook that stamps every event with a stage name (for code that does not know it)."""

    hook: Hook
    stage: str

    def __call__(self, event: Event) -> None:
        self.hook(Event(**{**event.__dict__, "stage": self.stage}))

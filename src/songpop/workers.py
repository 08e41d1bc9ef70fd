"""Jobs side by side on one machine's cores: joblib's process pool (loky), with progress relayed.

`songpop run` (explore, each task's models, k-means) and `songpop reproduce` (each model of
each split) have independent jobs of one to ninety seconds; on two cores, running two at a
time is what keeps both busy. Each job is `call(*args, hook)`; its events reach the caller's
hook through a queue drained by a thread of the calling process (`progress.QueueHook`). This
is one machine's pool, not a scheduler: catalogues and folders that need more go to Dask
(`songpop.inference.dask_cluster`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from songpop import config
from songpop.progress import Event, Hook, QueueHook, StageHook, emit

MAX_WORKERS = 2
"""Jobs at a time at most: more processes than this machine's 2 cores only wait."""

Job = tuple[str, Callable[..., Any], tuple[Any, ...]]
"""(name, call, args): `call(*args, hook)` runs the job; the name labels its events."""


def side_by_side(
    jobs: Sequence[Job],
    hook: Hook | None = None,
    workers: int | None = None,
    prepare: Callable[[str], None] | None = None,
) -> Iterator[tuple[str, float, Any]]:
    """Run the jobs two (or `workers`) at a time in worker processes, in the order given
    (longest first finishes soonest); yield (name, seconds, value) as each finishes. The hook
    hears a "stage" event as each job starts and as it ends.

    `prepare(name)`, when given, runs here before job `name` is handed to the pool (e.g. to
    build the table it reads): the jobs already handed out train while this process prepares
    the next (preparing never waits for a free worker, so every job is prepared as soon as
    those before it are). The pool holds one job a worker and one next in line, which the first
    worker to finish takes (so none waits on this process preparing another); the others wait
    here. On a failure or a stop, loky fails what the pool holds and kills its workers. (When
    every job was submitted at once, the queued ones were cancelled first: loky's manager
    thread then died on a cancelled future and the process never exited.)

    Each job sees its share of the cores (`SONGPOP_JOBS=1`: one model fit at a time; BLAS and
    OpenMP threads as joblib would set them). With one worker the jobs run here, one after
    another, with every core.
    """
    if not jobs:
        return
    n = pool_width(len(jobs), workers)
    if n == 1:
        for name, call, args in jobs:
            if prepare is not None:
                prepare(name)
            yield _ended(_timed(name, call, args, hook, None), hook)
        return
    import multiprocessing
    import threading
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, wait

    from joblib.externals.loky import ProcessPoolExecutor

    manager = multiprocessing.Manager() if hook is not None else None
    queue = manager.Queue() if manager is not None else None
    relay = None
    if queue is not None and hook is not None:
        relay = threading.Thread(target=_relay, args=(queue, hook), daemon=True)
        relay.start()
    remote = QueueHook(queue) if queue is not None else None
    # A pool of its own, not loky's shared reusable one, which joblib's `Parallel` in this
    # process (a model search's folds) would take over and find without its temporary folder.
    executor = ProcessPoolExecutor(max_workers=n, env=_thread_env(n))
    handed: set[Any] = set()  # in the pool: running, or next in line for the first free worker
    ready: deque[Job] = deque()  # prepared, waiting here

    def hand_out(finished: set[Any]) -> None:  # fill the pool, unless a job just failed
        if any(_failed(f) for f in finished):
            return  # its error is raised below: nothing more starts
        while ready and len(handed) < n + 1:
            name, call, args = ready.popleft()
            handed.add(executor.submit(_timed, name, call, args, remote, 1))

    ok = False
    try:
        for job in jobs:
            if prepare is not None:
                prepare(job[0])
            ready.append(job)
            finished = {f for f in handed if f.done()}
            handed -= finished
            hand_out(finished)  # before the results: the caller may take its time with each
            for future in _successes_first(finished):
                yield _ended(future.result(), hook)
        while handed:
            finished, waiting = wait(handed, return_when=FIRST_COMPLETED)
            handed.intersection_update(waiting)
            hand_out(finished)
            for future in _successes_first(finished):
                yield _ended(future.result(), hook)
        ok = True
    finally:
        try:
            if not ok:  # a job failed or the caller stopped: nothing more runs
                _until_queued(handed)
        finally:
            # The workers exit in the background (joined at Python's exit at the latest); after
            # a failure loky kills them, and the running jobs with them.
            executor.shutdown(wait=False, kill_workers=not ok)
        if queue is not None:
            queue.put(None)
        if relay is not None:
            relay.join(timeout=5)
        if manager is not None:
            manager.shutdown()


def _until_queued(handed: set[Any], seconds: float = 1.0) -> None:
    """Wait (a moment) until loky's manager thread has moved every job just handed over into
    the pool's call queue (which marks it running): a job still between the two when the pool
    shuts down would make that thread fail on a job it has already dropped."""
    until = time.monotonic() + seconds
    while any(not (f.running() or f.done()) for f in handed) and time.monotonic() < until:
        time.sleep(0.01)


def _failed(future: Any) -> bool:
    """Whether a finished job failed (or was cancelled): its result would raise."""
    return future.cancelled() or future.exception() is not None


def _successes_first(finished: set[Any]) -> list[Any]:
    """Jobs found finished together, those that succeeded first: a failure stops the rest, and
    the jobs that finished beside it are still handed over (a run records their stages)."""
    return sorted(finished, key=_failed)


def _thread_env(n_workers: int) -> dict[str, str]:
    """The workers' thread limits, as joblib's own process pool sets them: the cores shared
    out among the workers (one BLAS / OpenMP thread each on two cores), unless this process's
    environment already sets a limit."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS")  # fmt: skip
    share = str(max(config.usable_cores() // n_workers, 1))
    return {name: os.environ.get(name, share) for name in names}


def pool_width(n_jobs: int, workers: int | None = None) -> int:
    """How many of `n_jobs` jobs `side_by_side` runs at a time (1: one after another, here)."""
    return max(1, min(n_jobs, workers or min(config.usable_cores(), MAX_WORKERS)))


def _ended(result: tuple[str, float, Any], hook: Hook | None) -> tuple[str, float, Any]:
    emit(hook, Event("stage", result[0], seconds=result[1]))
    return result


def _relay(queue: Any, hook: Hook) -> None:
    while (event := queue.get()) is not None:
        hook(event)


def _timed(
    name: str,
    call: Callable[..., Any],
    args: tuple[Any, ...],
    hook: Hook | None,
    inner_jobs: int | None,
) -> tuple[str, float, Any]:
    """Run one job and time it; in a worker, one model fit at a time."""
    if inner_jobs is not None:
        os.environ[config.JOBS_ENV] = str(inner_jobs)
    staged = StageHook(hook, name) if hook is not None else None
    emit(staged, Event("stage", name))
    t0 = time.perf_counter()
    value = call(*args, staged)
    return name, time.perf_counter() - t0, value

"""Jobs side by side (`songpop.workers`) and the run's preloading of the explain stage's imports."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pytest

from songpop import config, pipeline
from songpop.workers import MAX_WORKERS, pool_width, side_by_side


def _double(x: int, hook: object) -> int:  # noqa: ARG001  (a job's signature)
    return 2 * x


def test_pool_width_is_the_jobs_the_workers_or_the_cores_whichever_is_least(monkeypatch) -> None:
    monkeypatch.setattr("songpop.config.usable_cores", lambda: 8)
    assert pool_width(5) == MAX_WORKERS == 2
    assert pool_width(1) == 1
    assert pool_width(5, workers=3) == 3
    assert pool_width(0) == 1
    monkeypatch.setattr("songpop.config.usable_cores", lambda: 1)
    assert pool_width(5) == 1


def test_the_cores_counted_are_those_this_process_may_use(monkeypatch) -> None:
    """A cap on the cores (loky's variable here; a container's CPU quota or `taskset` alike)
    narrows the pool, its threads and the API's analyses, where `os.cpu_count()` would not."""
    from songpop.api.analyses import default_limit
    from songpop.workers import _thread_env

    monkeypatch.setenv("LOKY_MAX_CPU_COUNT", "1")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert config.usable_cores() == 1 and default_limit() == 1
    assert pool_width(5) == 1 and _thread_env(1)["OMP_NUM_THREADS"] == "1"


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two cores to pin to one",
)
def test_a_process_pinned_to_one_core_counts_one() -> None:
    core = min(os.sched_getaffinity(0))
    code = "import os; from songpop import config; print(config.usable_cores(), os.cpu_count())"
    done = subprocess.run(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}}); {code}"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    used, machine = map(int, done.stdout.split())
    assert used == 1 and machine >= 2


def test_one_worker_runs_the_jobs_here_in_order() -> None:
    jobs = [(f"j{i}", _double, (i,)) for i in range(3)]
    done = list(side_by_side(jobs, workers=1))
    assert [(name, value) for name, _, value in done] == [("j0", 0), ("j1", 2), ("j2", 4)]


def test_preload_imports_what_it_can_and_leaves_a_failure_to_the_stage(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    pipeline._preload(["songpop.no_such_module", "colorsys"])  # no exception
    assert "colorsys" in sys.modules


@pytest.mark.parametrize("name", pipeline.EXPLAIN_IMPORTS)
def test_every_preloaded_module_exists(name: str) -> None:
    # a renamed module would be preloaded in vain, silently: say so here
    assert importlib.util.find_spec(name) is not None, name


def _job_env(folder: str, name: str, hook: object) -> dict[str, str | None]:  # noqa: ARG001
    import os
    from pathlib import Path

    ready = (Path(folder) / name).read_text(encoding="utf-8")  # what prepare made for it
    return {k: os.environ.get(k) for k in ("SONGPOP_JOBS", "OMP_NUM_THREADS")} | {
        "name": name,
        "ready": ready,
    }


def _fail(x: int, hook: object) -> int:  # noqa: ARG001
    raise ValueError(f"job {x} failed")


def test_two_workers_run_each_job_once_each_prepared_here_before_it_is_handed_out(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr("songpop.config.usable_cores", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    prepared: list[str] = []

    def prepare(name: str) -> None:
        # the job's input is written here; the job reads it in its worker
        (tmp_path / name).write_text(f"ready for {name}", encoding="utf-8")
        prepared.append(name)

    jobs = [(f"j{i}", _job_env, (str(tmp_path), f"j{i}")) for i in range(5)]
    done = list(side_by_side(jobs, workers=2, prepare=prepare))
    assert prepared == [f"j{i}" for i in range(5)]  # in the order given, each once
    assert sorted(name for name, _, _ in done) == prepared
    for name, seconds, value in done:
        assert value["name"] == name and value["ready"] == f"ready for {name}" and seconds >= 0
        # one fit at a time and one BLAS/OpenMP thread per worker on two cores
        assert value["SONGPOP_JOBS"] == "1" and value["OMP_NUM_THREADS"] == "1"


def test_jobs_found_finished_together_hand_over_their_successes_first() -> None:
    from concurrent.futures import Future

    from songpop.workers import _successes_first

    done = []
    for i in range(4):
        future: Future = Future()
        future.set_result(i) if i % 2 else future.set_exception(ValueError(i))
        done.append(future)
    ordered = _successes_first(set(done))
    assert [f.exception() is None for f in ordered] == [True, True, False, False]


def test_a_failing_job_raises_its_own_error_and_stops_the_rest() -> None:
    prepared: list[str] = []

    def prepare(name: str) -> None:
        prepared.append(name)
        if name == "later0":  # "ok" and "bad" both end meanwhile: they are found done together
            time.sleep(3.0)

    jobs = [("ok", _double, (1,)), ("bad", _fail, (2,))] + [
        (f"later{i}", _double, (i,)) for i in range(3)
    ]
    finished = []
    with pytest.raises(ValueError, match="job 2 failed"):
        for name, _, _ in side_by_side(jobs, workers=2, prepare=prepare):
            finished.append(name)
    assert "bad" in prepared and "bad" not in finished
    assert finished == ["ok"]  # the job that ended beside the failure is still handed over


_FAILING_RUN = """
import time
from songpop.workers import side_by_side
def slow(x, hook): time.sleep(x); return x
def bad(x, hook): time.sleep(x); raise ValueError("bad job")
jobs = [("slow", slow, (60,)), ("bad", bad, (1,))] + [(f"q{i}", slow, (60,)) for i in range(6)]
try:
    for _ in side_by_side(jobs, workers=2): pass
except ValueError as e:
    print("failed:", e)
"""


def test_a_failure_with_jobs_still_waiting_ends_the_process_at_once() -> None:
    """Eight jobs on two workers, the second failing: the process says so and exits at once,
    the job running beside it killed. (When every job was submitted at once, the waiting ones
    were cancelled: loky's manager thread died with InvalidStateError, and the process never
    exited.)"""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _FAILING_RUN], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "failed: bad job", done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert time.monotonic() - started < 30  # the slow job running beside it killed, not awaited


def test_the_pool_leaves_joblib_its_own_process_pool() -> None:
    # a model search in this process (joblib.Parallel) while the jobs run: the pools must not mix
    from joblib import Parallel, delayed

    jobs = [(f"j{i}", _double, (i,)) for i in range(4)]
    for _, _, value in side_by_side(jobs, workers=2):
        assert Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(3)) == [0, 1, 2]
        assert value % 2 == 0

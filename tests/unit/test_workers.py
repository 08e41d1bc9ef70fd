"""Jobs side by side (`songpop.workers`) and the run's preloading of the explain stage's imports."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from songpop import pipeline
from songpop.workers import MAX_WORKERS, pool_width, side_by_side


def _double(x: int, hook: object) -> int:  # noqa: ARG001  (a job's signature)
    return 2 * x


def test_pool_width_is_the_jobs_the_workers_or_the_cores_whichever_is_least(monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert pool_width(5) == MAX_WORKERS == 2
    assert pool_width(1) == 1
    assert pool_width(5, workers=3) == 3
    assert pool_width(0) == 1
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert pool_width(5) == 1


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

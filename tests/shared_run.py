"""One quick `songpop run` per test session, shared by the modules that need a finished run.

The end-to-end tests and the README examples (on a clone without a run of its own) both need a
quick run of the same tasks; each made its own, and a quick run is the longest single step of
the suite. `quick_run` makes it once per session, in whichever xdist worker asks first (the
others wait on a file lock and then read it), in a process of its own: a run's worker pool must
not outlive it inside a test process (a reused pool keeps the folder it started in, and tests
change folders).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from songpop import config

TASKS = "seed,chart_chance,seed_era"
"""The original's task, the answer for a new song and the level within its era."""
RUN = "r1"


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this test session shares (and no other session)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def quick_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The folder of the session's quick run: `runs/r1` (made with the relative runs folder
    `runs`, as `make run` uses ./runs, so every path must still resolve), `reports/r1`, and
    `home`, the songpop home it is registered in.

    Tests may add runs beside r1 (the reuse test does); none may change r1.
    """
    root = session_root(tmp_path_factory) / "shared_quick_run"
    with FileLock(str(root) + ".lock"):
        done = root / "done"
        if not done.is_file():
            root.mkdir(exist_ok=True)
            args = ["run", "--run", RUN, "--runs-dir", "runs", "--tasks", TASKS,
                    "--budget", "quick", "--data-dir", str(data_dir), "-q"]  # fmt: skip
            env = {**os.environ, config.HOME_ENV: str(root / "home")}
            made = subprocess.run([sys.executable, "-m", "songpop", *args], cwd=root,
                                  capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
            assert made.returncode == 0, made.stderr[-3000:]
            done.write_text("ok\n", encoding="utf-8")
    return root

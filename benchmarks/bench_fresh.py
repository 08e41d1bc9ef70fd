"""A fresh clone's first `make run`, install included (#25 aim 5), and its `make test` (aim 4).

Each repeat clones this checkout and checks out the commit that was HEAD when the benchmark
started (uncommitted changes are not measured, nor commits made while it runs) and runs, as a
user does, in new processes with the data folder songpop finds here:

1. `make venv`: a new `.venv` and songpop's pinned dependencies (pip, this machine's wheels);
2. `make run`: the same command on, the install done: what is left is `songpop run`;
3. (the first `SONGPOP_BENCH_TEST_REPEATS` repeats, default 1: about 5 minutes each) `make
   test`: the dev tools' install, the Debian-packages check and the whole suite.

The first two together are "a fresh clone's first `make run`". Each clone is removed after its
repeat (its `.venv` is over a gigabyte). Medians of the repeats, with the CPU seconds of every
process beside the wall time. pip's download and wheel cache is the machine's own: a machine
that never installed songpop's dependencies takes longer for the first install than the median
says (94 s against about 40 s here on 2026-12-07, after this machine's cache was emptied).
With the default 3 repeats this benchmark takes about 12 minutes;
`make test` runs `scripts/install-test-deps`, which installs missing Debian packages with apt-get
when run as root, as `make test` always does.

Run: `python -m benchmarks.run_all --only fresh --out bench-results`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.bench_run import REPEATS_ENV, recorded, repeat_summary, timed
from songpop import config
from songpop.io import write_json_atomic

AIMS_SECONDS = {"fresh_make_run": 120.0, "make_test": 180.0}
TEST_REPEATS_ENV = "SONGPOP_BENCH_TEST_REPEATS"
ROOT = Path(__file__).resolve().parent.parent
_NOT_PASSED = frozenset({
    "VIRTUAL_ENV",  # the clone's make makes and uses its own .venv
    "SONGPOP_RUNS_DIR", "SONGPOP_JOBS", "SONGPOP_CACHE_DIR", "SONGPOP_CALIBRATION",
    "PYTEST_ARGS", "PYTEST_ADDOPTS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
    # colour switches: Typer forces a terminal when FORCE_COLOR or PY_COLORS is set at all (even
    # to 0), and the suite reads plain `--help` texts
    "FORCE_COLOR", "PY_COLORS",
})  # fmt: skip
"""Variables of the bench's own environment a user's fresh shell would not have."""
_PYTEST_LINE = re.compile(r"(\d+) passed(?:, (\d+) skipped)?.* in ([\d.]+)s")


def _pytest_figures(output: str) -> dict[str, Any]:
    """Passed, skipped and pytest's own seconds from `make test`'s last summary line."""
    found = _PYTEST_LINE.findall(output)
    if not found:
        raise RuntimeError(f"no pytest summary line in make test's output:\n{output[-2000:]}")
    passed, skipped, seconds = found[-1]
    return {"passed": int(passed), "skipped": int(skipped or 0), "pytest_seconds": float(seconds)}


def main(out_dir: Path, repeats: int | None = None) -> dict[str, Any]:
    """Clone, install, run (and test) `repeats` times; write `<out>/fresh.json`."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    repeats = repeats or int(os.environ.get(REPEATS_ENV, "3"))
    test_repeats = int(os.environ.get(TEST_REPEATS_ENV, "1"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    # a user's shell in the clone: nothing of this make's or this checkout's settings, except
    # the data folder songpop finds here
    env = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED}
    env.update({
        "SONGPOP_DATA_DIR": str(config.data_dir()),
        "SONGPOP_HOME": str(out_dir / "home"),
        "COLUMNS": "120",
    })  # fmt: skip
    times: dict[str, list[dict[str, Any]]] = {"install": [], "run": [], "first": [], "test": []}
    runs: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    for i in range(1, repeats + 1):
        clone = out_dir / f"clone{i}"
        shutil.rmtree(clone, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", head], cwd=clone, check=True)
        try:
            install = timed(["make", "venv"], clone, env)
            run = timed(["make", "run"], clone, env)
            times["install"].append(install)
            times["run"].append(run)
            times["first"].append({k: round(install[k] + run[k], 2) for k in ("wall", "cpu")})
            latest = (clone / "runs" / "LATEST").read_text(encoding="utf-8").strip()
            runs.append(recorded(clone / "runs" / latest))
            if i <= test_repeats:
                test = timed(["make", "test"], clone, env)
                times["test"].append(test)
                tests.append(_pytest_figures(test["stdout"]))
        finally:
            shutil.rmtree(clone, ignore_errors=True)
    figures: dict[str, Any] = {
        "aims_seconds": AIMS_SECONDS,
        "commit": head,
        "repeats": repeats,
        "install": repeat_summary(times["install"]),
        "run_after_install": repeat_summary(times["run"]),
        "fresh_make_run": repeat_summary(times["first"]),
        "pipeline_wall_seconds": [r["wall"] for r in runs],
    }
    if times["test"]:
        figures["make_test"] = {**repeat_summary(times["test"]), "suites": tests}
    figures["within_aims"] = {
        name: figures[name]["wall_seconds"] <= aim
        for name, aim in AIMS_SECONDS.items()
        if name in figures
    }
    write_json_atomic(figures, out_dir / "fresh.json")
    return figures


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/fresh"))))

"""songpop's main job, timed as a user runs it: `songpop run` and `songpop reproduce` (issue #15).

Each command runs as its own process (interpreter start included), on the real data:

1. `songpop run` into an empty runs folder: every stage computed (what a first `make run` does
   after the install);
2. `songpop run` again, nothing changed: every stage reused from the first;
3. `songpop run --tasks seed` into another empty folder: the original report's path alone;
4. `songpop reproduce`: the report's models on its own splits, and songpop's best beside them;
5. `songpop run --budget quick --fresh`: the tests' budget, per task.

Figures: the wall seconds of each (and the stage times the run itself recorded in
timings.json, so the report's stage-time table and these agree), the aims they are held to,
and the first run's headline accuracies, so a speed-up that costs accuracy shows.

Run: `python -m benchmarks.run_all --only run --out bench-results`.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from songpop.io import write_json_atomic

AIMS_SECONDS = {
    "first": 120.0,
    "second": 15.0,
    "seed": 45.0,
    "reproduce": 120.0,
    "quick_task": 15.0,
}


def _songpop(args: list[str], cwd: Path) -> float:
    """Run `songpop ARGS` in `cwd`; its wall seconds (a failure raises, with its output)."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "songpop", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        check=False,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"songpop {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return round(seconds, 2)


def _recorded(run_dir: Path) -> dict[str, Any]:
    timings = json.loads((run_dir / "timings.json").read_text(encoding="utf-8"))
    return {"stages": timings["seconds"], "wall": timings["wall"], "reused": timings["reused"]}


def main(out_dir: Path) -> dict[str, Any]:
    """Time the five commands; write `<out>/run.json`."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    plain = ["--log-format", "plain"]
    figures: dict[str, Any] = {"aims_seconds": AIMS_SECONDS}

    runs = out_dir / "runs"
    first = _songpop(["run", "--runs-dir", str(runs), "--run", "first", *plain], out_dir)
    second = _songpop(["run", "--runs-dir", str(runs), "--run", "second", *plain], out_dir)
    figures["first"] = {"wall_seconds": first, **_recorded(runs / "first")}
    figures["second"] = {"wall_seconds": second, **_recorded(runs / "second")}
    with open(runs / "first" / "summary" / "summary.csv", encoding="utf-8") as handle:
        figures["accuracy"] = [
            {
                k: row[k]
                for k in (
                    "task",
                    "features",
                    "best model (by CV)",
                    "test accuracy",
                    "95% CI",
                    "dummy accuracy",
                )
            }  # fmt: skip
            for row in csv.DictReader(handle)
        ]

    seed_runs = out_dir / "runs_seed"
    seed = _songpop(["run", "--runs-dir", str(seed_runs), "--run", "seed", "--tasks", "seed",
                     *plain], out_dir)  # fmt: skip
    figures["seed"] = {"wall_seconds": seed, **_recorded(seed_runs / "seed")}

    figures["reproduce"] = {
        "wall_seconds": _songpop(["reproduce", "--out", str(out_dir / "reproduce"), "-q"], out_dir)
    }

    quick_runs = out_dir / "runs_quick"
    quick = _songpop(["run", "--runs-dir", str(quick_runs), "--run", "quick", "--budget", "quick",
                      "--fresh", *plain], out_dir)  # fmt: skip
    recorded = _recorded(quick_runs / "quick")
    figures["quick"] = {
        "wall_seconds": quick,
        "per_task_seconds": {
            k.removeprefix("train_"): v
            for k, v in recorded["stages"].items()
            if k.startswith("train_")
        },
        **recorded,
    }
    figures["within_aims"] = {
        "first": first <= AIMS_SECONDS["first"],
        "second": second <= AIMS_SECONDS["second"],
        "seed": seed <= AIMS_SECONDS["seed"],
        "reproduce": figures["reproduce"]["wall_seconds"] <= AIMS_SECONDS["reproduce"],
        "quick_task": max(figures["quick"]["per_task_seconds"].values())
        <= AIMS_SECONDS["quick_task"],
    }
    write_json_atomic(figures, out_dir / "run.json")
    return figures


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/run"))))

"""songpop's main job, timed as a user runs it, beside the original report's pipeline (#15, #25).

Each command runs as its own process (interpreter start included), on the real data, `REPEATS`
times in turn (repeat 1 of every command, then repeat 2, ...), and each figure is the median of
its repeats, with the median CPU seconds of the process and its children beside the wall time
(the machine may be shared: CPU time is what a neighbour's load changes least):

1. `songpop run --fresh` (every task, the exploration, k-means, the report): what `make run`
   does after the install;
2. `songpop run` again, nothing changed: every stage reused;
3. `songpop run --tasks seed --fresh`: the original report's path alone, and right after it
4. the re-enactment of the original report's pipeline (`benchmarks.original_pipeline`: its
   KNN, SVC, random-forest grid, k-means and 5,000-epoch MLP on its 9,516 songs, written from
   `../shared/seed/NOTES.md`, never importing songpop): the ratio seed / original is taken on
   the medians of the same sitting, so it holds on any machine;
5. `songpop reproduce`: the report's models on its own splits, and songpop's best beside them;
6. `songpop run --budget quick --fresh`: the tests' budget, per task.

Figures: the medians (and every repeat), the stage times the first run recorded in
timings.json (so the report's stage-time table and these agree), the aims they are held to,
and the first run's headline accuracies, so a speed-up that costs accuracy shows. The runs
register in a songpop home of their own (`<out>/home`), never the user's.

Run: `python -m benchmarks.run_all --only run --out bench-results` (`SONGPOP_BENCH_REPEATS`
sets the repeats, default 3).
"""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from songpop import config
from songpop.io import write_json_atomic

AIMS_SECONDS = {
    "first": 60.0,
    "second": 15.0,
    "reproduce": 90.0,
    "quick_task": 15.0,
}
AIM_SEED_RATIO = 0.10
"""`songpop run --tasks seed` at most this share of the original pipeline's time (#25)."""
REPEATS_ENV = "SONGPOP_BENCH_REPEATS"


TIMEOUT_SECONDS = 3600.0
"""Longest a timed command may take before the bench stops it and says so."""
TAIL_LINES = 40
"""Lines of a failed command's output quoted in the error (its end, where the cause is)."""


def timed(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float = TIMEOUT_SECONDS
) -> dict[str, Any]:
    """Run `command` in `cwd`, in a process group of its own; its wall seconds and CPU seconds.
    A failure raises, quoting the end of its output; a command still running after `timeout`
    seconds (or when the bench itself is stopped) is killed with every process it started
    (`make`'s children: songpop's workers, pytest's), so none runs on beside the next figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with subprocess.Popen(command, cwd=cwd, env=env, text=True, start_new_session=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:  # fmt: skip
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            stopped = f"{' '.join(command)} still ran after {timeout:.0f} s"
            raise RuntimeError(f"{stopped}:\n{_tail(stdout, stderr)}") from None
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        said = _tail(stdout, stderr)
        raise RuntimeError(f"{' '.join(command)} failed (exit {proc.returncode}):\n{said}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": round(seconds, 2), "cpu": round(cpu, 2), "stdout": stdout}


def _tail(*outputs: str | bytes | None) -> str:
    """The last `TAIL_LINES` lines of each output that has any."""
    parts = []
    for output in outputs:
        text = output.decode(errors="replace") if isinstance(output, bytes) else output or ""
        if text.strip():
            parts.append("\n".join(text.rstrip().splitlines()[-TAIL_LINES:]))
    return "\n...\n".join(parts)


def recorded(run_dir: Path) -> dict[str, Any]:
    timings = json.loads((run_dir / "timings.json").read_text(encoding="utf-8"))
    return {"stages": timings["seconds"], "wall": timings["wall"], "reused": timings["reused"]}


def repeat_summary(times: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall and CPU seconds of the repeats, and every repeat."""
    return {
        "wall_seconds": round(statistics.median(t["wall"] for t in times), 2),
        "cpu_seconds": round(statistics.median(t["cpu"] for t in times), 2),
        "repeats_wall_seconds": [t["wall"] for t in times],
        "repeats_cpu_seconds": [t["cpu"] for t in times],
    }


def main(out_dir: Path, repeats: int | None = None) -> dict[str, Any]:
    """Time the commands `repeats` times each, in turn; write `<out>/run.json`."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    repeats = repeats or int(os.environ.get(REPEATS_ENV, "3"))
    env = {**os.environ, "COLUMNS": "120", "SONGPOP_HOME": str(out_dir / "home")}
    songpop = [sys.executable, "-m", "songpop"]
    plain = ["--log-format", "plain"]
    data_dir = str(config.data_dir())
    runs, seed_runs, quick_runs = out_dir / "runs", out_dir / "runs_seed", out_dir / "runs_quick"
    times: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("first", "second", "seed", "original", "reproduce", "quick")
    }
    for i in range(1, repeats + 1):
        times["first"].append(timed(
            [*songpop, "run", "--fresh", "--runs-dir", str(runs), "--run", f"first{i}", *plain],
            out_dir, env))  # fmt: skip
        times["second"].append(timed(
            [*songpop, "run", "--runs-dir", str(runs), "--run", f"second{i}", *plain],
            out_dir, env))  # fmt: skip
        times["seed"].append(timed(
            [*songpop, "run", "--fresh", "--tasks", "seed", "--runs-dir", str(seed_runs),
             "--run", f"seed{i}", *plain], out_dir, env))  # fmt: skip
        times["original"].append(timed(
            [sys.executable, "-m", "benchmarks.original_pipeline", data_dir],
            Path(__file__).resolve().parent.parent, env))  # fmt: skip
        times["reproduce"].append(
            timed(
                [*songpop, "reproduce", "--out", str(out_dir / f"reproduce{i}"), "-q"], out_dir, env
            )
        )
        times["quick"].append(timed(
            [*songpop, "run", "--budget", "quick", "--fresh", "--runs-dir", str(quick_runs),
             "--run", f"quick{i}", *plain], out_dir, env))  # fmt: skip

    figures: dict[str, Any] = {
        "aims_seconds": AIMS_SECONDS,
        "aim_seed_ratio": AIM_SEED_RATIO,
        "repeats": repeats,
    }
    figures["first"] = {**repeat_summary(times["first"]), **recorded(runs / "first1")}
    figures["second"] = {**repeat_summary(times["second"]), **recorded(runs / "second1")}
    figures["seed"] = {**repeat_summary(times["seed"]), **recorded(seed_runs / "seed1")}
    figures["original"] = {
        **repeat_summary(times["original"]),
        "steps": [json.loads(t["stdout"].strip().splitlines()[-1]) for t in times["original"]],
    }
    figures["seed_ratio"] = {
        "wall": round(figures["seed"]["wall_seconds"] / figures["original"]["wall_seconds"], 3),
        "cpu": round(figures["seed"]["cpu_seconds"] / figures["original"]["cpu_seconds"], 3),
    }
    figures["reproduce"] = repeat_summary(times["reproduce"])
    per_task: dict[str, list[float]] = {}
    for i in range(1, repeats + 1):
        for stage, seconds in recorded(quick_runs / f"quick{i}")["stages"].items():
            if stage.startswith("train_"):
                per_task.setdefault(stage.removeprefix("train_"), []).append(seconds)
    figures["quick"] = {
        **repeat_summary(times["quick"]),
        "per_task_seconds": {k: round(statistics.median(v), 2) for k, v in per_task.items()},
        **recorded(quick_runs / "quick1"),
    }
    with open(runs / "first1" / "summary" / "summary.csv", encoding="utf-8") as handle:
        keep = ("task", "features", "protocol", "model", "test accuracy", "95% CI",
                "dummy accuracy", "ROC-AUC")  # fmt: skip
        figures["accuracy"] = [{k: row.get(k) for k in keep} for row in csv.DictReader(handle)]
    figures["within_aims"] = {
        "first": figures["first"]["wall_seconds"] <= AIMS_SECONDS["first"],
        "second": figures["second"]["wall_seconds"] <= AIMS_SECONDS["second"],
        "seed_ratio": figures["seed_ratio"]["wall"] <= AIM_SEED_RATIO,
        "reproduce": figures["reproduce"]["wall_seconds"] <= AIMS_SECONDS["reproduce"],
        "quick_task": max(figures["quick"]["per_task_seconds"].values())
        <= AIMS_SECONDS["quick_task"],
    }
    write_json_atomic(figures, out_dir / "run.json")
    return figures


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/run"))))

"""How long training + evaluating the whole registry takes on the seed task (budget "default").

The seed task is what `make run` trains: `songpop data build --profile seed` (built here first,
not timed), then `songpop.train.train_task` on its songs.parquet with the default registry,
every feature set, the extra protocols, figures, bundles and the report section, alone in this
process with both cores. `bench_run` times the whole `songpop run` (aim: 120 s, all three tasks
side by side).

Figures: wall seconds (median over `SONGPOP_BENCH_REPEATS` runs, default 1), CPU seconds of
this process and its worker processes, the per-stage times of the last run, and the accuracies
reached (best per feature set, with the dummy baseline) so a speed-up that costs accuracy shows.

Run: `python -m benchmarks.run_all --only train --out bench-results`.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd

from songpop import config
from songpop.io import write_json_atomic

TARGET_SECONDS = 120.0


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(out_dir: Path) -> dict[str, Any]:
    """Build the seed songs once, then time `train_task` on them; returns the figures."""
    from songpop.build import build_dataset
    from songpop.train import train_task

    out_dir = Path(out_dir)
    build_dir = out_dir / "seed_build"
    build_dataset(build_dir, profile="seed")
    songs = pd.read_parquet(build_dir / "songs.parquet")
    repeats = int(os.environ.get("SONGPOP_BENCH_REPEATS", "1"))
    walls, cpus = [], []
    summary: dict[str, Any] = {}
    for i in range(repeats):
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        summary = train_task(
            songs,
            out_dir / f"models_{i}",
            task="seed",
            label_strategy="spotify",
            budget="default",
            seed=config.SEED,
        )
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_seconds() - cpu0)
    best = {}
    for fs, fs_summary in summary["feature_sets"].items():
        entry = fs_summary["models"][fs_summary["best"]]
        best[fs] = {
            "model": fs_summary["best"],
            "cv_accuracy": round(entry["cv_accuracy"], 4),
            "test_accuracy": round(entry["accuracy"], 4),
            "test_ci": [round(v, 4) for v in entry["accuracy_ci"]],
            "dummy_accuracy": round(entry["dummy_accuracy"], 4),
        }
    figures = {
        "rows": summary["n_rows"],
        "repeats": repeats,
        "wall_seconds_median": round(statistics.median(walls), 2),
        "wall_seconds": [round(w, 2) for w in walls],
        "cpu_seconds_median": round(statistics.median(cpus), 2),
        "target_seconds": TARGET_SECONDS,
        "within_target": statistics.median(walls) < TARGET_SECONDS,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "stages": summary["timings"],
        "best": best,
    }
    write_json_atomic(figures, out_dir / "bench_train.json")
    return figures

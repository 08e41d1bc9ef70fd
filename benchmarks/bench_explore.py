"""Benchmark: `songpop explore` + `songpop report` on the seed profile (target: under 15 s).

Builds the seed song table once (not timed), then runs the two commands as a user would, each
in a fresh process (interpreter start and imports included), three times. Reports the median
wall time, the CPU time of the commands (the machine may be shared: CPU time shows what load
does to the wall time) and the load average when the runs started.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from songpop.build import build_dataset

REPEATS = 3
TARGET_SECONDS = 15.0


def _songpop() -> list[str]:
    return [sys.executable, "-m", "songpop"]


def _timed(args: list[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(out_dir: Path) -> dict:
    """Time explore + report on the seed build and return the figures."""
    out_dir = Path(out_dir)
    build = out_dir / "seed_build"
    build_dataset(build, profile="seed")
    songs = build / "songs.parquet"
    runs: list[dict[str, float]] = []
    load = os.getloadavg()[0]
    for i in range(REPEATS):
        run = out_dir / "runs" / f"bench-{i}"
        explore_wall, explore_cpu = _timed(
            [*_songpop(), "explore", "--songs", str(songs), "--out", str(run / "explore")]
        )
        report = out_dir / "reports" / run.name / "index.html"
        report_wall, report_cpu = _timed(
            [*_songpop(), "report", "--run", str(run), "--out", str(report)]
        )
        runs.append(
            {
                "explore_s": round(explore_wall, 2),
                "report_s": round(report_wall, 2),
                "total_s": round(explore_wall + report_wall, 2),
                "cpu_s": round(explore_cpu + report_cpu, 2),
            }
        )
    median = statistics.median(r["total_s"] for r in runs)
    return {
        "songs_file": str(songs),
        "repeats": REPEATS,
        "median_total_s": median,
        "median_explore_s": statistics.median(r["explore_s"] for r in runs),
        "median_report_s": statistics.median(r["report_s"] for r in runs),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "target_s": TARGET_SECONDS,
        "meets_target": median < TARGET_SECONDS,
        "load_average_1min_at_start": round(load, 2),
        "report_bytes": report.stat().st_size,
        "runs": runs,
    }


if __name__ == "__main__":
    import json

    print(
        json.dumps(
            main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/explore")), indent=2
        )
    )

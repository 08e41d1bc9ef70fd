"""Benchmark: `songpop data build` on all of the data folder — wall time and peak memory.

Each run is a fresh `songpop data build` process (the default profile: 355k chart rows plus
every track table; the seed profile is timed too). Wall time is the median of 3 runs; peak
memory is the largest resident set of a run, read from that child's own rusage (`os.wait4`).
Targets (issue 2): under 10 s and under 1.5 GB for the default build on a 2-core machine.

Run through `make bench` (benchmarks/run_all.py) or `python -m benchmarks.bench_build OUT`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from songpop import config
from songpop.io import write_json_atomic

REPEATS = 3
TARGET_SECONDS = 10.0
TARGET_PEAK_MB = 1536.0
PROFILES = {"default": [], "seed": ["--profile", "seed"]}


def _one_run(args: list[str], out: Path) -> tuple[float, float, float]:
    """Run one build in a child process; return (wall s, CPU s = user + system, peak RSS MB)."""
    command = [sys.executable, "-m", "songpop", "data", "build", *args, "--out", str(out)]
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(command)} failed ({child.returncode}): {tail}")
    # ru_maxrss is in kilobytes on Linux.
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - platform without load average
        return None


def main(out_dir: Path) -> dict:
    """Time `songpop data build` (default and seed profiles), 3 runs each.

    Args:
        out_dir: where the builds go and `bench_build.json` with the figures is written.

    Returns:
        Per profile: `seconds_median`, `seconds_runs`, `cpu_seconds_median`, `peak_rss_mb`
        (max over runs), `songs`;
        plus the targets and whether the default build meets them.
    """
    out_dir = Path(out_dir)
    figures: dict = {
        "data_dir": str(config.data_dir()),
        "repeats": REPEATS,
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "profiles": {},
    }
    for profile, args in PROFILES.items():
        runs = [_one_run(args, out_dir / profile) for _ in range(REPEATS)]
        summary = json.loads((out_dir / profile / "build.json").read_text())
        figures["profiles"][profile] = {
            "seconds_median": round(statistics.median(s for s, _, _ in runs), 2),
            "seconds_runs": [round(s, 2) for s, _, _ in runs],
            # CPU time is less sensitive than wall time to other work on the machine.
            "cpu_seconds_median": round(statistics.median(c for _, c, _ in runs), 2),
            "peak_rss_mb": round(max(m for _, _, m in runs), 1),
            "in_process_seconds": summary["seconds"],
            "chart_rows": summary["inputs"][0]["rows"],
            "track_rows": sum(i["rows"] for i in summary["inputs"][1:]),
            "songs": summary["songs"],
        }
    default = figures["profiles"]["default"]
    figures["load_after"] = _load()
    figures["target"] = {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_PEAK_MB}
    figures["meets_target"] = (
        default["seconds_median"] < TARGET_SECONDS and default["peak_rss_mb"] < TARGET_PEAK_MB
    )
    write_json_atomic(figures, out_dir / "bench_build.json")
    return figures


if __name__ == "__main__":
    print(
        json.dumps(
            main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/build")), indent=2
        )
    )

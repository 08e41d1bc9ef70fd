"""Run every `benchmarks/bench_*.py` and write their figures to one file.

Usage: python -m benchmarks.run_all --out bench-results [--only build,predict]

Each benchmark module exposes `main(out_dir: Path) -> dict`. The figures of all of them go to
`<out>/results.json` (and a readable `<out>/results.md`); a benchmark that fails is recorded with
its error instead of stopping the others. With `--only`, the named benchmarks' entries replace
theirs in an existing results file and the others' are kept: each entry says when it ran
(`started`) and how loaded the machine was, so a page quoting the file can say so per line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from songpop.io import atomic_write, write_json_atomic

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Names of the benchmark modules, e.g. ["build", "predict"]."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def run(names: list[str], out: Path) -> dict:
    """Run the named benchmarks, each in turn, and collect their figures."""
    results: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "node": platform.node()},
        "benchmarks": {},
    }
    for name in names:
        print(f"== bench {name}", flush=True)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        load_before = _load()
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            figures = module.main(out / name)
            status = "ok"
        except Exception as exc:  # a failing benchmark is a result too
            traceback.print_exc()
            figures, status = {"error": f"{type(exc).__name__}: {exc}"}, "error"
        results["benchmarks"][name] = {
            "started": started,
            "load_before": load_before,
            "load_after": _load(),
            "status": status,
            "seconds": round(time.perf_counter() - t0, 2),
            "figures": figures,
        }
        print(json.dumps(figures, indent=2, default=str), flush=True)
    return results


def _load() -> float | None:
    """The machine's one-minute load average (None where the platform has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def merged(earlier: dict | None, results: dict) -> dict:
    """`results` with the benchmarks of `earlier` it did not run kept (each with its own
    `started`; an entry without one takes its file's)."""
    if not earlier or not isinstance(earlier.get("benchmarks"), dict):
        return results
    kept = {
        name: {"started": earlier.get("started"), **entry}
        for name, entry in earlier["benchmarks"].items()
        if name not in results["benchmarks"] and isinstance(entry, dict)
    }
    return {**results, "benchmarks": {**kept, **results["benchmarks"]}}


def _read(path: Path) -> dict | None:
    """The results file to merge into; None when there is none. A file that cannot be read is
    an error, never overwritten: it holds the other benchmarks' figures."""
    if not path.exists():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(
            f"{path}: cannot read it to keep the other benchmarks' figures ({exc}); move it "
            "away, or run every benchmark (no --only)"
        ) from exc
    if not isinstance(found, dict):
        raise SystemExit(f"{path}: expected a JSON object of benchmark results")
    return found


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def to_markdown(results: dict) -> str:
    """A readable summary of the figures."""
    lines = [f"# songpop benchmarks ({results['started']})", ""]
    for name, entry in results["benchmarks"].items():
        lines += [f"## {name} ({entry['status']}, {entry['seconds']} s)", "", "```"]
        lines += [json.dumps(entry["figures"], indent=2, default=str), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(discover())}")
    args.out.mkdir(parents=True, exist_ok=True)
    earlier = _read(args.out / "results.json") if args.only else None  # refused before running
    results = run(names, args.out)
    if args.only:  # a partial run: the other benchmarks' last figures stay
        results = merged(earlier, results)
    write_json_atomic(results, args.out / "results.json")
    with atomic_write(args.out / "results.md") as handle:
        handle.write(to_markdown(results))
    print(f"figures written to {args.out / 'results.json'}")
    return 0 if all(e["status"] == "ok" for e in results["benchmarks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Write docs/speed.md's figures from `make bench`'s results, never by hand.

Usage: python scripts/speed_page.py [--results bench-results] [--page docs/speed.md]

Reads `<results>/results.json` (written by `python -m benchmarks.run_all`) and replaces what
lies between the page's two markers with a table of the figures, the run's date and machine,
and the benchmarks that failed. A figure the results do not hold is written "not in this run";
without a results file the block says "not measured yet". Nothing else of the page changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- songpop:speed begin (written by scripts/speed_page.py from bench-results/; do not edit) -->"  # noqa: E501
END = "<!-- songpop:speed end -->"
MISSING = "not in this run"


class Missing(Exception):
    """A figure the results do not hold."""


def figure(results: dict[str, Any], bench: str, *path: str) -> Any:
    """One figure: results["benchmarks"][bench]["figures"][path...], or Missing."""
    entry = results.get("benchmarks", {}).get(bench)
    if entry is None or entry.get("status") != "ok":
        raise Missing(bench)
    value: Any = entry.get("figures", {})
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise Missing(".".join((bench, *path)))
        value = value[key]
    if value is None:
        raise Missing(".".join((bench, *path)))
    return value


def s(x: float) -> str:
    return f"{x:.1f} s" if x >= 10 else f"{x:.2f} s"


def ms(x: float) -> str:
    return f"{x:.2f} ms"


def rate(x: float) -> str:
    return f"{x:,.0f} rows/s"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


QUARTER = "cluster_2_workers_quarter_catalogue"
Row = tuple[str, Callable[[Callable[..., Any]], str], str]
"""(what was timed, how its figures read given a getter `f(bench, *path)`, the aim)."""

TIMES: list[Row] = [
    ("`make run` (`songpop run --fresh`, every task, whole command; median of the repeats)",
     lambda f: f"{s(f('run', 'first', 'wall_seconds'))} ({f('run', 'repeats')} repeat(s))",
     "≤ 60 s"),
    ("`make run` again, nothing changed (every stage reused)",
     lambda f: s(f("run", "second", "wall_seconds")), "≤ 15 s"),
    ("`songpop run --tasks seed --fresh`", lambda f: s(f("run", "seed", "wall_seconds")), ""),
    ("the original report's pipeline, re-enacted (KNN, SVC, forest grid, 5,000-epoch MLP)",
     lambda f: s(f("run", "original", "wall_seconds")), ""),
    ("`--tasks seed` as a share of the original's time, same sitting (wall; CPU)",
     lambda f: f"{f('run', 'seed_ratio', 'wall'):.2f}×; {f('run', 'seed_ratio', 'cpu'):.2f}×",
     "≤ 0.10×"),
    ("`songpop reproduce` (default budget)",
     lambda f: s(f("run", "reproduce", "wall_seconds")), "≤ 90 s"),
    ("`songpop run --budget quick`", lambda f: s(f("run", "quick", "wall_seconds")), ""),
    ("`--budget quick`, each task's training, figures included (the slowest first)",
     lambda f: ", ".join(f"{task} {s(sec)}" for task, sec in sorted(
         f("run", "quick", "per_task_seconds").items(), key=lambda kv: -kv[1])), "≤ 15 s"),
    ("a fresh clone's first `make run`, install included (`bench_fresh`: install, with pip's "
     "cache as the machine has it; the run)",
     lambda f: f"{s(f('fresh', 'fresh_make_run', 'wall_seconds'))} "
               f"({s(f('fresh', 'install', 'wall_seconds'))}; "
               f"{s(f('fresh', 'run_after_install', 'wall_seconds'))}; "
               f"{f('fresh', 'repeats')} repeat(s))", "≤ 120 s"),
    ("`make test` in that clone (dev tools' install included; pytest's own time)",
     lambda f: f"{s(f('fresh', 'make_test', 'wall_seconds'))} "
               f"({s(f('fresh', 'make_test', 'suites')[0]['pytest_seconds'])}; "
               f"{f('fresh', 'make_test', 'suites')[0]['passed']} passed)", "≤ 180 s"),
    ("train + evaluate the whole registry on the seed task, alone (`bench_train`)",
     lambda f: s(f("train", "wall_seconds_median")), ""),
    ("`data build`, every file in the data folder",
     lambda f: f"{s(f('build', 'profiles', 'default', 'seconds_median'))}, peak "
               f"{f('build', 'profiles', 'default', 'peak_rss_mb'):.0f} MB", "< 10 s"),
    ("`data build --profile seed`",
     lambda f: s(f("build", "profiles", "seed", "seconds_median")), ""),
    ("explore + report on the seed songs, figures included",
     lambda f: s(f("explore", "median_total_s")), "< 15 s"),
    ("fine-tuned MLP fit, early stopping",
     lambda f: f"{s(f('mlp', 'finetuned_fit_seconds_median'))}, test accuracy "
               f"{f('mlp', 'finetuned_test_accuracy'):.3f}", "< 20 s"),
    ("single prediction, default model",
     lambda f: f"p50 {ms(f('predict', 'single', 'p50_ms'))}, "
               f"p99 {ms(f('predict', 'single', 'p99_ms'))}", "p50 < 2 ms"),
    ("single prediction with explanation",
     lambda f: f"p50 {ms(f('predict', 'single_with_explanation', 'p50_ms'))}", ""),
    ("batch scoring in memory (`predict_frame`, validation included)",
     lambda f: rate(f("predict", "batch_predict_frame", "rows_per_s")), "≥ 200,000 rows/s"),
    ("batch file end to end (`score_file`)",
     lambda f: f"Parquet {rate(f('predict', 'batch_score_file', 'parquet', 'rows_per_s'))}, "
               f"CSV {rate(f('predict', 'batch_score_file', 'csv', 'rows_per_s'))}", ""),
    ("batch file with `--explain`",
     lambda f: rate(f("predict", "batch_score_file_explained", "rows_per_s")), ""),
    ("API over loopback, one worker",
     lambda f: f"p50 {ms(f('api', 'latency_ms', 'p50'))}, p99 {ms(f('api', 'latency_ms', 'p99'))}"
               f", {f('api', 'errors')} errors in {f('api', 'requests'):,}", "p99 < 50 ms"),
    ("`songpop predict` for one song, new process",
     lambda f: f"{s(f('startup', 'songpop_predict_one_song', 'median_s'))}, "
               f"{f('startup', 'predict_over_import')} × `import pandas, sklearn.ensemble, "
               f"lightgbm` ({s(f('startup', 'import_pandas_sklearn_lightgbm', 'median_s'))})",
     "≤ 1.5 ×"),
    ("`songpop --help`, new process",
     lambda f: s(f("startup", "songpop_help", "median_s")), "< 1 s"),
    ("audio analysis, one core, per 3 minutes of audio (warm)",
     lambda f: s(f("audio", "speed", "warm_seconds_per_3_minutes_median")), "≤ 1 s"),
    ("audio analysis of a 3-minute song in a new process",
     lambda f: s(f("audio", "speed", "cold_new_process_seconds_median")), "≤ 10 s"),
    ("audio analysis of a 10-minute file, peak memory",
     lambda f: f"{f('audio', 'speed', 'ten_minute_file_peak_rss_mb'):.0f} MB (before the "
               f"analysis: {f('audio', 'speed', 'peak_rss_before_analysis_mb'):.0f} MB)",
     "≤ 500 MB"),
    ("local catalogue lookup, warm (title + artist)",
     lambda f: f"p50 {ms(f('lookup', 'exact_lookup', 'p50_ms'))}, "
               f"p99 {ms(f('lookup', 'exact_lookup', 'p99_ms'))}", "≤ 50 ms"),
    ("local catalogue: build and cache / load from cache",
     lambda f: f"{s(f('lookup', 'build_and_cache_s'))} / {s(f('lookup', 'load_from_cache_s'))}",
     ""),
    ("Dask: a catalogue of Parquet files, one process (`score_file`)",
     lambda f: f"{s(f('cluster', 'single_process', 'seconds'))} "
               f"({rate(f('cluster', 'single_process', 'rows_per_s'))})", ""),
    ("Dask: the same on the embedded cluster, 2 workers",
     lambda f: f"{s(f('cluster', 'cluster_2_workers', 'seconds'))} "
               f"({rate(f('cluster', 'cluster_2_workers', 'rows_per_s'))}; "
               f"{f('cluster', 'two_workers_cost_over_single'):+.1%} against one process)",
     "≤ +25%"),
    ("Dask: each worker's peak memory (whole catalogue / a quarter of it)",
     lambda f: f"{max(f('cluster', 'cluster_2_workers', 'worker_peak_rss_mb')):.0f} MB / "
               f"{max(f('cluster', QUARTER, 'worker_peak_rss_mb')):.0f} MB", "flat"),
    ("a folder of rendered songs: a plain loop / 2 Dask workers",
     lambda f: f"{s(f('cluster', 'audio_folder', 'loop_seconds'))} / "
               f"{s(f('cluster', 'audio_folder', 'cluster_seconds'))} "
               f"({f('cluster', 'audio_folder', 'files')} files)", ""),
]  # fmt: skip

CHECKS: list[Row] = [
    ("tempo within 2% of the MIDI tempo",
     lambda f: f"{pct(f('audio', 'accuracy', 'tempo_within_2pct'))} of "
               f"{f('audio', 'accuracy', 'tempo_songs')} songs", "85%"),
    ("tonic right / key and mode right",
     lambda f: f"{pct(f('audio', 'accuracy', 'tonic_hit_rate'))} / "
               f"{pct(f('audio', 'accuracy', 'key_mode_hit_rate'))} of "
               f"{f('audio', 'accuracy', 'key_songs')} songs", "75% / 80%"),
    ("time signature right",
     lambda f: f"{pct(f('audio', 'accuracy', 'meter_hit_rate'))} of "
               f"{f('audio', 'accuracy', 'meter_songs')} songs", ""),
    ("lookup: real titles found / made-up titles found",
     lambda f: f"{f('lookup', 'found', 'exact')} / {f('lookup', 'found', 'absent')}", ""),
]  # fmt: skip


def cell(read: Callable[[Callable[..., Any]], str], results: dict[str, Any]) -> str:
    try:
        return read(lambda bench, *path: figure(results, bench, *path))
    except Missing:
        return MISSING


def table(rows: list[Row], results: dict[str, Any]) -> list[str]:
    lines = ["| what | measured | aim |", "|---|---|---|"]
    return lines + [f"| {what} | {cell(read, results)} | {aim} |" for what, read, aim in rows]


def render(results: dict[str, Any] | None, source: str) -> str:
    """The block between the markers, for one results file (None: not measured yet)."""
    if results is None:
        return (
            f"Figures: not measured yet. `make bench` writes `{source}`; then "
            "`make speed-page` puts them here."
        )
    started = _when(results["started"])
    machine = results.get("machine", {})
    lines = [
        f"Figures from the `make bench` run of {started} (`{source}`; "
        f"{machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')}). "
        "Timings vary with the machine and its load: compare runs made side by side.",
        *_dates(results),
        "",
        *table(TIMES, results),
        "",
        "What the same run measured besides time:",
        "",
        *table(CHECKS, results),
    ]
    failed = [
        f"- {name}: failed ({entry.get('figures', {}).get('error', 'no message')})"
        for name, entry in results.get("benchmarks", {}).items()
        if entry.get("status") != "ok"
    ]
    if failed:
        lines += ["", "Benchmarks that failed in this run:", "", *failed]
    return "\n".join(lines)


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _dates(results: dict[str, Any]) -> list[str]:
    """When each benchmark ran, when they did not all run in the file's own run (`run_all
    --only` keeps the others' last figures), with the load average before each."""
    entries = results.get("benchmarks", {})
    own = results["started"]
    if all((e.get("started") or own) >= own for e in entries.values()):
        return []  # every figure is from this run
    parts = []
    for name, entry in sorted(entries.items(), key=lambda kv: kv[1].get("started") or own):
        load = entry.get("load_before")
        parts.append(
            f"`{name}` {_when(entry.get('started') or own)}"
            + (f" (load {load})" if load is not None else "")
        )
    return ["", "Not every benchmark ran in that run; each one's figures are from: "
            + "; ".join(parts) + "."]  # fmt: skip


def replace_block(text: str, block: str, page: Path) -> str:
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"{page}: expected one pair of markers {BEGIN!r} … {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "speed.md")
    args = parser.parse_args(argv)
    path = args.results / "results.json"
    results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if results is None:
        print(f"{path}: not found (run `make bench`); {args.page} says 'not measured yet'")
    source = "bench-results/results.json"
    text = args.page.read_text(encoding="utf-8")
    new = replace_block(text, render(results, source), args.page)
    if new != text:
        args.page.write_text(new, encoding="utf-8")
        print(f"{args.page}: figures written")
    return 0


if __name__ == "__main__":
    sys.exit(main())

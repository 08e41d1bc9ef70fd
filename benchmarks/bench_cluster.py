"""The Dask path at catalogue scale, against the single-process path on the same machine.

Catalogue: 10,000,000 rows in 20 Parquet files of 500,000, made by resampling the seed tracks'
real audio features (seeded). Scored with the run's default model (bench_predict's fallback
when there is no run):
- single process: `score_file` on each file in turn, in this process;
- the embedded `LocalCluster` with 1 and with 2 single-threaded workers (one per core),
  `inference.dask_cluster.score_files` (one task per file, the same `score_file`);
each timed once end to end (the cluster's start-up included, in its own figure), with every
worker's peak resident memory (`ru_maxrss`). Aim (issue 13): the distributed path costs no
more than 25% over the single process on this 2-core machine, and a worker's memory stays flat
as the catalogue grows (measured at 2.5M and 10M rows).

Audio: 200 rendered songs (the 43 renders of bench_audio, linked 5 times over under distinct
names): a plain loop of `analyze` in this process against `analyze_folder` on 2 workers.

Usage: python -m benchmarks.bench_cluster [--out DIR] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from songpop.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
FILES = 20
ROWS = 10_000_000


def make_catalogue(folder: Path, feature_names: list[str], rows: int, files: int) -> Path:
    """`files` Parquet files of real seed features resampled with a little noise (seeded)."""
    from benchmarks.bench_predict import _seed_table

    folder.mkdir(parents=True, exist_ok=True)
    table = _seed_table()[feature_names].dropna().reset_index(drop=True)
    rng = np.random.default_rng(0)
    per = rows // files
    for i in range(files):
        path = folder / f"part-{i:03d}.parquet"
        if path.is_file():
            continue
        sample = table.iloc[rng.integers(0, len(table), per)].reset_index(drop=True)
        sample.insert(0, "track_id", [f"t{i:03d}{j:07d}" for j in range(per)])
        sample.to_parquet(path, index=False)
    return folder


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def single_process(files: list[Path], bundle: object, out: Path) -> dict:
    from songpop.inference import score_file

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = 0
    for i, path in enumerate(files):
        rows += score_file(path, out / f"part-{i:05d}.parquet", bundle)["rows_in"]
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


def on_cluster(spec: str, bundle_path: Path, out: Path, workers: int) -> dict:
    from distributed import Client

    from songpop.inference.dask_cluster import local_cluster, score_files

    t0 = time.perf_counter()
    cluster = local_cluster(workers)
    client = Client(cluster)
    start_up = time.perf_counter() - t0
    try:
        started = time.perf_counter()
        summary = score_files(client, spec, out, bundle_path)
        seconds = time.perf_counter() - started
        peaks = client.run(_peak_rss_mb)
    finally:
        client.close()
        cluster.close()
    rows = summary["rows_in"]
    return {
        "workers": workers,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "cluster_start_s": round(start_up, 2),
        "with_start_rows_per_s": round(rows / (seconds + start_up)),
        "worker_peak_rss_mb": sorted(round(v, 1) for v in peaks.values()),
    }


def audio_folder(out_dir: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import audio_support as A
    from benchmarks.bench_audio import corpus
    from songpop.audio import analyze
    from songpop.inference.dask_cluster import analyze_folder, connect

    folder = out_dir / "songs200"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    renders = [wav for _, wav, _ in corpus()]
    for n in range(200):
        src = renders[n % len(renders)]
        (folder / f"{n:03d}-{src.name}").symlink_to(src)
    files = sorted(folder.iterdir())
    minutes = sum(A.read(f)[0].shape[0] / A.RATE for f in files[: len(renders)]) * 200 / len(
        renders) / 60  # fmt: skip
    analyze(files[0])  # warm this process (numba cache, filters)
    started = time.perf_counter()
    for f in files:
        analyze(f)
    loop = time.perf_counter() - started
    client = connect("local")
    try:
        client.run(lambda: __import__("songpop.audio.describe"))
        started = time.perf_counter()
        summary = analyze_folder(client, folder, out_dir / "songs200.parquet")
        spread = time.perf_counter() - started
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    return {
        "files": len(files),
        "audio_minutes": round(minutes, 1),
        "loop_seconds": round(loop, 1),
        "loop_files_per_s": round(len(files) / loop, 2),
        "cluster_workers": 2,
        "cluster_seconds": round(spread, 1),
        "cluster_files_per_s": round(len(files) / spread, 2),
        "analysed": summary["analysed"],
        "failed": summary["failed"],
        "speed_up": round(loop / spread, 2),
    }


def main(out_dir: Path, rows: int = ROWS) -> dict:
    from benchmarks.bench_predict import default_bundle

    out_dir.mkdir(parents=True, exist_ok=True)
    bundle, source = default_bundle(out_dir)
    data = out_dir / "catalogue"
    make_catalogue(data, bundle.feature_names, rows, FILES)
    files = sorted(data.glob("part-*.parquet"))
    quarter = files[: len(files) // 4]
    small = out_dir / "catalogue_quarter"
    small.mkdir(exist_ok=True)
    for f in quarter:
        if not (small / f.name).exists():
            (small / f.name).symlink_to(f.resolve())
    results: dict = {"model": bundle.model_id, "model_source": source, "files": len(files),
                     "cpus": len(os.sched_getaffinity(0))}  # fmt: skip
    results["single_process"] = single_process(files, bundle, out_dir / "single")
    shutil.rmtree(out_dir / "single", ignore_errors=True)
    for workers in (1, 2):
        target = out_dir / f"scored_{workers}"
        shutil.rmtree(target, ignore_errors=True)
        results[f"cluster_{workers}_workers"] = on_cluster(str(data), bundle.path, target, workers)
        shutil.rmtree(target, ignore_errors=True)
    target = out_dir / "scored_quarter"
    results["cluster_2_workers_quarter_catalogue"] = on_cluster(str(small), bundle.path, target, 2)
    shutil.rmtree(target, ignore_errors=True)
    single = results["single_process"]["seconds"]
    two = results["cluster_2_workers"]["seconds"]
    results["two_workers_cost_over_single"] = round(two / single - 1, 3)
    results["one_worker_cost_over_single"] = round(
        results["cluster_1_workers"]["seconds"] / single - 1, 3
    )
    results["aim"] = "distributed costs <= 25% over single-process; worker memory flat"
    results["audio_folder"] = audio_folder(out_dir)
    write_json_atomic(results, out_dir / "cluster.json")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "cluster")
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    print(json.dumps(main(args.out, args.rows), indent=2))

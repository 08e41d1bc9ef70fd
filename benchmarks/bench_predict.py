"""Prediction speed: in-process single-record latency and batch throughput, default model.

Targets (issue 5): single prediction p50 under 2 ms; batch scoring at least 200,000 rows/s.

The model is the default model of the last run (`runs/LATEST`). When there is no run yet, the
benchmark trains the registry's LightGBM pipeline on the seed matched track file itself and says
so in its figures (`model_source`).

Usage: python -m benchmarks.bench_predict [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from songpop import config
from songpop.bundle import Bundle, load_bundle, resolve_model, save_bundle
from songpop.errors import BundleError
from songpop.io import write_json_atomic

SINGLE_CALLS = 1_000
BATCH_ROWS = 200_000
REPEATS = 3
SEED_TRACKS = "tracks/spotify_1921-2020_seed_matched.csv.gz"


def _seed_table() -> pd.DataFrame:
    return pd.read_csv(config.data_dir() / SEED_TRACKS)


def seed_levels(table: pd.DataFrame) -> pd.Series:
    """The report's label: popularity terciles (seed profile), one row per title kept as is."""
    y = pd.qcut(table["popularity"].rank(method="first"), 3, labels=list(config.LEVELS))
    return y.astype(str)


def save_seed_bundle(
    est: Any, folder: Path, model_id: str, X: pd.DataFrame, y: pd.Series, **fields: Any
) -> Path:
    """Save a model trained on the seed tracks' audio features as a benchmark bundle."""
    return save_bundle(
        est,
        folder,
        model_id=model_id,
        feature_names=list(X.columns),
        classes=[str(c) for c in est.classes_],
        label_strategy="spotify",
        feature_set="audio",
        metrics={},
        train_table_sha256="benchmark",
        reference_X=X,
        reference_y=y,
        task="seed",
        **fields,
    )


def default_bundle(out_dir: Path) -> tuple[Bundle, str]:
    """The run's default model, or a LightGBM pipeline trained here on the seed tracks."""
    try:
        path = resolve_model(None)
        return load_bundle(path), f"default model of the last run ({path})"
    except BundleError as exc:
        reason = str(exc)
    from songpop.models.registry import MODELS

    table = _seed_table()
    features = list(config.AUDIO_FEATURES)
    y = seed_levels(table)
    est = MODELS["lgbm"].build(features, config.SEED)
    est.fit(table[features], y)
    path = save_seed_bundle(est, out_dir / "bench_model", "lgbm", table[features], y)
    return load_bundle(path), (
        f"no run found ({reason.split(';')[0]}); trained the registry's LightGBM pipeline "
        f"({est.get_params()['model__n_estimators']} trees) on {SEED_TRACKS} ({len(table):,} "
        "rows) inside the benchmark"
    )


def _records(bundle: Bundle, n: int) -> list[dict[str, Any]]:
    table = _seed_table()
    if not all(f in table.columns for f in bundle.feature_names):
        sample = bundle.reference_sample()
        table = sample if sample is not None else table
    rows = table[bundle.feature_names].dropna().head(n)
    out = []
    for record in rows.to_dict("records"):
        out.append({k: (int(v) if k == "key" else float(v)) for k, v in record.items()})
    return out


def single_latency(bundle: Bundle, *, explain: bool = False, calls: int = SINGLE_CALLS) -> dict:
    """p50 / p99 of `predict(record)` over `calls` different records, median of REPEATS runs."""
    from songpop.inference import predict

    records = _records(bundle, 500)
    for record in records[:20]:  # warm-up: load the explainer
        predict(record, bundle, explain=explain)
    p50s, p99s = [], []
    for _ in range(REPEATS):
        times = np.empty(calls)
        for i in range(calls):
            record = records[i % len(records)]
            t0 = time.perf_counter()
            predict(record, bundle, explain=explain)
            times[i] = time.perf_counter() - t0
        p50s.append(float(np.percentile(times, 50)) * 1e3)
        p99s.append(float(np.percentile(times, 99)) * 1e3)
    return {
        "calls_per_run": calls,
        "runs": REPEATS,
        "p50_ms": round(statistics.median(p50s), 4),
        "p99_ms": round(statistics.median(p99s), 4),
        "p50_ms_runs": [round(v, 4) for v in p50s],
        "p99_ms_runs": [round(v, 4) for v in p99s],
    }


def batch_frame(bundle: Bundle, rows: int = BATCH_ROWS) -> pd.DataFrame:
    """At least `rows` real rows: the seed tracks repeated, with a title column kept."""
    table = _seed_table().rename(columns={"name": "title", "artists": "artist"})
    reps = -(-rows // len(table))
    big = pd.concat([table] * reps, ignore_index=True).iloc[:rows]
    return big[["title", "artist", *bundle.feature_names]]


def batch_throughput(bundle: Bundle, big: pd.DataFrame) -> dict:
    """rows/s of `predict_frame` on an in-memory table (validation included), median of runs."""
    from songpop.inference import predict_frame

    predict_frame(big.head(5000), bundle)  # warm-up
    rates = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = predict_frame(big, bundle)
        rates.append(len(big) / (time.perf_counter() - t0))
    assert len(out) == len(big)
    return {
        "rows": len(big),
        "runs": REPEATS,
        "rows_per_s": round(statistics.median(rates)),
        "rows_per_s_runs": [round(r) for r in rates],
    }


def file_throughput(bundle: Bundle, big: pd.DataFrame, out_dir: Path, repeats: int) -> dict:
    """rows/s of `score_file` end to end (read, canonicalise, validate, score, write)."""
    from songpop.inference import score_file

    results = {}
    for fmt in ("parquet", "csv"):
        src = out_dir / f"batch.{fmt}"
        if fmt == "parquet":
            big.to_parquet(src, index=False)
        else:
            big.to_csv(src, index=False)
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            summary = score_file(src, out_dir / "scored.parquet", bundle)
            rates.append(summary["rows_in"] / (time.perf_counter() - t0))
        results[fmt] = {
            "rows": summary["rows_in"],
            "scored": summary["scored"],
            "rejected": summary["rejected"],
            "layout": summary["layout"],
            "rows_per_s": round(statistics.median(rates)),
            "rows_per_s_runs": [round(r) for r in rates],
        }
        src.unlink()
    (out_dir / "scored.parquet").unlink(missing_ok=True)
    return results


def explained_file_throughput(bundle: Bundle, big: pd.DataFrame, out_dir: Path) -> dict:
    """rows/s of `score_file(..., explain=True)` on 20,000 rows (Parquet in and out)."""
    from songpop.inference import score_file

    src = out_dir / "explain.parquet"
    big.head(20_000).to_parquet(src, index=False)
    t0 = time.perf_counter()
    summary = score_file(src, out_dir / "explained.parquet", bundle, explain=True)
    seconds = time.perf_counter() - t0
    src.unlink()
    (out_dir / "explained.parquet").unlink(missing_ok=True)
    return {
        "rows": summary["rows_in"],
        "scored": summary["scored"],
        "unit": summary["explanation_unit"],
        "rows_per_s": round(summary["rows_in"] / seconds),
    }


def main(out_dir: Path) -> dict:
    """Run the prediction benchmarks and return their figures (also written to predict.json)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    bundle, source = default_bundle(out_dir)
    train_seconds = time.perf_counter() - t0
    big = batch_frame(bundle)
    single = single_latency(bundle)
    explained = single_latency(bundle, explain=True, calls=100)
    batch = batch_throughput(bundle, big)
    # A slow model (an SVC inside the ensemble) scores a file once per format, not three times.
    repeats = REPEATS if batch["rows_per_s"] >= 50_000 else 1
    files = file_throughput(bundle, big, out_dir, repeats)
    explained_file = explained_file_throughput(bundle, big, out_dir)
    figures = {
        "model_id": bundle.model_id,
        "model_path": str(bundle.path),
        "model_source": source,
        "model_setup_s": round(train_seconds, 2),
        "single": single,
        "single_target_p50_ms": 2.0,
        "single_meets_target": single["p50_ms"] < 2.0,
        "single_with_explanation": explained,
        "batch_predict_frame": batch,
        "batch_target_rows_per_s": 200_000,
        "batch_meets_target": batch["rows_per_s"] >= 200_000,
        "batch_score_file": files,
        "batch_score_file_explained": explained_file,
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }
    write_json_atomic(figures, out_dir / "predict.json")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "predict")
    args = parser.parse_args()
    print(json.dumps(main(args.out), indent=2))
    sys.exit(0)

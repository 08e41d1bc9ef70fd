"""What a saved model costs to serve, measured through the one predict path.

`measure_speed` times a bundle as the interfaces use it: single `predict()` calls (p50, p99)
and `predict_frame()` on a large batch (rows/s); `meets_targets` compares the figures with
`config.SERVING_TARGETS`. `make bench` reports them for every registry model. They are never
used to choose the default model: timings vary with the machine and its load, and the same data
and seed must choose the same default everywhere (`songpop.bundle.models_index.choose_default` reads
whether a bundle is scored through its ONNX graph instead).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from songpop import config
from songpop.bundle import Bundle
from songpop.vocabulary import is_categorical

SINGLE_CALLS = 101
"""Single-record predictions timed per model (after a warm-up)."""
BATCH_ROWS = 100_000
"""Rows of the timed batch (the benchmark uses 200,000)."""
PROBE_ROWS = 10_000
"""Rows of a first, short batch: a model far below the target is not timed further."""
REPEATS = 3


def measure_speed(
    bundle: Bundle,
    X: pd.DataFrame,
    *,
    single_calls: int = SINGLE_CALLS,
    batch_rows: int = BATCH_ROWS,
    probe_rows: int = PROBE_ROWS,
    repeats: int = REPEATS,
    targets: Mapping[str, float] = config.SERVING_TARGETS,
) -> dict[str, Any]:
    """Time `predict()` on single records and `predict_frame()` on a batch, as served.

    Args:
        bundle: the loaded bundle (its ONNX session is built by the warm-up).
        X: real rows with the bundle's features (e.g. the training features); rows with a
            missing or out-of-range value are left out, the rest tiled up to `batch_rows`.
        single_calls: how many single records to time (different rows in turn).
        batch_rows: rows of the timed batch.
        probe_rows: rows of a first batch; when it runs below half the batch target the model
            is not timed on the full batch (the probe's rate is recorded).
        repeats: full batches timed; the median rate is kept.
        targets: the serving targets, for the early stop.

    Returns:
        `single_p50_ms`, `single_p99_ms`, `batch_rows_per_s`, `batch_rows` (rows timed),
        `cpus`.
    """
    # late: loads unidecode (start-up)
    from songpop.inference import predict, predict_frame, validate_frame

    values, ok, _ = validate_frame(X, bundle.feature_names)
    rows = X.loc[ok, list(bundle.feature_names)].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"{bundle.model_id}: no valid rows to time the model on")
    records = [_record(bundle, r) for r in values[ok][:single_calls]]
    for record in records[:5]:
        predict(record, bundle)
    times = []
    for i in range(single_calls):
        t0 = time.perf_counter()
        predict(records[i % len(records)], bundle)
        times.append(time.perf_counter() - t0)
    big = _tile(rows, batch_rows)
    predict_frame(big.head(min(len(big), 5_000)), bundle)  # warm-up
    t0 = time.perf_counter()
    predict_frame(big.head(probe_rows), bundle)
    probe = min(probe_rows, len(big)) / (time.perf_counter() - t0)
    rates, timed = [probe], min(probe_rows, len(big))
    if probe >= targets["batch_rows_per_s"] / 2:
        rates, timed = [], len(big)
        for _ in range(repeats):
            t0 = time.perf_counter()
            predict_frame(big, bundle)
            rates.append(len(big) / (time.perf_counter() - t0))
    return {
        "single_p50_ms": round(float(np.percentile(times, 50)) * 1e3, 4),
        "single_p99_ms": round(float(np.percentile(times, 99)) * 1e3, 4),
        "batch_rows_per_s": round(statistics.median(rates)),
        "batch_rows": timed,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def _record(bundle: Bundle, row: np.ndarray) -> dict[str, float | int]:
    return {
        name: int(v) if is_categorical(name) else float(v)
        for name, v in zip(bundle.feature_names, row, strict=True)
    }


def _tile(rows: pd.DataFrame, n: int) -> pd.DataFrame:
    reps = -(-n // len(rows))
    return pd.concat([rows] * reps, ignore_index=True).iloc[:n]


def meets_targets(
    speed: Mapping[str, Any] | None, targets: Mapping[str, float] = config.SERVING_TARGETS
) -> bool:
    """Whether measured serving figures meet the targets (unmeasured: no)."""
    if not speed:
        return False
    return (
        speed["single_p50_ms"] < targets["single_p50_ms"]
        and speed["batch_rows_per_s"] >= targets["batch_rows_per_s"]
    )

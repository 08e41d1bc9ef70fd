"""What a saved model costs to serve, and the choice of the default model.

`songpop predict` and `songpop serve` use one model when none is named: the default model of the
last run. That model answers every interface, so it has to be fast enough for their targets
(`config.SERVING_TARGETS`: a single prediction under 2 ms at the median, batch scoring at least
200,000 rows/s). As AutoGluon's `infer_limit` does, the default is the best model by
cross-validated accuracy *among those that meet the targets*, each measured on this machine
through the one predict path (`songpop.predict`) right after its bundle is saved, as long as it
gives up at most `config.SERVING_TOLERANCE` (1 point) of cross-validated accuracy; past that,
the best model is kept and the targets are said to be missed. A model that is best by a hair
but ten times slower (a soft-voting ensemble with a nearest-neighbour member) stays in the index
and can be asked for by id; it is just not the default.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping, Sequence
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
        bundle: the loaded bundle (its compiled fast path is built by the warm-up).
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
    predict_frame(big.head(min(len(big), 5_000)), bundle)  # compile the batch kernels
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


def choose_default(
    entries: Sequence[Mapping[str, Any]],
    targets: Mapping[str, float] = config.SERVING_TARGETS,
    tolerance: float = config.SERVING_TOLERANCE,
) -> tuple[str, str]:
    """The default model among a task's audio-only models, and why it was chosen.

    Args:
        entries: one per model: `id`, `model`, `cv_accuracy` and `serving` (the figures of
            `measure_speed`, or None when not measured). The dummy baseline is never chosen.
        targets: `single_p50_ms` (below) and `batch_rows_per_s` (at least).
        tolerance: the most cross-validated accuracy given up for speed.

    Returns:
        (bundle id, a sentence saying why): the best by cross-validated accuracy among the
        models that meet the targets, if it is within `tolerance` of the best; else the best by
        cross-validated accuracy (and the sentence says the targets are not met).
    """
    ranked = sorted(
        (e for e in entries if e.get("model") != "dummy"),
        key=lambda e: -(e.get("cv_accuracy") or 0.0),
    )
    if not ranked:
        ranked = list(entries)
    if not ranked:
        raise ValueError("no model to choose a default from")
    best = ranked[0]
    fast = [e for e in ranked if meets_targets(e.get("serving"), targets)]
    goal = (
        f"single p50 < {targets['single_p50_ms']:g} ms, batch >= "
        f"{targets['batch_rows_per_s']:,.0f} rows/s"
    )
    close = [e for e in fast if e["cv_accuracy"] >= best["cv_accuracy"] - tolerance - 1e-12]
    if not close:
        nearest = (
            f"; the best that does, {fast[0]['id']} ({fast[0]['cv_accuracy']:.4f}), is more "
            f"than {100 * tolerance:g} point(s) below it"
            if fast
            else ""
        )
        return str(best["id"]), (
            f"best by cross-validated accuracy ({best['cv_accuracy']:.4f}), {_speed(best)}: "
            f"it does not meet the serving targets ({goal}){nearest}"
        )
    chosen = close[0]
    if chosen is best:
        return str(best["id"]), (
            f"best by cross-validated accuracy ({best['cv_accuracy']:.4f}) and within the "
            f"serving targets ({_speed(best)})"
        )
    return str(chosen["id"]), (
        f"best by cross-validated accuracy ({chosen['cv_accuracy']:.4f}) among the models that "
        f"meet the serving targets ({goal}; {_speed(chosen)}); {best['id']} has the best "
        f"({best['cv_accuracy']:.4f}, at most {100 * tolerance:g} point(s) more) but "
        f"{_speed(best)}"
    )


def _speed(entry: Mapping[str, Any]) -> str:
    speed = entry.get("serving")
    if not speed:
        return "was not timed"
    return (
        f"single p50 {speed['single_p50_ms']:.2f} ms, batch {speed['batch_rows_per_s']:,.0f} rows/s"
    )

"""Scoring paths per model family: the estimator's own predict_proba against its ONNX graph.

Every default registry model is trained at its registry defaults on the seed tracks, saved once
without and once with its ONNX graph, and timed through the one predict path
(`songpop.serving.measure_speed`: single `predict()` p50/p99, `predict_frame()` rows/s). The
figures back the default-model rule (a bundle with an ONNX graph is fast to serve) and say what
the graphs buy.

Usage: python -m benchmarks.bench_scoring [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from benchmarks.bench_predict import save_seed_bundle, seed_levels
from songpop import config
from songpop.bundle import load_bundle
from songpop.io import write_json_atomic
from songpop.serving import measure_speed, meets_targets

SEED_TRACKS = "tracks/spotify_1921-2020_seed_matched.csv.gz"
FIT_ROWS = 6_000


def main(out_dir: Path) -> dict:
    """Train, save and time each default registry model both ways."""
    from songpop.models.registry import MODELS, default_models

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(config.data_dir() / SEED_TRACKS)
    features = list(config.AUDIO_FEATURES)
    y = seed_levels(table)
    fit = table.sample(n=FIT_ROWS, random_state=config.SEED)
    figures: dict = {"fit_rows": FIT_ROWS, "targets": config.SERVING_TARGETS, "models": {}}
    for name in default_models():
        if name == "dummy":
            continue
        t0 = time.perf_counter()
        est = MODELS[name].build(features, config.SEED).fit(fit[features], y.loc[fit.index])
        entry: dict = {"fit_s": round(time.perf_counter() - t0, 2)}
        for compiled in (False, True):
            path = save_seed_bundle(
                est,
                out_dir / f"{name}_{'onnx' if compiled else 'estimator'}",
                name,
                fit[features],
                y.loc[fit.index],
                compile=compiled,
            )
            bundle = load_bundle(path)
            if compiled and bundle.compiled is None:
                entry["onnx"] = None
                continue
            speed = measure_speed(bundle, table[features])
            speed["meets_targets"] = meets_targets(speed)
            if compiled:
                speed["check"] = bundle.compiled
            entry["onnx" if compiled else "estimator"] = speed
        figures["models"][name] = entry
        print(name, json.dumps(entry), flush=True)
    write_json_atomic(figures, out_dir / "scoring.json")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results/scoring"))
    print(json.dumps(main(parser.parse_args().out), indent=2))

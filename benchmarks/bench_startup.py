"""Start-up: whole-process timings of `songpop --help` and of one prediction from the shell.

Target (issue 9): `songpop predict` for one song with a tree-model bundle, from a new process,
in at most 1.5x the time of `python -c "import pandas, sklearn.ensemble, lightgbm"` (the
libraries such a model needs), and `songpop --help` under 1 s. Medians of 5 runs each, the
ratio from the same run.

Usage: python -m benchmarks.bench_startup [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from songpop.io import write_json_atomic

RUNS = 5
SONG = {
    "danceability": 0.7,
    "energy": 0.8,
    "loudness": -5,
    "acousticness": 0.1,
    "instrumentalness": 0,
    "liveness": 0.1,
    "speechiness": 0.05,
    "tempo": 120,
    "valence": 0.5,
    "duration-ms": 200000,
    "key": 5,
}


def _time(command: list[str], runs: int = RUNS) -> dict:
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-500:]}")
    return {
        "median_s": round(statistics.median(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
    }


def main(out_dir: Path) -> dict:
    """Time the commands and return the figures (also written to startup.json)."""
    from benchmarks.bench_predict import default_bundle

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle, source = default_bundle(out_dir)
    songpop = str(Path(sys.executable).with_name("songpop"))
    options = [x for k, v in SONG.items() for x in (f"--{k}", str(v))]
    imports = _time([sys.executable, "-c", "import pandas, sklearn.ensemble, lightgbm"])
    predict = _time([songpop, "predict", "--model", str(bundle.path), *options])
    help_ = _time([songpop, "--help"])
    figures = {
        "model_id": bundle.model_id,
        "model_source": source,
        "scored_by": "onnx" if bundle.compiled else "estimator",
        "import_pandas_sklearn_lightgbm": imports,
        "songpop_predict_one_song": predict,
        "songpop_help": help_,
        "predict_over_import": round(predict["median_s"] / imports["median_s"], 2),
        "targets": {"predict_over_import": 1.5, "help_s": 1.0},
    }
    write_json_atomic(figures, out_dir / "startup.json")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results/startup"))
    print(json.dumps(main(parser.parse_args().out), indent=2))

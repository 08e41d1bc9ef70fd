"""How long the fine-tuned MLP takes to train on the seed task, and the accuracy it reaches.

The seed task is the report's: the 13,659 matched Spotify rows, one row per title (highest
popularity), `qcut(popularity, 3)` → low / medium / high, the 22 audio inputs (10 numeric scaled,
`key` one-hot), split `test_size=0.2, random_state=42` as the original MLP notebook. The report took
about 70 s for 5,000 full-batch epochs; the target is under 20 s on a 2-core machine. The CPU time
of the process and the load average are recorded too: on a shared machine the wall time mostly
measures the other jobs.

Run: `python -m benchmarks.run_all --only mlp --out bench-results`.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from songpop import config
from songpop.io import write_json_atomic
from songpop.models.mlp import mlp_baseline, mlp_finetuned, plot_training_curves

SEED_FILE = "tracks/spotify_1921-2020_seed_matched.csv.gz"
RUNS = 3


def load_seed_task(data_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The report's table: one row per title (highest popularity), three popularity levels."""
    tracks = pd.read_csv(data_dir / SEED_FILE)
    songs = tracks.sort_values("popularity", ascending=False, kind="stable").drop_duplicates("name")
    levels = pd.qcut(songs["popularity"], 3, labels=list(config.LEVELS)).astype(str)
    return songs[list(config.AUDIO_FEATURES)].reset_index(drop=True), levels.reset_index(drop=True)


def mlp_pipeline(estimator) -> Pipeline:
    """Scale the numeric inputs, one-hot `key` (12 columns), then the network: 22 inputs."""
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), list(config.AUDIO_NUMERIC)),
            (
                "key",
                OneHotEncoder(categories=[list(range(12))], handle_unknown="ignore"),
                ["key"],
            ),
        ],
        sparse_threshold=0.0,
    )
    return Pipeline([("prep", prep), ("mlp", estimator)])


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> list[float]:
    """95% Wilson score interval of an accuracy measured on `n` test rows."""
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * ((accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) ** 0.5)
    return [round(centre - half, 4), round(centre + half, 4)]


def _fit_timed(make, X_tr, y_tr, X_te, y_te) -> tuple[float, float, float, Pipeline]:
    """Wall seconds, CPU seconds of this process, test accuracy, the fitted pipeline."""
    pipe = mlp_pipeline(make())
    t0, c0 = time.perf_counter(), time.process_time()
    pipe.fit(X_tr, y_tr)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, float((pipe.predict(X_te) == y_te.to_numpy()).mean()), pipe


def main(out_dir: Path) -> dict:
    """Fit the fine-tuned preset 3 times (median wall time), the baseline once; return figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    X, y = load_seed_task(config.data_dir())
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=42)

    load_before = os.getloadavg()[0]
    times, cpus, accs = [], [], []
    for _ in range(RUNS):
        seconds, cpu, acc, pipe = _fit_timed(
            lambda: mlp_finetuned(random_state=config.SEED), X_tr, y_tr, X_te, y_te
        )
        times.append(seconds)
        cpus.append(cpu)
        accs.append(acc)
    mlp = pipe.named_steps["mlp"]
    plot_training_curves(
        mlp.history_,
        out_dir / "mlp_finetuned_curves.png",
        out_dir / "mlp_finetuned_curves.svg",
        title="Fine-tuned MLP 22-128-64-32-3 on the seed task (validation = 10% of training rows)",
        best_epoch=mlp.best_epoch_,
    )
    base_seconds, _, base_acc, base_pipe = _fit_timed(
        lambda: mlp_baseline(random_state=config.SEED), X_tr, y_tr, X_te, y_te
    )
    dummy = DummyClassifier(strategy="most_frequent").fit(X_tr, y_tr)
    kept = mlp.history_[mlp.best_epoch_ - 1]
    figures = {
        "train_rows": len(X_tr),
        "test_rows": len(X_te),
        "inputs": int(mlp.n_features_in_),
        "finetuned_fit_seconds_median": round(statistics.median(times), 2),
        "finetuned_fit_seconds_runs": [round(t, 2) for t in times],
        "finetuned_fit_cpu_seconds_median": round(statistics.median(cpus), 2),
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "finetuned_epochs_run": mlp.n_epochs_,
        "finetuned_best_epoch": mlp.best_epoch_,
        "finetuned_val_accuracy_at_best": round(kept["val_accuracy"], 4),
        "finetuned_test_accuracy": round(accs[-1], 4),
        "finetuned_test_accuracy_95ci": wilson_interval(accs[-1], len(y_te)),
        "finetuned_test_accuracy_same_every_run": bool(np.ptp(accs) == 0),
        "finetuned_params": {
            k: v
            for k, v in mlp.get_params().items()
            if k in ("hidden_layer_sizes", "batch_size", "max_epochs", "patience", "lr", "dropout")
        },
        "baseline_fit_seconds": round(base_seconds, 2),
        "baseline_epochs_run": base_pipe.named_steps["mlp"].n_epochs_,
        "baseline_test_accuracy": round(base_acc, 4),
        "baseline_test_accuracy_95ci": wilson_interval(base_acc, len(y_te)),
        "dummy_most_frequent_test_accuracy": round(float(dummy.score(X_te, y_te)), 4),
        "report_finetuned_test_accuracy": 0.5352,
        "report_finetuned_seconds": 70,
        "target_seconds": 20,
    }
    write_json_atomic(figures, out_dir / "bench_mlp.json")
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(main(Path("bench-results/mlp")), indent=2))

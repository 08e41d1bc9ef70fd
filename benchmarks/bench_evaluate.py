"""How fast the evaluation is: bootstrap intervals, the full metric set, and the figures.

Target: 1,000 bootstrap resamples of 2,400 test rows (the seed split's 2,379) in well under a
second for accuracy. Inputs are random labels and Dirichlet probabilities of that size; only the
time matters here, not the scores.

Run: `python -m benchmarks.run_all --only evaluate --out bench-results`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from songpop.evaluation import (
    bootstrap_ci,
    classification_metrics,
    evaluate_classifier,
    plot_confusion_matrix,
    plot_reliability,
)

N_ROWS = 2400
N_BOOT = 1000
REPEATS = 5
CLASSES = ["high", "low", "medium"]


def _median_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(out_dir: Path) -> dict:  # noqa: ARG001  (every benchmark's signature)
    """Time each evaluation step on a 2,400-row, three-class test set; medians of 5 runs."""
    rng = np.random.default_rng(0)
    y = rng.choice(CLASSES, N_ROWS)
    proba = rng.dirichlet([1, 1, 1], N_ROWS)
    pred = np.array(CLASSES)[proba.argmax(axis=1)]
    y_train = rng.choice(CLASSES, 3 * N_ROWS)

    figures: dict[str, float] = {}
    for metric in ("accuracy", "macro_f1", "balanced_accuracy", "qwk", "log_loss", "brier"):
        figures[f"bootstrap_{metric}_s"] = _median_seconds(
            lambda m=metric: bootstrap_ci(y, proba, m, n_boot=N_BOOT, classes=CLASSES)
        )
    figures["bootstrap_roc_auc_s"] = _median_seconds(
        lambda: bootstrap_ci(y, proba, "roc_auc", n_boot=N_BOOT, classes=CLASSES), repeats=3
    )
    figures["bootstrap_accuracy_labels_s"] = _median_seconds(
        lambda: bootstrap_ci(y, pred, "accuracy", n_boot=N_BOOT)
    )
    figures["classification_metrics_s"] = _median_seconds(
        lambda: classification_metrics(y, proba, CLASSES)
    )
    figures["evaluate_classifier_s"] = _median_seconds(
        lambda: evaluate_classifier(
            y, proba, CLASSES, y_train=y_train, task="bench", feature_set="audio", model="x"
        ),
        repeats=3,
    )
    m = classification_metrics(y, proba, CLASSES)
    with tempfile.TemporaryDirectory() as tmp:
        figures["plot_confusion_matrix_s"] = _median_seconds(
            lambda: plot_confusion_matrix(m["confusion_matrix"], m["labels"], Path(tmp) / "cm"),
            repeats=3,
        )
        figures["plot_reliability_s"] = _median_seconds(
            lambda: plot_reliability({"a": m, "b": m}, Path(tmp) / "rel"), repeats=3
        )
    return {"n_rows": N_ROWS, "n_boot": N_BOOT, "repeats": REPEATS, **figures}


if __name__ == "__main__":
    import json

    print(json.dumps(main(Path("bench-results")), indent=2))

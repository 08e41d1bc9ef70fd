"""What the hyper-parameter search buys: cross-validated accuracy and time, searched vs defaults.

For each task of `songpop run` (seed, hit, chart; audio features, the training rows the run's
search uses) and each model with a search space, the same folds score (a) the registry's
default settings alone (what the "default" budget fits) and (b) a successive-halving search
over 8 settings (what the "default" budget searched before issue #15). The difference in CV
accuracy is the search's measured benefit; its cost is the extra time. This is what the
"default" budget is set from.

Figures: per task and model, CV accuracy with defaults and searched, the gain in points, and
the seconds of each.

Run: `python -m benchmarks.run_all --only search --out bench-results`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from songpop import config
from songpop.io import write_json_atomic

SEARCH_SETTINGS = 8
"""Settings the searched arm samples (the defaults among them), as the default budget did."""


def _table(task: str, out_dir: Path) -> pd.DataFrame:
    from songpop.build import build_dataset
    from songpop.pipeline import TASKS

    plan = TASKS[task]
    kwargs = dict(plan.build)
    if "tracks" in kwargs:
        kwargs["tracks"] = [config.data_dir() / t for t in kwargs["tracks"]]
    build_dataset(out_dir / task, **kwargs)
    return plan.select(pd.read_parquet(out_dir / task / "songs.parquet"))


def main(out_dir: Path) -> dict[str, Any]:
    """Score defaults against the search for every searched model of every task."""
    from songpop.features import feature_columns, feature_matrix, labels, stratified_split
    from songpop.models.registry import MODELS, models_for
    from songpop.models.search import get_budget, make_folds, search_model
    from songpop.pipeline import TASKS
    from songpop.train import search_sample

    out_dir = Path(out_dir)
    defaults_only = get_budget("default")
    searched = replace(defaults_only, n_candidates=SEARCH_SETTINGS)
    figures: dict[str, Any] = {"settings_searched": SEARCH_SETTINGS, "tasks": {}}
    for task, plan in TASKS.items():
        songs = _table(task, out_dir).reset_index(drop=True)
        y = labels(songs)
        train_pos, _ = stratified_split(y, test_size=0.2, seed=config.SEED)
        X = feature_matrix(songs, feature_columns(songs, "audio")).iloc[train_pos]
        y_train = y.iloc[train_pos]
        sample = search_sample(y_train, searched, config.SEED)
        X_s, y_s = X.iloc[sample], y_train.iloc[sample]
        folds = make_folds(y_s, searched.cv, config.SEED)
        rows = {}
        for name in models_for(plan.models):
            spec = MODELS[name]
            if not spec.space or "default" not in spec.search_budgets:
                continue
            out = {}
            for label, budget in (("defaults", defaults_only), ("searched", searched)):
                t0 = time.perf_counter()
                res = search_model(spec, X_s, y_s, budget=budget, folds=folds)
                out[label] = {
                    "cv_accuracy": round(res.cv_accuracy, 4),
                    "seconds": round(time.perf_counter() - t0, 2),
                    "fits": res.n_fits,
                    "params": {k: str(v) for k, v in res.params.items()},
                }
            out["gain_points"] = round(
                100 * (out["searched"]["cv_accuracy"] - out["defaults"]["cv_accuracy"]), 2
            )
            rows[name] = out
        figures["tasks"][task] = {"search_rows": int(len(sample)), "models": rows}
    write_json_atomic(figures, out_dir / "search.json")
    return figures


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/search"))))

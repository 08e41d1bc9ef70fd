"""Run songpop's stages in order: build → explore → train/evaluate → explain → report.

This is what `songpop run` (and `make run`) calls. Each stage writes into the run folder
`runs/<run>/`; the time of every stage goes to `runs/<run>/timings.json`, and the name of the last
finished run to `runs/LATEST`, which `songpop predict` and `songpop serve` use as their default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from songpop import config
from songpop.errors import BundleError, SchemaError
from songpop.io import atomic_write, write_json_atomic
from songpop.timing import Timer

log = logging.getLogger(__name__)

HIT_TRACKS = "tracks/hit_predictor_dev.csv.gz"
EXPLAIN_ROWS = 300


@dataclass(frozen=True)
class TaskPlan:
    """How `songpop run` builds and trains one task."""

    build: dict[str, Any]
    label_strategy: str
    order: int
    models: str = "default"
    """Which registry models: "default", "large" or "cheap" (`registry.models_for`)."""
    extras: bool = True
    select: Callable[[Any], Any] = lambda songs: songs


def charted_levels(songs: Any) -> Any:
    """The songs that charted, with the composite score cut into thirds among them alone.

    Across all songs the composite level mostly says "charted or not"; among charted songs it
    asks the harder question: how big a hit was it?
    """
    from songpop.prepare.label import relabel_among

    return relabel_among(songs, songs["charted"].fillna(False).astype(bool))


TASKS: dict[str, TaskPlan] = {
    # Hit Predictor songs, charted or never: the predictable task. 26k training songs: the
    # SVC (quadratic in rows) and the MLP are left to the seed task to keep the run short.
    "hit": TaskPlan(
        build={"label": "hit", "tracks": [HIT_TRACKS]},
        label_strategy="hit",
        order=30,
        models="large",
    ),
    # The original report's 9.5k songs and label (Spotify popularity in thirds).
    "seed": TaskPlan(build={"profile": "seed"}, label_strategy="spotify", order=31),
    # How big a hit, among songs that charted: barely predictable from audio; a few fast models
    # say so rather than minutes of search.
    "chart": TaskPlan(
        build={},
        label_strategy="composite",
        order=32,
        models="cheap",
        extras=False,
        select=charted_levels,
    ),
}


@dataclass
class RunResult:
    """Where a run put its outputs and how long each stage took."""

    run_dir: Path
    report: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, Any] = field(default_factory=dict)


def new_run_name() -> str:
    """A sortable run name from the current time, e.g. 20261124-153000."""
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def mark_latest(runs_root: Path, run_name: str) -> None:
    """Record `run_name` as the last finished run (read by predict and serve)."""
    with atomic_write(runs_root / "LATEST") as handle:
        handle.write(run_name + "\n")


def run_pipeline(
    *,
    run_name: str | None = None,
    runs_root: Path | None = None,
    reports_root: Path = Path("reports"),
    data_dir: Path | None = None,
    budget: str = "default",
    tasks: Sequence[str] = tuple(TASKS),
    on_stage: Callable[[str, float], None] | None = None,
) -> RunResult:
    """Run the whole pipeline on the real data and write the HTML report.

    Args:
        run_name: the run folder's name (default: the current time).
        runs_root: where run folders go (default: config.runs_dir()).
        reports_root: where `<run>/index.html` goes.
        data_dir: the raw data folder (default: config.data_dir()).
        budget: the model-search budget: "quick", "default" or "full".
        tasks: which tasks to train (`TASKS`); the seed songs are always built and explored.
        on_stage: called with (stage name, seconds) after each stage, e.g. to print progress.

    Returns:
        The run folder, the report's path and each stage's time.
    """
    # Imported here: each stage pulls heavy libraries (torch, lightgbm, matplotlib).
    import pandas as pd

    from songpop.build import build_dataset
    from songpop.bundle import load_bundle, resolve_model
    from songpop.features import feature_matrix
    from songpop.models.cluster import kmeans_analysis
    from songpop.models.registry import models_for
    from songpop.report import write_report
    from songpop.report.facts import write_facts
    from songpop.report.sections import (
        explore_sections,
        write_cluster_section,
        write_data_section,
        write_explain_section,
        write_summary_section,
    )
    from songpop.train import train_task

    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise SchemaError(f"tasks {unknown or '(none)'}: expected some of {', '.join(TASKS)}")
    runs_root = Path(runs_root or config.runs_dir())
    run_name = run_name or new_run_name()
    run_dir = runs_root / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = config.data_dir(data_dir)
    result = RunResult(run_dir=run_dir)
    timer = Timer(result.timings, on_stage)
    models_dir = run_dir / "models"
    # The seed songs are always built: exploration, k-means and the default model use them.
    ordered = ["seed"] + [t for t in TASKS if t in tasks and t != "seed"]

    def save_timings() -> None:
        write_json_atomic({"run": run_name, "seconds": result.timings}, run_dir / "timings.json")

    # 1. Data: one song table per task.
    songs: dict[str, pd.DataFrame] = {}
    for task in ordered:
        plan = TASKS[task]
        with timer.stage(f"build_{task}"):
            build_kwargs = dict(plan.build)
            if "tracks" in build_kwargs:
                build_kwargs["tracks"] = [data_dir / t for t in build_kwargs["tracks"]]
            result.summaries[f"build_{task}"] = build_dataset(
                run_dir / "data" / task, data_dir=data_dir, **build_kwargs
            )
            songs[task] = plan.select(pd.read_parquet(run_dir / "data" / task / "songs.parquet"))

    # 2. Exploration of the original's songs (the report's Figures 1-3), and the data sections.
    with timer.stage("explore"):
        explore_sections(run_dir / "data" / "seed" / "songs.parquet", run_dir / "explore")
        for task in ordered[1:]:
            write_data_section(
                run_dir / "data" / task, run_dir / "explore" / f"data_{task}", songs[task]
            )
    save_timings()

    # 3. Models, task by task. The report leads with the most predictable task (the summary
    # sorts by lift); the default model for predictions is the seed task's best audio-only one
    # among those fast to serve (an ONNX graph; songpop.bundle.catalog).
    for task in ordered:
        plan = TASKS[task]
        if task == "seed" and "seed" not in tasks:
            continue
        with timer.stage(f"train_{task}"):
            result.summaries[f"train_{task}"] = train_task(
                songs[task],
                models_dir,
                task=task,
                label_strategy=plan.label_strategy,
                budget=budget,
                models=models_for(plan.models),
                section_order=plan.order,
                set_default=task == "seed",
                extras=plan.extras,
                progress=False,
            )
        save_timings()

    # 4. Unsupervised view (the report's k-means) and what drives the default model.
    seed_songs = songs["seed"]
    with timer.stage("cluster"):
        clusters = kmeans_analysis(seed_songs, seed_songs["level"], seed=config.SEED)
        write_cluster_section(clusters, run_dir / "cluster", order=35)
    with timer.stage("explain"):
        bundle = load_bundle(resolve_model(models_dir))
        X = feature_matrix(songs.get(bundle.meta.get("task"), seed_songs), bundle.feature_names)
        write_explain_section(
            bundle,
            X.sample(min(len(X), EXPLAIN_ROWS), random_state=config.SEED),
            run_dir / "explain",
            order=40,
            why_this_model=_default_reason(models_dir),
        )

    # 5. The report, led by a summary of what is predictable; this run becomes the default.
    with timer.stage("report"):
        write_summary_section(result.summaries, models_dir, run_dir / "summary")
        result.report = write_report(run_dir)
        write_facts(run_dir)
    save_timings()
    mark_latest(runs_root, run_name)
    return result


def _default_reason(models_dir: Path) -> str | None:
    """How the run's default model was chosen, as index.json records it."""
    from songpop.bundle import read_index

    try:
        index = read_index(models_dir)
    except BundleError:
        return None
    if not index.get("default_reason"):
        return None
    return (
        f"{index['default']} is the run's default model, used by `songpop predict` and "
        f"`songpop serve` when no model is named: {index['default_reason']}."
    )


def summary_rows(summaries: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (task, feature set): the best model by cross-validation and its test scores,
    next to macro-F1, the dummy baseline and the majority-class rate; then, where the task has
    a year or decade, the same model's time-forward row (trained on the older songs, tested on
    the newest 20%), whose label mix may differ from its training songs'. Each group leads
    with the largest lift over the dummy: what is predictable first."""
    from songpop.evaluation.results import below_baseline
    from songpop.features import FEATURE_SET_LABELS

    rows: list[dict[str, Any]] = []
    forward: list[dict[str, Any]] = []
    for key, summary in summaries.items():
        if not key.startswith("train_"):
            continue
        for fs, fs_summary in summary["feature_sets"].items():
            best = fs_summary["best"]
            entry = fs_summary["models"][best]
            rows.append(
                _summary_row(
                    summary["task"],
                    FEATURE_SET_LABELS.get(fs, fs),
                    f"{summary['n_train']:,} / {summary['n_test']:,}",
                    best,
                    entry["accuracy"],
                    entry["accuracy_ci"],
                    entry.get("macro_f1"),
                    entry["dummy_accuracy"],
                    entry.get("majority_rate"),
                    entry.get("roc_auc"),
                    below_baseline,
                )
            )
            temporal = fs_summary.get("temporal")
            if temporal and temporal.get("majority_rate") is not None:
                forward.append(
                    _summary_row(
                        summary["task"],
                        f"{FEATURE_SET_LABELS.get(fs, fs)}, time-forward (train before "
                        f"{temporal['cutoff']}, test from it)",
                        f"{temporal['n_train']:,} / {temporal['n_test']:,}",
                        temporal.get("model", best),
                        temporal["accuracy"],
                        temporal["accuracy_ci"],
                        temporal.get("macro_f1"),
                        temporal["dummy_accuracy"],
                        temporal["majority_rate"],
                        None,
                        below_baseline,
                    )
                )
    rows.sort(key=lambda r: -r["lift (points)"])
    forward.sort(key=lambda r: -r["lift (points)"])
    return rows + forward


def _summary_row(
    task: str,
    features: str,
    songs: str,
    model: str,
    accuracy: float,
    ci: Sequence[float],
    macro_f1: float | None,
    dummy: float,
    majority: float | None,
    roc_auc: float | None,
    below: Callable[[Any, Any, Any], str],
) -> dict[str, Any]:
    def r3(x: float | None) -> float | None:
        return None if x is None else round(float(x), 3)

    return {
        "task": task,
        "features": features,
        "songs (train / test)": songs,
        "best model (by CV)": model,
        "test accuracy": r3(accuracy),
        "95% CI": f"{ci[0]:.3f}–{ci[1]:.3f}",
        "macro-F1": r3(macro_f1),
        "dummy accuracy": r3(dummy),
        "majority-class rate": r3(majority),
        "lift (points)": round(100 * (accuracy - dummy), 1),
        "ROC-AUC": r3(roc_auc),
        "note": below(accuracy, dummy, majority),
    }

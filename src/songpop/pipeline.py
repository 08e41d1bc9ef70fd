"""Run songpop's stages in order: build → explore → train/evaluate → explain → report.

This is what `songpop run` (and `make run`) calls. Each stage writes into the run folder
`runs/<run>/`; the time of every stage goes to `runs/<run>/timings.json`, and the name of the last
finished run to `runs/LATEST`, which `songpop predict` and `songpop serve` use as their default.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from songpop import config
from songpop.errors import BundleError, SchemaError
from songpop.io import atomic_write, write_json_atomic
from songpop.progress import Event, Hook, emit
from songpop.stages import (
    data_fingerprint,
    find_reusable,
    link_outputs,
    record_stage,
    stage_key,
)
from songpop.workers import side_by_side

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
    cost: int = 1
    """How long its training takes, relatively: the longest start first among the side-by-side
    jobs, so the last worker free ends soonest."""


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
        cost=3,
    ),
    # The original report's 9.5k songs and label (Spotify popularity in thirds).
    "seed": TaskPlan(build={"profile": "seed"}, label_strategy="spotify", order=31, cost=2),
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
    """Where a run put its outputs and how long each stage took.

    Attributes:
        timings: each stage's own wall time (stages run side by side, so these add up to more
            than `wall`); a reused stage counts the time to link it.
        wall: the whole run's wall time.
        reused: stage → the run whose outputs it reused.
    """

    run_dir: Path
    report: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, Any] = field(default_factory=dict)
    wall: float = 0.0
    reused: dict[str, str] = field(default_factory=dict)


def new_run_name() -> str:
    """A sortable run name from the current time, e.g. 20261124-153000."""
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def mark_latest(runs_root: Path, run_name: str) -> None:
    """Record `run_name` as the last finished run (read by predict and serve)."""
    with atomic_write(runs_root / "LATEST") as handle:
        handle.write(run_name + "\n")


@dataclass
class _Job:
    """One stage that may run in a worker process: what it is and what it writes."""

    stage: str
    key: str
    outputs: list[str]
    call: Callable[..., Any]
    args: tuple[Any, ...] = ()


def run_pipeline(
    *,
    run_name: str | None = None,
    runs_root: Path | None = None,
    reports_root: Path = Path("reports"),
    data_dir: Path | None = None,
    budget: str = "default",
    tasks: Sequence[str] = tuple(TASKS),
    hook: Hook | None = None,
    workers: int | None = None,
    reuse: bool = True,
) -> RunResult:
    """Run the whole pipeline on the real data and write the HTML report.

    Stages: build (one song table per task) → explore, train (one per task) and cluster side by
    side in `workers` processes → explain the default model → report. A stage whose key (its
    inputs, settings and songpop's code; `songpop.stages`) matches a stage of an earlier run in
    `runs_root` is linked from there instead of run again.

    Args:
        run_name: the run folder's name (default: the current time).
        runs_root: where run folders go (default: config.runs_dir()).
        reports_root: where `<run>/index.html` goes.
        data_dir: the raw data folder (default: config.data_dir()).
        budget: the model-search budget: "quick", "default" or "full".
        tasks: which tasks to train (`TASKS`); the seed songs are always built and explored.
        hook: given an `Event` as each stage starts and ends and after every fit of a model
            search (`songpop.progress`), e.g. to show a live view.
        workers: processes for the side-by-side stages (default: one per core, at most 2).
        reuse: reuse the stages of earlier runs whose keys match (False: run everything).

    Returns:
        The run folder, the report's path, each stage's time and what was reused.
    """
    # Imported here: each stage pulls heavy libraries (torch, lightgbm, matplotlib).
    import pandas as pd

    from songpop.report import write_report
    from songpop.report.facts import write_facts
    from songpop.report.sections import write_summary_section

    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise SchemaError(f"tasks {unknown or '(none)'}: expected some of {', '.join(TASKS)}")
    started = time.perf_counter()
    runs_root = Path(runs_root or config.runs_dir())
    run_name = run_name or new_run_name()
    run_dir = runs_root / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = config.data_dir(data_dir)
    result = RunResult(run_dir=run_dir)
    models_dir = run_dir / "models"
    # The seed songs are always built: exploration, k-means and the default model use them.
    ordered = ["seed"] + [t for t in TASKS if t in tasks and t != "seed"]
    trained = [t for t in ordered if t in tasks]

    def save_timings() -> None:
        write_json_atomic(
            {"run": run_name, "seconds": result.timings, "wall": round(result.wall, 3),
             "reused": result.reused},
            run_dir / "timings.json",
        )  # fmt: skip

    def done(stage: str, key: str, seconds: float, source: Path | None, say: bool = True) -> None:
        result.timings[stage] = round(seconds, 3)
        if source is not None:
            result.reused[stage] = source.name
        record_stage(run_dir, stage, key, seconds, source.name if source else None)
        if say:  # (side_by_side says when its jobs end)
            reused = source.name if source else None
            emit(hook, Event("stage", stage, seconds=seconds, reused=reused))

    def reusable(stage: str, key: str, outputs: list[str]) -> Path | None:
        if not reuse:
            return None
        t0 = time.perf_counter()
        source = find_reusable(runs_root, run_dir, stage, key, outputs)
        if source is not None:
            link_outputs(source, run_dir, outputs)
            done(stage, key, time.perf_counter() - t0, source)
        return source

    # 1. Data: one song table per task (each a few seconds).
    fingerprint = data_fingerprint(data_dir)
    build_keys: dict[str, str] = {}
    for task in ordered:
        stage, build = f"build_{task}", TASKS[task].build
        build_keys[task] = key = stage_key(stage, build=build, data=fingerprint)
        outputs = [f"data/{task}"]
        if reusable(stage, key, outputs) is None:
            emit(hook, Event("stage", stage))
            t0 = time.perf_counter()
            _build(task, run_dir, data_dir)
            done(stage, key, time.perf_counter() - t0, None)
        result.summaries[stage] = json.loads(
            (run_dir / "data" / task / "build.json").read_text(encoding="utf-8")
        )

    # 2. Exploration, the models of every task and the k-means view, side by side.
    jobs = [
        _Job(
            f"train_{task}",
            stage_key(
                f"train_{task}",
                songs=build_keys[task],
                budget=budget,
                plan=_plan_settings(TASKS[task]),
                default=task == "seed",
            ),  # fmt: skip
            [f"models/{task}"],
            _train,
            (task, run_dir, budget),
        )
        for task in sorted(trained, key=lambda t: TASKS[t].cost, reverse=True)
    ]
    jobs.append(
        _Job(
            "explore",
            stage_key("explore", songs={t: build_keys[t] for t in ordered}),
            ["explore"],
            _explore,
            (run_dir, tuple(ordered)),
        )
    )
    jobs.append(
        _Job(
            "cluster",
            stage_key("cluster", songs=build_keys["seed"]),
            ["cluster"],
            _cluster,
            (run_dir,),
        )  # fmt: skip
    )
    todo = []
    for job in jobs:
        source = reusable(job.stage, job.key, job.outputs)
        if source is None:
            todo.append(job)
        elif job.stage.startswith("train_"):
            _reindex(source, models_dir, job.stage.removeprefix("train_"))
    save_timings()
    for stage, seconds, summary in side_by_side(
        [(job.stage, job.call, job.args) for job in todo], hook, workers
    ):
        job = next(j for j in todo if j.stage == stage)
        done(stage, job.key, seconds, None, say=False)
        if summary is not None:
            result.summaries[stage] = summary
        save_timings()
    for task in trained:
        result.summaries.setdefault(
            f"train_{task}",
            json.loads((models_dir / task / "train.json").read_text(encoding="utf-8")),
        )

    # 3. What drives the default model.
    from songpop.bundle import load_bundle, resolve_model
    from songpop.features import feature_matrix
    from songpop.report.sections import write_explain_section

    default = resolve_model(models_dir)
    # the train stages' keys fix the bundles (bundle.json's own hash holds its save time)
    trained_keys = {j.stage: j.key for j in jobs if j.stage.startswith("train_")}
    key = stage_key("explain", model=str(default.relative_to(run_dir)), trained=trained_keys,
                    songs=build_keys)  # fmt: skip
    if reusable("explain", key, ["explain"]) is None:
        emit(hook, Event("stage", "explain"))
        t0 = time.perf_counter()
        bundle = load_bundle(default)
        task = bundle.meta.get("task") or "seed"
        songs = TASKS[task].select(pd.read_parquet(run_dir / "data" / task / "songs.parquet"))
        X = feature_matrix(songs, bundle.feature_names)
        write_explain_section(
            bundle,
            X.sample(min(len(X), EXPLAIN_ROWS), random_state=config.SEED),
            run_dir / "explain",
            order=40,
            why_this_model=_default_reason(models_dir),
        )
        done("explain", key, time.perf_counter() - t0, None)

    # 4. The report, led by a summary of what is predictable; this run becomes the default.
    emit(hook, Event("stage", "report"))
    t0 = time.perf_counter()
    result.wall = time.perf_counter() - started
    save_timings()
    write_summary_section(result.summaries, models_dir, run_dir / "summary")
    result.report = write_report(run_dir)
    result.timings["report"] = round(time.perf_counter() - t0, 3)
    result.wall = time.perf_counter() - started
    save_timings()
    write_facts(run_dir)
    emit(hook, Event("stage", "report", seconds=result.timings["report"]))
    mark_latest(runs_root, run_name)
    return result


def _plan_settings(plan: TaskPlan) -> dict[str, Any]:
    """What of a task's plan changes its models (its key's settings)."""
    return {
        "build": plan.build,
        "label": plan.label_strategy,
        "models": plan.models,
        "extras": plan.extras,
        "order": plan.order,
    }


def _build(task: str, run_dir: Path, data_dir: Path) -> None:
    from songpop.build import build_dataset

    build_kwargs = dict(TASKS[task].build)
    if "tracks" in build_kwargs:
        build_kwargs["tracks"] = [data_dir / t for t in build_kwargs["tracks"]]
    build_dataset(run_dir / "data" / task, data_dir=data_dir, **build_kwargs)


def _train(task: str, run_dir: Path, budget: str, hook: Hook | None) -> dict[str, Any]:
    """Train one task (in a worker process): `songpop.train.train_task` on its song table."""
    import pandas as pd

    from songpop.models.registry import models_for
    from songpop.train import train_task

    plan = TASKS[task]
    songs = plan.select(pd.read_parquet(run_dir / "data" / task / "songs.parquet"))
    return train_task(
        songs,
        run_dir / "models",
        task=task,
        label_strategy=plan.label_strategy,
        budget=budget,
        models=models_for(plan.models),
        section_order=plan.order,
        set_default=task == "seed",
        extras=plan.extras,
        hook=hook,
    )


def _explore(run_dir: Path, ordered: tuple[str, ...], hook: Hook | None) -> None:
    """The original's exploration (the report's Figures 1-3) and every task's data section."""
    import pandas as pd

    from songpop.report.sections import explore_sections, write_data_section

    explore_sections(run_dir / "data" / "seed" / "songs.parquet", run_dir / "explore")
    for task in ordered[1:]:
        songs = TASKS[task].select(pd.read_parquet(run_dir / "data" / task / "songs.parquet"))
        write_data_section(run_dir / "data" / task, run_dir / "explore" / f"data_{task}", songs)


def _cluster(run_dir: Path, hook: Hook | None) -> None:
    """The report's k-means view of the seed songs."""
    import pandas as pd

    from songpop.models.cluster import kmeans_analysis
    from songpop.report.sections import write_cluster_section

    songs = pd.read_parquet(run_dir / "data" / "seed" / "songs.parquet")
    clusters = kmeans_analysis(songs, songs["level"], seed=config.SEED)
    write_cluster_section(clusters, run_dir / "cluster", order=35)


def _reindex(source: Path, models_dir: Path, task: str) -> None:
    """Put a reused task's bundles into this run's index.json, as training it would."""
    from songpop.bundle import read_index, update_index

    index = read_index(source / "models")
    entries = [e for e in index.get("models", []) if e.get("task") == task]
    best = index.get("tasks", {}).get(task, {}).get("best", {})
    update_index(models_dir, task, entries, best, set_default=task == "seed")


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

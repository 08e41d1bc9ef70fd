"""Run songpop's stages in order: build → explore → train/evaluate → explain → report.

This is what `songpop run` (and `make run`) calls. Each stage writes into the run folder
`runs/<run>/`; the time of every stage goes to `runs/<run>/timings.json`, and the name of the last
finished run to `runs/LATEST`, which `songpop predict` and `songpop serve` use as their default.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from songpop import config
from songpop.errors import BundleError, SchemaError
from songpop.io import atomic_write, write_json_atomic
from songpop.prepare.label import relabel_among
from songpop.progress import Event, Hook, emit
from songpop.report import write_report
from songpop.report.facts import write_facts
from songpop.report.sections import (
    explore_sections,
    write_cluster_section,
    write_data_section,
    write_explain_section,
    write_summary_section,
)
from songpop.sources import registry
from songpop.stages import (
    data_fingerprint,
    find_reusable,
    link_outputs,
    record_stage,
    stage_key,
)
from songpop.workers import pool_width, side_by_side

log = logging.getLogger(__name__)

HIT_TRACKS = registry.get("hit_predictor_dev").filename
EXPLAIN_ROWS = 300
EXPLAIN_IMPORTS: tuple[str, ...] = (
    "songpop.bundle", "songpop.features", "songpop.inference.explain", "onnx", "shap",
    "matplotlib.figure", "matplotlib.backends.backend_agg",
)  # fmt: skip
"""What the explain stage imports, besides skops (`bundle.store.import_skops`): 4.2 s in a new
process with skops, measured with -X importtime on 2026-12-07 (skops 1.8 s when it still
imported torch; the features' scikit-learn and imbalanced-learn 1.1 s; onnx 0.7 s). The run's
own process loads them while the workers train its last jobs (`_preload`), not after them."""


@dataclass(frozen=True)
class TaskPlan:
    """How `songpop run` builds and trains one task."""

    build: dict[str, Any]
    label_strategy: str
    order: int
    models: str = "default"
    """Which registry models: "default", "large" or "cheap" (`registry.models_for`; outside the
    "full" budget without the comparison models: k-NN, SVC, random forest, MLP)."""
    extras: bool = True
    select: Callable[[Any], Any] = lambda songs: songs
    cost: int = 1
    """How long its training takes, relatively: the longest start first among the side-by-side
    jobs, so the last worker free ends soonest."""
    data: str | None = None
    """Train on another task's song table (its build), relabelled by `select`."""
    feature_sets: tuple[str, ...] = ("audio", "audio+context", "measured", "year", "history")
    calibrate: bool = False
    split_by: str | None = None
    era_years: int | None = None

    def data_task(self, task: str) -> str:
        """The task whose build this task trains on."""
        return self.data or task


def charted_levels(songs: Any) -> Any:
    """The songs that charted, with the composite score cut into thirds among them alone.

    Across all songs the composite level mostly says "charted or not"; among charted songs it
    asks the harder question: how big a hit was it?
    """

    return relabel_among(songs, songs["charted"].fillna(False).astype(bool))


def era_seed_levels(songs: Any) -> Any:
    """The seed songs with their Spotify popularity cut into thirds within each release cohort
    of `config.ERA_YEARS` years (songs without a year, or in too small a cohort, left out)."""

    return relabel_among(songs, songs["year"].notna(), era_years=config.ERA_YEARS)


def era_charted_levels(songs: Any) -> Any:
    """The charted songs, their composite score cut into thirds within each release cohort."""

    keep = songs["charted"].fillna(False).astype(bool) & songs["year"].notna()
    return relabel_among(songs, keep, era_years=config.ERA_YEARS)


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
    # Released tracks of six playlist genres, charted or not: the chance a new release reaches
    # the Hot 100, with and without the artist's earlier chart record. Artist-disjoint test
    # songs; calibrated probabilities; the run's default answer for a new song.
    "chart_chance": TaskPlan(
        build={"task": "chart-chance"},
        label_strategy="charted",
        order=29,
        models="fast",
        extras=False,
        feature_sets=("year", "audio", "audio+context", "history"),
        calibrate=True,
        split_by="artist",
        cost=2,
    ),
    # The same levels cut within five-year release cohorts: "high" is the top third of the
    # songs released in the same years, not "recent".
    "seed_era": TaskPlan(
        build={"profile": "seed"},
        label_strategy="spotify",
        order=33,
        models="fast",
        extras=False,
        select=era_seed_levels,
        data="seed",
        feature_sets=("year", "audio", "audio+context"),
        era_years=config.ERA_YEARS,
    ),
    "chart_era": TaskPlan(
        build={},
        label_strategy="composite",
        order=34,
        models="fast",
        extras=False,
        select=era_charted_levels,
        data="chart",
        feature_sets=("year", "audio", "audio+context"),
        era_years=config.ERA_YEARS,
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


def fits_mlp(task: str, budget: str) -> bool:
    """Whether `task`'s model list at `budget` holds the MLP: the full budget's comparison models
    of the "default" selection (`registry.models_for`; the "large", "cheap" and "fast" ones leave
    it out), where PyTorch is installed."""
    return budget == "full" and TASKS[task].models == "default"


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
    reads: tuple[str, ...] = ()
    """The tasks whose song tables it reads (built before it is submitted; in its key)."""


def run_pipeline(
    *,
    run_name: str | None = None,
    runs_root: Path | None = None,
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
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise SchemaError(f"tasks {unknown or '(none)'}: expected some of {', '.join(TASKS)}")
    runs_root = Path(runs_root or config.runs_dir())
    run_name = run_name or new_run_name()
    (runs_root / run_name).mkdir(parents=True, exist_ok=True)
    # The seed songs are always built: exploration, k-means and the default model use them.
    ordered = ["seed"] + [t for t in TASKS if t in tasks and t != "seed"]
    run = _Run(
        result=RunResult(run_dir=runs_root / run_name),
        runs_root=runs_root,
        data_dir=config.data_dir(data_dir),
        ordered=ordered,
        trained=[t for t in ordered if t in tasks],
        hook=hook,
        reuse=reuse,
    )
    builds = _Builds(run)
    train_keys = _side_by_side_stages(run, builds, budget, workers)
    if "chart_chance" in run.trained:  # the answer for a new song, chosen by forward skill
        choose_new_song_default(run.models_dir, run.result.summaries)
    _explain_stage(run, builds.keys, train_keys)
    _report_stage(run)
    mark_latest(runs_root, run_name)
    return run.result


@dataclass
class _Run:
    """One run in progress: its folder, what it does, and the bookkeeping every stage shares
    (each stage's time, what was reused from an earlier run, the live view's events)."""

    result: RunResult
    runs_root: Path
    data_dir: Path
    ordered: list[str]
    trained: list[str]
    hook: Hook | None
    reuse: bool
    started: float = field(default_factory=time.perf_counter)

    @property
    def run_dir(self) -> Path:
        return self.result.run_dir

    @property
    def models_dir(self) -> Path:
        return self.run_dir / "models"

    def save_timings(self) -> None:
        """timings.json: each stage's seconds, the wall time so far, what was reused."""
        write_json_atomic(
            {"run": self.run_dir.name, "seconds": self.result.timings,
             "wall": round(self.result.wall, 3), "reused": self.result.reused},
            self.run_dir / "timings.json",
        )  # fmt: skip

    def done(
        self, stage: str, key: str, seconds: float, source: Path | None, say: bool = True
    ) -> None:
        """Record a finished (or reused) stage; `say`: tell the hook (side_by_side says when
        its own jobs end)."""
        self.result.timings[stage] = round(seconds, 3)
        if source is not None:
            self.result.reused[stage] = source.name
        record_stage(self.run_dir, stage, key, seconds, source.name if source else None)
        if say:
            reused = source.name if source else None
            emit(self.hook, Event("stage", stage, seconds=seconds, reused=reused))

    def reusable(self, stage: str, key: str, outputs: list[str]) -> Path | None:
        """The earlier run whose stage has this key, its outputs linked here; else None."""
        if not self.reuse:
            return None
        t0 = time.perf_counter()
        source = find_reusable(self.runs_root, self.run_dir, stage, key, outputs)
        if source is not None:
            link_outputs(source, self.run_dir, outputs)
            self.done(stage, key, time.perf_counter() - t0, source)
        return source


class _Builds:
    """One song table per task (each a few seconds); a task that relabels another's songs
    (`TaskPlan.data`) shares its build. Every build's stage key is known at once (the data's
    fingerprint and the build's settings), so the jobs that read a table can be keyed before
    it exists; `need` builds a job's tables when the job is about to start.

    The builds run in the run's own process, not in the worker processes: loky replaces a
    worker whose memory grew by 300 MB after its first job (its guard against leaks), so a
    worker that first built a table (small) was replaced after its first training job and
    the next job imported scikit-learn, torch and skops again (measured back to back on
    2026-12-06: builds as worker jobs made `songpop run` 5 s slower). Here they overlap the
    first jobs instead of preceding them.
    """

    def __init__(self, run: _Run) -> None:
        self.run = run
        fingerprint = data_fingerprint(run.data_dir)
        self.keys: dict[str, str] = {
            task: stage_key(f"build_{task}", build=TASKS[task].build, data=fingerprint)
            for task in _tables(run.ordered)
        }
        self.done: set[str] = set()

    def keys_of(self, tasks: Sequence[str]) -> dict[str, str]:
        """The build keys of the tables `tasks` read (a reading stage's key holds them)."""
        return {table: self.keys[table] for table in _tables(tasks)}

    def need(self, tasks: Sequence[str]) -> None:
        """Build (or link from an earlier run) the tables of `tasks` not yet here."""
        run = self.run
        for task in _tables(tasks):
            if task in self.done:
                continue
            stage, key = f"build_{task}", self.keys[task]
            if run.reusable(stage, key, [f"data/{task}"]) is None:
                emit(run.hook, Event("stage", stage))
                t0 = time.perf_counter()
                _build(task, run.run_dir, run.data_dir)
                run.done(stage, key, time.perf_counter() - t0, None)
            run.result.summaries[stage] = json.loads(
                (run.run_dir / "data" / task / "build.json").read_text(encoding="utf-8")
            )
            self.done.add(task)


def _tables(tasks: Sequence[str]) -> list[str]:
    """The song tables `tasks` read, each once (a task may relabel another's: `data_task`)."""
    return list(dict.fromkeys(TASKS[t].data_task(t) for t in tasks))


def _side_by_side_stages(
    run: _Run, builds: _Builds, budget: str, workers: int | None
) -> dict[str, str]:
    """Exploration, the models of every task and the k-means view, side by side in worker
    processes (longest first), each job's song tables built here just before it starts.
    Returns the train stages' keys."""
    jobs = [
        _Job(
            f"train_{task}",
            stage_key(
                f"train_{task}",
                songs=builds.keys_of([task]),
                budget=budget,
                plan=_plan_settings(TASKS[task]),
                default=task == "seed",
                mlp=fits_mlp(task, budget) and config.extra_installed("mlp"),
            ),  # fmt: skip
            [f"models/{task}"],
            _train,
            (task, run.run_dir, budget),
            reads=(task,),
        )
        for task in sorted(run.trained, key=lambda t: TASKS[t].cost, reverse=True)
    ]
    jobs.append(
        _Job(
            "explore",
            stage_key("explore", songs=builds.keys_of(run.ordered)),
            ["explore"],
            _explore,
            (run.run_dir, tuple(run.ordered)),
            reads=tuple(run.ordered),
        )
    )
    jobs.append(
        _Job("cluster", stage_key("cluster", songs=builds.keys_of(["seed"])), ["cluster"],
             _cluster, (run.run_dir,), reads=("seed",))
    )  # fmt: skip
    todo = []
    for job in jobs:
        source = run.reusable(job.stage, job.key, job.outputs)
        if source is None:
            todo.append(job)
        elif job.stage.startswith("train_"):
            _reindex(source, run.models_dir, job.stage.removeprefix("train_"))
    run.save_timings()
    # Once the last job is prepared (every table built), this process has nothing left to do:
    # it loads what the explain stage needs while the workers train. (Started only when a core
    # fell idle, it came too late: the last two jobs often end together, and the run waited.)
    preload = threading.Thread(target=_preload, args=(EXPLAIN_IMPORTS,), daemon=True)
    last = todo[-1].stage if pool_width(len(todo), workers) > 1 else None
    reads = {job.stage: job.reads for job in todo}

    def prepare(stage: str) -> None:
        builds.need(reads[stage])
        if stage == last:
            preload.start()

    try:
        for stage, seconds, summary in side_by_side(
            [(job.stage, job.call, job.args) for job in todo], run.hook, workers, prepare
        ):
            job = next(j for j in todo if j.stage == stage)
            run.done(stage, job.key, seconds, None, say=False)
            if summary is not None:
                run.result.summaries[stage] = summary
            run.save_timings()
    finally:  # never leave an import running into the interpreter's exit
        if preload.is_alive():
            preload.join()
    builds.need(run.ordered)  # the tables of the stages reused from an earlier run
    for task in run.trained:
        run.result.summaries.setdefault(
            f"train_{task}",
            json.loads((run.models_dir / task / "train.json").read_text(encoding="utf-8")),
        )
    return {j.stage: j.key for j in jobs if j.stage.startswith("train_")}


def _explain_stage(run: _Run, build_keys: dict[str, str], train_keys: dict[str, str]) -> None:
    """What drives the run's default model (SHAP on a sample of its songs)."""
    import pandas as pd  # the stages' libraries load only when a run starts

    from songpop.bundle import load_bundle, resolve_model  # late: loads filelock (start-up)
    from songpop.features import feature_matrix  # late: loads sklearn, imblearn, scipy (start-up)

    default = resolve_model(run.models_dir)
    # the train stages' keys fix the bundles (bundle.json's own hash holds its save time)
    key = stage_key("explain", model=str(default.relative_to(run.run_dir)), trained=train_keys,
                    songs=build_keys)  # fmt: skip
    if run.reusable("explain", key, ["explain"]) is not None:
        return
    emit(run.hook, Event("stage", "explain"))
    t0 = time.perf_counter()
    bundle = load_bundle(default)
    task = bundle.meta.get("task") or "seed"
    data = run.run_dir / "data" / TASKS[task].data_task(task)
    songs = TASKS[task].select(pd.read_parquet(data / "songs.parquet"))
    X = feature_matrix(songs, bundle.feature_names)
    write_explain_section(
        bundle,
        X.sample(min(len(X), EXPLAIN_ROWS), random_state=config.SEED),
        run.run_dir / "explain",
        order=40,
        why_this_model=_default_reason(run.models_dir),
    )
    run.done("explain", key, time.perf_counter() - t0, None)


def _report_stage(run: _Run) -> None:
    """The report, led by a summary of what is predictable, and the README's facts."""

    emit(run.hook, Event("stage", "report"))
    t0 = time.perf_counter()
    result = run.result
    result.wall = time.perf_counter() - run.started
    run.save_timings()
    write_summary_section(result.summaries, run.models_dir, run.run_dir / "summary")
    result.report = write_report(run.run_dir)
    result.timings["report"] = round(time.perf_counter() - t0, 3)
    result.wall = time.perf_counter() - run.started
    run.save_timings()
    write_facts(run.run_dir)
    emit(run.hook, Event("stage", "report", seconds=result.timings["report"]))


NEW_SONG_ERA_TASK = "seed_era"
"""The level within its era shown beside the chance to chart."""


def choose_new_song_default(models_dir: Path, summaries: dict[str, Any]) -> dict[str, Any]:
    """Make the chart-chance model with the best forward-in-time ROC-AUC at the latest origin
    the run's default, when it beats the year-only model there (else the best bundle by that
    figure all the same, and the reason says it does not beat the year); the level within its
    era (`NEW_SONG_ERA_TASK`) is chosen the same way, by forward accuracy.

    The rule reads only figures fixed by the data and the seed, so any machine chooses alike.

    Returns:
        The `new_song` record written into index.json.
    """
    from songpop.bundle import set_run_default  # late: loads filelock (start-up)

    # late: loads sklearn, matplotlib, scipy (start-up)
    from songpop.evaluation.forward import headline
    from songpop.train import bundle_id  # late: loads lightgbm, sklearn, imblearn (start-up)

    def pick(task: str, metric: str) -> dict[str, Any] | None:
        summary = summaries.get(f"train_{task}") or {}
        rows = headline(summary.get("forward") or {})
        year = next((r for r in rows if r["feature_set"] == "year"), None)
        ranked = sorted(
            (r for r in rows if r["feature_set"] != "year" and r.get(metric) is not None
             and r["feature_set"] in summary["feature_sets"]),
            key=lambda r: -r[metric],
        )  # fmt: skip
        if not ranked:
            return None
        row = ranked[0]
        fs = row["feature_set"]
        beats = year is None or year.get(metric) is None or row[metric] > year[metric]
        groups = row.get("subgroups") or {}
        # the bundle whose settings the forward figure measured (the protocol's model), so the
        # figure quoted beside an answer is the served model's own
        model = (summary.get("forward") or {}).get("model") or summary["feature_sets"][fs]["best"]
        if model not in summary["feature_sets"][fs]["models"]:
            model = summary["feature_sets"][fs]["best"]
        return {
            "bundle": bundle_id(task, fs, model),
            "feature_set": fs,
            "metric": metric,
            "forward": row,
            "year_only": year,
            "beats_year": beats,
            "above_majority": row.get("majority_rate") is None
            or row.get("accuracy", 1) > max(row["majority_rate"], row.get("dummy_accuracy", 0)),
            "new_artists": groups.get("new_artists"),
            "established_artists": groups.get("established_artists"),
        }

    chance = pick("chart_chance", "roc_auc")
    if chance is None:
        return {}
    era = pick(NEW_SONG_ERA_TASK, "accuracy") if f"train_{NEW_SONG_ERA_TASK}" in summaries else None
    f = chance["forward"]
    reason = (
        f"task 'chart_chance', {chance['feature_set']} features: the best forward-in-time "
        f"ROC-AUC at the latest origin (trained before {f['origin']}, tested on "
        f"{f['origin']}-{f['last']}: {f['roc_auc']:.3f}"
        + (
            f" against {chance['year_only']['roc_auc']:.3f} for the year alone)"
            if chance["year_only"] and chance["year_only"].get("roc_auc") is not None
            else ")"
        )
        + ("" if chance["beats_year"] else "; it does not beat the year-only model")
    )
    base = (summaries.get("build_chart_chance") or {}).get("chart_chance", {})
    record = {
        "rule": "the chart-chance bundle with the best ROC-AUC forward in time at the latest "
        "origin (the forward protocol's model), "
        + ("above the year-only model" if chance["beats_year"] else "NOT above the year-only model")
        + "; beside it the era level with the best forward accuracy, stated only when that "
        "accuracy is above the test years' majority and dummy rates",
        "chance": chance,
        "era": era,
        "base_rate": base.get("base_rate"),
        "base_rate_per_year": {
            y: v["rate"] for y, v in (base.get("per_year") or {}).items() if v["songs"] >= 50
        },
    }
    set_run_default(models_dir, chance["bundle"], reason, record)
    return record


def _plan_settings(plan: TaskPlan) -> dict[str, Any]:
    """What of a task's plan changes its models (its key's settings)."""
    return {
        "build": plan.build,
        "label": plan.label_strategy,
        "models": plan.models,
        "extras": plan.extras,
        "order": plan.order,
        "data": plan.data,
        "feature_sets": list(plan.feature_sets),
        "calibrate": plan.calibrate,
        "split_by": plan.split_by,
        "era_years": plan.era_years,
    }


def _preload(modules: Sequence[str]) -> None:
    """Import `modules` (in a thread of the run's process, while the workers train); one that
    fails is left for the stage that needs it to fail with its own error."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (the stage's own import says what is wrong)
            log.debug("preloading %s failed", name, exc_info=True)
    try:
        from songpop.bundle.store import import_skops  # late: loads pandas, onnx (start-up)

        import_skops()
    except Exception:  # noqa: BLE001
        log.debug("preloading skops failed", exc_info=True)


def _build(task: str, run_dir: Path, data_dir: Path) -> None:
    from songpop.build import build_dataset  # late: loads rapidfuzz, tqdm (start-up)

    build_kwargs = dict(TASKS[task].build)
    if "tracks" in build_kwargs:
        build_kwargs["tracks"] = [data_dir / t for t in build_kwargs["tracks"]]
    build_dataset(run_dir / "data" / task, data_dir=data_dir, **build_kwargs)


def _train(task: str, run_dir: Path, budget: str, hook: Hook | None) -> dict[str, Any]:
    """Train one task (in a worker process): `songpop.train.train_task` on its song table."""
    import pandas as pd

    # late: loads lightgbm, sklearn, imblearn (start-up)
    from songpop.models.registry import models_for
    from songpop.train import train_task  # late: loads lightgbm, sklearn, imblearn (start-up)

    plan = TASKS[task]
    data = run_dir / "data" / plan.data_task(task)
    songs = plan.select(pd.read_parquet(data / "songs.parquet"))
    history = data / "artist_history.parquet"
    summary = train_task(
        songs,
        run_dir / "models",
        task=task,
        label_strategy=plan.label_strategy,
        budget=budget,
        models=models_for(plan.models, budget),
        section_order=plan.order,
        set_default=task == "seed",
        extras=plan.extras,
        hook=hook,
        feature_sets=plan.feature_sets,
        calibrate=plan.calibrate,
        split_by=plan.split_by,
        era_years=plan.era_years,
        artist_history=pd.read_parquet(history) if history.is_file() else None,
    )
    return summary


def _explore(run_dir: Path, ordered: tuple[str, ...], hook: Hook | None) -> None:  # noqa: ARG001
    """The original's exploration (the report's Figures 1-3) and every task's data section."""
    import pandas as pd

    explore_sections(run_dir / "data" / "seed" / "songs.parquet", run_dir / "explore")
    for task in ordered[1:]:
        if TASKS[task].data is not None:  # the same songs as another task's, relabelled
            continue
        songs = TASKS[task].select(pd.read_parquet(run_dir / "data" / task / "songs.parquet"))
        write_data_section(run_dir / "data" / task, run_dir / "explore" / f"data_{task}", songs)


def _cluster(run_dir: Path, hook: Hook | None) -> None:  # noqa: ARG001  (a job's signature)
    """The report's k-means view of the seed songs."""
    import pandas as pd

    # late: loads sklearn, scipy, rich (start-up)
    from songpop.models.cluster import kmeans_analysis

    songs = pd.read_parquet(run_dir / "data" / "seed" / "songs.parquet")
    clusters = kmeans_analysis(songs, songs["level"], seed=config.SEED)
    write_cluster_section(clusters, run_dir / "cluster", order=35)


def _reindex(source: Path, models_dir: Path, task: str) -> None:
    """Put a reused task's bundles into this run's index.json, as training it would."""
    from songpop.bundle import read_index, update_index  # late: loads filelock (start-up)

    index = read_index(source / "models")
    entries = [e for e in index.get("models", []) if e.get("task") == task]
    best = index.get("tasks", {}).get(task, {}).get("best", {})
    update_index(models_dir, task, entries, best, set_default=task == "seed")


def _default_reason(models_dir: Path) -> str | None:
    """How the run's default model was chosen, as index.json records it."""
    from songpop.bundle import read_index  # late: loads filelock (start-up)

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

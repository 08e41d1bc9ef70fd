"""Train one task: split, search and fit the registry on training rows, evaluate, save bundles.

`train_task` is the whole models stage for one song table:

1. split first (stratified, or the split the caller passes, e.g. the original's);
2. per feature set (audio, audio + context), per registry model: search hyper-parameters and
   score by k-fold on the training rows only (`songpop.models.search`), refit on them;
3. a soft-voting ensemble of the best members, scored on the same folds from their
   out-of-fold probabilities; the best model per feature set is chosen by that cross-validated
   accuracy, never by the test set;
4. evaluate every model once on the test rows (`songpop.evaluation`: every metric with a 95%
   bootstrap interval and the dummy baseline); for the best model also repeated stratified
   k-fold, artist-grouped folds and a temporal split on the training rows where the table has
   `primary_artist` / a year; learning curves, confusion matrices and a reliability diagram;
5. the score itself as a regression (MAE, R² against a mean baseline);
6. save every model as a bundle `out_dir/<task>/<feature set>/<model>/`, update
   `out_dir/index.json` and write the report section `out_dir/<task>/section.json`.

Per-stage wall times are returned and written to `out_dir/<task>/timings.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from songpop import config
from songpop import evaluation as ev
from songpop.bundle import read_meta, save_bundle, update_index
from songpop.bundle.store import CLASS_PERCENTILES, reference_stats
from songpop.errors import SchemaError
from songpop.evaluation.forward import forward_protocol, within_group_auc
from songpop.features import (
    FEATURE_SETS,
    TIME_COLUMNS,
    context_columns,
    feature_columns,
    feature_matrix,
    history_columns,
    labels,
    make_model_pipeline,
    stratified_split,
)
from songpop.io import json_safe, write_json_atomic
from songpop.models.registry import (
    MODELS,
    default_models,
    prefit_voting,
    require_installed,
)
from songpop.models.search import (
    Budget,
    SearchResult,
    get_budget,
    make_folds,
    n_jobs_for,
    search_model,
)
from songpop.prepare.label import describe_levels, natural_order, top_class
from songpop.progress import Hook
from songpop.report import training as section
from songpop.timing import Timer
from songpop.vocabulary import is_categorical

log = logging.getLogger(__name__)

ENSEMBLE_SIZE = 3
"""Members of the soft-voting ensemble: the best models by cross-validated accuracy."""


def table_sha256(frame: pd.DataFrame) -> str:
    """A sha256 of a table's values and column names (row order matters, the index does not)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def bundle_id(task: str, feature_set: str, model: str) -> str:
    """A bundle's id, which is also its path below the models folder."""
    return f"{task}/{config.FEATURE_SET_SLUGS.get(feature_set, feature_set)}/{model}"


def check_songs(songs: pd.DataFrame, source: str = "song table") -> None:
    """Refuse a table that cannot be trained on, naming what is missing.

    Raises:
        LayoutError / SchemaError: no `level` column, missing labels, a single class, or a
            missing audio feature column.
    """
    labels(songs)  # raises on a missing or unusable label column
    feature_columns(songs, "audio")  # raises on missing audio features
    if len(songs) < 20:
        raise SchemaError(f"{source}: {len(songs)} rows; training needs at least 20")


@dataclass(frozen=True)
class TaskSpec:
    """What to train on one song table, and how.

    Attributes:
        task: the task's name, e.g. "seed" or "hit" (folder name and report label).
        label_strategy: how `level` was made (`config.LABEL_STRATEGIES`), recorded in bundles.
        feature_sets: which feature sets to train ("audio+context" is skipped when the table
            holds no context column).
        models: registry names (default: `registry.default_models()`).
        budget: search budget, "quick", "default" or "full".
        seed: the random seed.
        test_size: share of test rows for the stratified split.
        split: `(train_positions, test_positions)` to use instead (e.g. the original's).
        hook: given an `Event` per fit of every model search (`songpop.progress`).
        set_default: make this task's default model the models folder's default.
        extras: run the extra protocols, learning curves and the regression attempt.
        section_order: the report section's order.
        save: write bundles, index.json and the report section.
        forward: score every feature set forward in time at the rolling origins
            (`evaluation.forward`), where the table has a year or decade.
        calibrate: wrap each fitted model in `CalibratedClassifierCV` (isotonic, 3 folds of
            the training rows), so that "12%" means about 12 in 100 (the chart-chance task).
        split_by: "artist" for an artist-disjoint train/test split (no artist on both sides).
        era_years: the levels were cut within release cohorts this many years wide (recorded
            in the bundles' meaning; the forward protocol then keeps the labels as they are).
        artist_history: the build's `artist_history.parquet`: saved into the bundles whose
            features include the artist's earlier chart record, which fill it from there.
    """

    task: str
    label_strategy: str
    feature_sets: Sequence[str] = FEATURE_SETS
    models: Sequence[str] | None = None
    budget: str = "default"
    seed: int = config.SEED
    test_size: float = 0.2
    split: tuple[Sequence[int], Sequence[int]] | None = None
    hook: Hook | None = None
    set_default: bool = True
    extras: bool = True
    section_order: int = 30
    save: bool = True
    forward: bool = True
    calibrate: bool = False
    split_by: str | None = None
    era_years: int | None = None
    artist_history: pd.DataFrame | None = None


YEAR_ONLY_MODEL = "lgbm_fast"
"""The year-only baseline's model: LightGBM on one column finds the best step function of the
year (a level per era), which is all a year can say."""
FORWARD_MODEL = "lgbm_fast"
"""The forward protocol fits this model on every feature set at every origin: the same
settings everywhere, so the rows differ only by what the model is told."""
CALIBRATION_FOLDS = 3


@dataclass
class FeatureSetRun:
    """One feature set of a task being trained.

    Attributes:
        name: "audio" or "audio+context".
        cols: its input columns.
        X: the feature matrix of every song (rows as in the task's table).
        train_sha: the sha256 of its training rows and labels (recorded in bundles).
        searched: registry name → the search's result (the fitted estimator inside).
        sample: positions (into the training rows) the search and the extra protocols use.
        summary: the JSON-ready summary of the feature set.
    """

    name: str
    cols: list[str]
    X: pd.DataFrame
    train_sha: str
    searched: dict[str, SearchResult] = field(default_factory=dict)
    sample: np.ndarray | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> str:
        """The best model by cross-validated accuracy."""
        return str(self.summary["best"])

    def estimator(self, model: str) -> Any:
        """The fitted estimator of a registry model."""
        return self.searched[model].estimator


@dataclass
class TaskRun:
    """The state of one `train_task` call, passed from step to step."""

    spec: TaskSpec
    plan: Budget
    names: list[str]
    songs: pd.DataFrame
    y: pd.Series
    train_pos: np.ndarray
    test_pos: np.ndarray
    out_dir: Path
    timer: Timer
    summary: dict[str, Any]
    feature_sets: dict[str, FeatureSetRun] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    extra_results: list[dict[str, Any]] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def task_dir(self) -> Path:
        """The task's own folder below the models folder."""
        return self.out_dir / self.spec.task

    @property
    def y_train(self) -> pd.Series:
        """The training labels."""
        return self.y.iloc[self.train_pos]

    @property
    def y_test(self) -> pd.Series:
        """The test labels."""
        return self.y.iloc[self.test_pos]


def train_task(
    songs: pd.DataFrame,
    out_dir: str | Path,
    spec: TaskSpec | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Train, select, evaluate and save the registry's models on one song table.

    Args:
        songs: the song table (songs.parquet): audio features, optional context, `level`.
        out_dir: the models folder (bundles, index.json, the task's report section).
        spec: what to train; or its fields as keywords (`task=`, `label_strategy=`, ...).
        **fields: `TaskSpec` fields, replacing those of `spec`.

    Returns:
        A JSON-ready summary: rows, split, per feature set the models with their CV and test
        scores, the best model, the extra protocols, the regression attempt, the default bundle
        id, the results for the report and `timings` (seconds per stage).
    """
    spec = replace(spec, **fields) if spec is not None else TaskSpec(**fields)
    t_start = time.perf_counter()
    run = _prepare(songs, Path(out_dir), spec)
    for fs in spec.feature_sets:
        if fs not in FEATURE_SETS:
            continue
        if fs == "audio+context" and not context_columns(run.songs):
            log.info("%s: no context column in the table; skipping audio+context", spec.task)
            continue
        if fs == "year" and not feature_columns(run.songs, "year"):
            log.info("%s: no year or decade in the table; no year-only baseline", spec.task)
            continue
        if fs == "history" and not history_columns(run.songs):
            continue
        if fs == "history" and spec.save and spec.artist_history is None:
            log.warning(
                "%s: no artist_history.parquet given: the history models could not fill an "
                "artist's record for a new song, so they are not trained",
                spec.task,
            )
            continue
        fsr = _fit_feature_set(run, fs)
        if spec.extras and fs not in ("measured", "year"):
            _extra_protocols(run, fsr)
        if spec.save and fs != "year":
            _save_bundles(run, fsr)
    if not run.feature_sets:
        raise SchemaError(
            f"{spec.task}: no feature set could be trained from {list(spec.feature_sets)}"
        )
    if spec.forward:
        _forward(run)
    if spec.extras:
        _regression(run)
    if spec.save:
        _report_section(run)
        _update_catalog(run)
    return _finish(run, t_start)


def _prepare(songs: pd.DataFrame, out_dir: Path, spec: TaskSpec) -> TaskRun:
    """Check the table and the models, and split the songs before anything is fitted."""
    timer = Timer()
    plan = get_budget(spec.budget)
    names = list(spec.models) if spec.models else default_models()
    require_installed(names)  # each name looked up (`get_spec`), then its group: before any fit
    with timer.stage("prepare"):
        check_songs(songs)
        songs = songs.reset_index(drop=True)
        y = labels(songs)
        if spec.split is None and spec.split_by == "artist":
            train_pos, test_pos = artist_split(songs, y, spec.test_size, spec.seed)
            split_info: dict[str, Any] = {
                "kind": "artist-disjoint",
                "test_size": spec.test_size,
                "seed": spec.seed,
            }
        elif spec.split is None:
            train_pos, test_pos = stratified_split(y, test_size=spec.test_size, seed=spec.seed)
            split_info = {
                "kind": "stratified",
                "test_size": spec.test_size,
                "seed": spec.seed,
            }
        else:
            train_pos, test_pos = (np.asarray(p, dtype=int) for p in spec.split)
            split_info = {"kind": "given"}
        _check_split(train_pos, test_pos, len(songs))
    summary: dict[str, Any] = {
        "task": spec.task,
        "label_strategy": spec.label_strategy,
        "budget": plan.name,
        "seed": spec.seed,
        "n_rows": int(len(songs)),
        "n_train": int(len(train_pos)),
        "n_test": int(len(test_pos)),
        "classes": sorted(y.unique().tolist()),
        "test_class_counts": {str(k): int(v) for k, v in y.iloc[test_pos].value_counts().items()},
        "split": split_info,
        "feature_sets": {},
    }
    # figure paths are made relative to the models folder later: it must be absolute
    return TaskRun(
        spec, plan, names, songs, y, train_pos, test_pos, out_dir.resolve(), timer, summary
    )


def _finish(run: TaskRun, t_start: float) -> dict[str, Any]:
    """The summary with the results and timings; written beside the bundles when saving."""
    summary = run.summary
    summary["results"] = run.results + run.extra_results
    run.timer.seconds["total"] = round(time.perf_counter() - t_start, 3)
    summary["timings"] = run.timer.seconds
    if run.spec.save:
        write_json_atomic(run.timer.seconds, run.task_dir / "timings.json")
        write_json_atomic(_without_results(summary), run.task_dir / "train.json")
    return summary


# --- one feature set ------------------------------------------------------------------------


def _fit_feature_set(run: TaskRun, fs: str) -> FeatureSetRun:
    """Search and fit every model on the training rows, choose the best by CV, evaluate."""
    spec, plan, timer = run.spec, run.plan, run.timer
    cols = feature_columns(run.songs, fs)
    X = feature_matrix(run.songs, cols)
    X_train, X_test = X.iloc[run.train_pos], X.iloc[run.test_pos]
    y_train, y_test = run.y_train, run.y_test
    fsr = FeatureSetRun(fs, cols, X, table_sha256(pd.concat([X_train, y_train], axis=1)))
    fsr.sample = search_sample(y_train, plan, spec.seed)
    sampled = len(fsr.sample) < len(y_train)
    X_s, y_s = X_train.iloc[fsr.sample], y_train.iloc[fsr.sample]
    folds = make_folds(y_s, plan.cv, spec.seed)
    names = list(run.names)
    if fs == "year":
        names = [YEAR_ONLY_MODEL]
    elif fs == "measured":
        # It answers "what is a prediction from a file worth", not which model is best: the
        # cheap models of the task's selection are enough (all of them when none is cheap).
        names = [n for n in names if MODELS[n].cheap] or names
    elif fs != "audio" and plan.name in ("default", "quick"):
        # The context set asks what the year adds. The heavy models (SVC, MLP: one fold each,
        # a quarter of a task's time) were never the best of a context set; the audio set
        # and the full budget still train them (the quick budget, the tests', as the default).
        names = [n for n in names if not MODELS[n].heavy] or names
    plain = [n for n in names if n != "ensemble"]
    for name in plain:
        with timer.stage(f"{fs}/{name}"):
            fsr.searched[name] = search_model(
                MODELS[name],
                X_s,
                y_s,
                budget=plan,
                folds=folds,
                seed=spec.seed,
                hook=spec.hook,
                label=fs,
                refit_on=(X_train, y_train) if sampled else None,
                # a learning curve's last point is this search's final round (`_learning_curves`:
                # the curved models and the best, not known yet; a heavy model has one fold, and
                # a calibrated task's curves are of the calibrated models, not the searched ones)
                train_scores=fs == "audio"
                and spec.extras
                and not spec.calibrate
                and not MODELS[name].heavy,
            )
    if "ensemble" in names:
        with timer.stage(f"{fs}/ensemble"):
            fsr.searched["ensemble"] = _ensemble(
                fsr.searched, (X_s, y_s), (X_train, y_train), folds, plan, spec.seed,
                spec.hook, fs,
            )  # fmt: skip
    if spec.calibrate:
        with timer.stage(f"{fs}/calibrate"):
            for name, res in fsr.searched.items():
                # the MLP's torch module is saved apart from skops, not inside a wrapper
                if name != "dummy" and MODELS[name].family != "neural":
                    res.estimator = calibrated(res.estimator, X_train, y_train)
    searched = fsr.searched
    # The best is chosen among models scored on every fold: a heavy model scored on one fold
    # (default budget) has a noisier estimate, and picking the maximum would favour that noise.
    scored = {n: r for n, r in searched.items() if n != "dummy"}
    candidates = {n: r for n, r in scored.items() if r.cv_folds == len(folds)} or scored
    candidates = candidates or searched
    best = max(candidates, key=lambda n: candidates[n].cv_accuracy)
    dummy_cv = _dummy_cv(y_s, folds)
    results = []
    models: dict[str, Any] = {}
    with timer.stage(f"{fs}/evaluate"):
        for name, res in searched.items():
            proba = res.estimator.predict_proba(X_test)
            result = ev.evaluate_classifier(
                y_test,
                proba,
                list(res.estimator.classes_),
                y_train=y_train,
                task=spec.task,
                feature_set=fs,
                model=name,
                cv=_cv_summary(res, dummy_cv),
                seed=spec.seed,
                n_boot=plan.n_boot,
            )
            results.append(result)
            models[name] = _model_entry(res, result)
    log.info("%s %s: best by CV is %s (%.4f)", spec.task, fs, best, searched[best].cv_accuracy)
    fsr.summary = {
        "features": cols,
        "n_features": len(cols),
        "cv_folds": plan.cv,
        "best": best,
        "best_cv_accuracy": searched[best].cv_accuracy,
        "dummy": {k: v for k, v in results[0]["dummy"].items()},
        "models": models,
        "search_rows": int(len(fsr.sample)),
        "train_table_sha256": fsr.train_sha,
    }
    run.feature_sets[fs] = fsr
    run.summary["feature_sets"][fs] = fsr.summary
    run.results += results
    return fsr


def _ensemble(
    searched: Mapping[str, SearchResult],
    scored_on: tuple[pd.DataFrame, pd.Series],
    fit_on: tuple[pd.DataFrame, pd.Series],
    folds: list[tuple],
    plan: Budget,
    seed: int,
    hook: Hook | None,
    fs: str,
) -> SearchResult:
    """Soft voting over the best members by CV, scored from their out-of-fold probabilities.

    Averaging the members' out-of-fold probabilities is exactly the cross-validation of the
    soft-voting ensemble on the same folds (same members, same settings), so no extra fit is
    needed to score it; the final ensemble is then fitted once on all training rows.
    """
    t0 = time.perf_counter()
    pool = [r for n, r in searched.items() if MODELS[n].ensemble_member and r.oof_proba is not None]
    pool.sort(key=lambda r: -r.cv_accuracy)
    members = pool[:ENSEMBLE_SIZE]
    if len(members) < 2:
        log.info("%s: fewer than two scored members; the ensemble uses the registry default", fs)
        return search_model(
            MODELS["ensemble"],
            *scored_on,
            budget=plan,
            folds=folds,
            seed=seed,
            hook=hook,
            label=fs,
            refit_on=fit_on,
        )
    classes = members[0].classes
    oof = np.mean([m.oof_proba for m in members], axis=0)
    pred = np.asarray(classes, dtype=object)[oof.argmax(axis=1)]
    truth = scored_on[1].to_numpy()
    fold_acc = [float(np.mean(pred[te] == truth[te])) for _, te in folds]
    # The members are fitted on exactly these rows already (a capped member has no out-of-fold
    # probabilities and never joins): reuse them instead of refitting each one.
    estimator = prefit_voting([(m.name, m.estimator) for m in members], fit_on[1])
    return SearchResult(
        name="ensemble",
        estimator=estimator,
        params={"members": [m.name for m in members]},
        cv_accuracy=float(np.mean(pred == truth)),
        cv_folds=len(folds),
        oof_proba=oof,
        classes=classes,
        n_candidates=1,
        n_fits=sum(1 for _ in members),
        seconds=time.perf_counter() - t0,
        fold_accuracies=fold_acc,
        folds=folds,
    )


def calibrated(estimator: Any, X: pd.DataFrame, y: pd.Series) -> Any:
    """`estimator`'s settings refitted inside `CalibratedClassifierCV` on the training rows:
    isotonic calibration learned on held-out folds of the training rows only (the test rows
    never), the folds' models averaged."""
    from sklearn.calibration import CalibratedClassifierCV

    return CalibratedClassifierCV(
        clone(estimator), method="isotonic", cv=CALIBRATION_FOLDS, ensemble=True
    ).fit(X, y)


def artist_split(
    songs: pd.DataFrame, y: pd.Series, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A train/test split that keeps every song of a primary artist on one side, stratified
    by label as far as the groups allow (scikit-learn's `StratifiedGroupKFold`, one fold out of
    round(1 / test_size))."""
    from sklearn.model_selection import StratifiedGroupKFold

    if "primary_artist" not in songs.columns:
        raise SchemaError("an artist-disjoint split needs a primary_artist column")
    groups = songs["primary_artist"].fillna("").astype(str).str.lower().to_numpy()
    folds = StratifiedGroupKFold(n_splits=max(2, round(1 / test_size)), shuffle=True,
                                 random_state=seed)  # fmt: skip
    train_pos, test_pos = next(folds.split(np.zeros(len(y)), y.to_numpy(), groups))
    return np.sort(train_pos), np.sort(test_pos)


def search_sample(y_train: pd.Series, plan: Budget, seed: int) -> np.ndarray:
    """Positions of the training rows the search and the extra protocols use.

    All of them, unless the budget caps the rows searched (`Budget.max_search_rows`): then a
    stratified, seeded sample. The chosen models are refitted on every training row anyway.
    """
    n = len(y_train)
    cap = plan.max_search_rows
    if not cap or n <= cap:
        return np.arange(n)
    sample, _ = train_test_split(
        np.arange(n), train_size=cap, random_state=seed, stratify=y_train.to_numpy()
    )
    log.info("searching on a stratified %d of the %d training rows", cap, n)
    return np.sort(sample)


def _dummy_cv(y_train: pd.Series, folds: list[tuple]) -> list[float]:
    """Most-frequent-class accuracy on each fold (majority of the fold's training part)."""
    truth = y_train.to_numpy()
    out = []
    for tr, te in folds:
        values, counts = np.unique(truth[tr], return_counts=True)
        out.append(float(np.mean(truth[te] == values[np.argmax(counts)])))
    return out


def _cv_summary(res: SearchResult, dummy_cv: list[float]) -> dict[str, Any]:
    """The search's final k-fold scores in `repeated_cv`'s format (one repeat)."""
    acc = np.asarray(res.fold_accuracies, dtype=float)
    dummy = np.asarray(dummy_cv[: len(acc)], dtype=float)

    def summary(values: np.ndarray) -> dict[str, Any]:
        sd = float(values.std(ddof=1)) if len(values) > 1 else None
        return {"mean": float(values.mean()), "sd": sd, "values": values.tolist()}

    return {
        "protocol": "stratified_kfold_search" if len(acc) > 1 else "stratified_holdout_fold",
        "grouped": False,
        "n_splits": len(res.folds) if len(acc) > 1 else 1,
        "n_repeats": 1,
        "n_folds": len(acc),
        "scores": {"accuracy": summary(acc)},
        "dummy": {"accuracy": summary(dummy)},
        "lift": summary(acc - dummy),
    }


def _model_entry(res: SearchResult, result: Mapping[str, Any]) -> dict[str, Any]:
    m = result["metrics"]
    ci = result["ci"]
    entry = {
        "cv_accuracy": res.cv_accuracy,
        "cv_folds": res.cv_folds,
        "params": json_safe(res.params),
        "n_candidates": res.n_candidates,
        "n_fits": res.n_fits,
        "search_seconds": round(res.seconds, 3),
        "fit_rows": res.fit_rows,
        "accuracy": m["accuracy"],
        "accuracy_ci": ci["accuracy"],
        "macro_f1": m["macro_f1"],
        "macro_f1_ci": ci["macro_f1"],
        "balanced_accuracy": m["balanced_accuracy"],
        "qwk": m["qwk"],
        "log_loss": m["log_loss"],
        "brier": m["brier"],
        "ece": m["ece"],
        "calibration": [b for b in m["reliability"]["bins"] if b["count"]],
        "roc_auc": m["roc_auc"],
        "pr_auc": m.get("pr_auc"),
        "base_rate": _base_rate(m),
        "dummy_accuracy": result["dummy"]["accuracy"],
        "majority_rate": result["dummy"].get("test_majority_share"),
        "lift": result["lift"],
    }
    return entry


def _base_rate(metrics: Mapping[str, Any]) -> float | None:
    """Two classes: the test songs' share of the positive class (what PR-AUC starts from)."""
    if metrics.get("positive_class") is None:
        return None
    labels = [str(c) for c in metrics["labels"]]
    cm = np.asarray(metrics["confusion_matrix"], dtype=float)
    row = labels.index(str(metrics["positive_class"]))
    return float(cm[row].sum() / cm.sum()) if cm.sum() else None


# --- extra protocols ------------------------------------------------------------------------


def _extra_protocols(run: TaskRun, fsr: FeatureSetRun) -> None:
    """Repeated k-fold, artist-grouped k-fold and a temporal split for the best model, all on
    the training rows the search used (the test rows stay untouched)."""
    fs, fs_summary, best = fsr.name, fsr.summary, fsr.best
    songs, X, y = run.songs, fsr.X, run.y
    plan, seed, timer, task = run.plan, run.spec.seed, run.timer, run.spec.task
    train_pos = run.train_pos[fsr.sample]
    template = clone(fsr.estimator(best))
    X_train, y_train = X.iloc[train_pos], y.iloc[train_pos]
    binary = y.nunique() == 2
    scoring = ("accuracy", "macro_f1", "balanced_accuracy") + (("roc_auc",) if binary else ())
    out: list[dict[str, Any]] = []
    n_splits = plan.cv  # 5 folds in the full budget, 3 in the default, 2 in quick

    def cv_protocol(stage: str, label: str, repeats: int, groups: np.ndarray | None) -> None:
        """Cross-validate the best model's settings on the training rows, one protocol."""
        with timer.stage(f"{fs}/{stage}"):
            cv = ev.repeated_cv(
                lambda: clone(template),
                X_train,
                y_train,
                n_splits=n_splits,
                n_repeats=repeats,
                groups=groups,
                seed=seed,
                scoring=scoring,
                n_jobs=n_jobs_for(len(X_train)),
            )
            fs_summary[stage] = cv
            out.append(
                ev.result_from_cv(
                    cv, task=task, feature_set=fs, model=f"{best} [{label} {n_splits}-fold CV]"
                )
            )

    if plan.repeats:
        cv_protocol("repeated_cv", "repeated", plan.repeats, None)
    if "primary_artist" in songs.columns and songs["primary_artist"].notna().any():
        groups = songs["primary_artist"].iloc[train_pos].fillna("").astype(str).to_numpy()
        cv_protocol("grouped_cv", "artist-grouped", 1, groups)
    year_col = next(
        (c for c in TIME_COLUMNS if c in songs.columns and songs[c].notna().any()), None
    )
    if year_col is not None:
        with timer.stage(f"{fs}/temporal"):
            frame = X_train.assign(_y=y_train.to_numpy(), _t=songs[year_col].iloc[train_pos].values)
            try:
                older, newer = ev.temporal_split(frame, "_t", 0.2)
            except ev.MetricInputError as exc:
                log.info("%s %s: no temporal split (%s)", task, fs, exc)
            else:
                est = clone(template).fit(older[X.columns], older["_y"])
                result = ev.evaluate_classifier(
                    newer["_y"],
                    est.predict_proba(newer[X.columns]),
                    list(est.classes_),
                    y_train=older["_y"],
                    task=task,
                    feature_set=fs,
                    model=f"{best} [temporal split]",
                    protocol=f"temporal: train < {newer.attrs['temporal_cutoff']}, test ≥",
                    seed=seed,
                    n_boot=run.plan.n_boot,
                )
                fs_summary["temporal"] = {
                    "year_column": year_col,
                    "cutoff": int(newer.attrs["temporal_cutoff"]),
                    "n_train": int(len(older)),
                    "n_test": int(len(newer)),
                    "accuracy": result["metrics"]["accuracy"],
                    "accuracy_ci": result["ci"]["accuracy"],
                    "macro_f1": result["metrics"]["macro_f1"],
                    "dummy_accuracy": result["dummy"]["accuracy"],
                    "majority_rate": result["dummy"].get("test_majority_share"),
                    "model": best,
                }
                out.append(result)
    run.extra_results += out


FORWARD_SETS: tuple[str, ...] = ("year", "audio", "audio+context", "history")
"""The feature sets scored forward in time: the year-only yardstick, then what audio, the
context and the artist's history add to it."""


def _forward(run: TaskRun) -> None:
    """Every feature set forward in time (`evaluation.forward`), each with `FORWARD_MODEL`,
    calibrated like the task's own models; for two classes also the main test split's
    within-year and within-genre ROC-AUC."""

    songs, spec = run.songs, run.spec
    time_col = next((c for c in TIME_COLUMNS if c in songs and songs[c].notna().any()), None)
    if time_col is None:
        return
    sets = {fs: run.feature_sets[fs] for fs in FORWARD_SETS if fs in run.feature_sets}

    def make(fs: str) -> Any:
        estimator = MODELS[FORWARD_MODEL].build(sets[fs].cols, spec.seed, quick=run.plan.quick)
        if spec.calibrate:
            from sklearn.calibration import CalibratedClassifierCV

            return CalibratedClassifierCV(estimator, method="isotonic", cv=CALIBRATION_FOLDS)
        return estimator

    relabel = spec.label_strategy in ("composite", "spotify") and not spec.era_years
    with run.timer.stage("forward"):
        forward = forward_protocol(
            songs,
            run.y,
            {fs: fsr.X for fs, fsr in sets.items()},
            make,
            time_column=time_col,
            relabel=relabel and "score" in songs,
            classes=natural_order(sorted(run.y.unique())),
            seed=spec.seed,
            subgroups=_subgroups(songs),
        )
    forward["model"] = FORWARD_MODEL
    run.summary["forward"] = forward
    if run.y.nunique() == 2:
        run.summary["within"] = _within_groups(run)


def _subgroups(songs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Songs the forward protocol also scores apart: those by artists with no earlier Hot 100
    entry, where only the audio (and the year) can speak."""
    if "artist_prior_entries" not in songs or songs["artist_prior_entries"].isna().all():
        return {}
    entries = pd.to_numeric(songs["artist_prior_entries"], errors="coerce")
    return {
        "new_artists": entries.eq(0).to_numpy(dtype=bool),
        "established_artists": entries.gt(0).to_numpy(dtype=bool),
    }


def _within_groups(run: TaskRun) -> dict[str, Any]:
    """ROC-AUC of each feature set's best model inside each release year and genre of the
    test songs: ranking songs that share a year (or genre), whose base rate cannot help."""

    out: dict[str, Any] = {}
    test = run.songs.iloc[run.test_pos]
    positive = top_class(sorted(run.y.unique()))
    for fs, fsr in run.feature_sets.items():
        estimator = fsr.estimator(fsr.best)
        column = [str(c) for c in estimator.classes_].index(str(positive))
        p = estimator.predict_proba(fsr.X.iloc[run.test_pos])[:, column]
        entry = {}
        for group in ("year", "genre"):
            if group in test and test[group].notna().mean() > 0.9:
                entry[group] = within_group_auc(
                    run.y_test.to_numpy(), p, test[group].astype(str).to_numpy(), positive
                )
        out[fs] = entry
    return out


def _regression(run: TaskRun) -> None:
    """The report's regression attempt done right: predict `score` itself, MAE and R² against
    a baseline that predicts the training mean, on the same split."""
    from lightgbm import LGBMRegressor

    songs, train_pos, test_pos = run.songs, run.train_pos, run.test_pos
    seed, timer, task = run.spec.seed, run.timer, run.spec.task
    if "score" not in songs.columns:
        run.summary["regression"] = {"skipped": "no score column"}
        return
    score = pd.to_numeric(songs["score"], errors="coerce")
    if score.isna().any() or score.nunique() <= 2:
        run.summary["regression"] = {"skipped": "score is missing or not continuous"}
        return
    out: dict[str, Any] = {"target": "score", "feature_sets": {}}
    for fs, fsr in run.feature_sets.items():
        if fs == "measured":  # a score from measured features alone is not asked for
            continue
        cols, X = fsr.cols, fsr.X
        with timer.stage(f"{fs}/regression"):
            reg = make_model_pipeline(
                "boosting",
                cols,
                LGBMRegressor(
                    n_estimators=300,
                    learning_rate=0.04,
                    num_leaves=15,
                    min_child_samples=40,
                    subsample=0.8,
                    subsample_freq=1,
                    colsample_bytree=0.8,
                    random_state=seed,
                    # two threads, or one beside another training job: LightGBM's threads spin
                    # while they wait, and two jobs × two threads on two cores took 20x longer
                    n_jobs=config.jobs(2),
                    verbose=-1,
                ),
            )
            reg.fit(X.iloc[train_pos], score.iloc[train_pos])
            pred = reg.predict(X.iloc[test_pos])
            result = ev.evaluate_regressor(
                score.iloc[test_pos].to_numpy(),
                pred,
                y_train=score.iloc[train_pos].to_numpy(),
                task=task,
                feature_set=fs,
                model="lgbm_regressor",
                seed=seed,
            )
        r = result["regression"]
        out["feature_sets"][fs] = {
            "mae": r["mae"],
            "r2": r["r2"],
            "baseline_mae": r["baseline"]["mae"],
            "baseline_r2": r["baseline"]["r2"],
            "mae_reduction": r["mae_reduction"],
        }
        run.results.append(result)
    run.summary["regression"] = out


# --- figures, bundles, index ----------------------------------------------------------------


def _report_section(run: TaskRun) -> None:
    """Draw the task's figures (and, with extras, compute its learning curves) and write its
    report section (`songpop.report.training`)."""
    with run.timer.stage("figures"):
        run.figures = section.task_figures(
            run.spec.task,
            run.task_dir / "figures",
            run.results,
            run.summary,
            _training_curves(run),
        )
    if run.spec.extras:
        with run.timer.stage("learning curves"):
            curves = _learning_curves(run)
        run.summary["learning_curves"] = curves
        run.figures += section.learning_curve_figures(curves, run.task_dir / "figures", run.plan.cv)
    with run.timer.stage("report section"):
        path = section.write_task_section(
            run.results + run.extra_results,
            run.figures,
            run.task_dir,
            run.summary,
            order=run.spec.section_order,
        )
    run.summary["section"] = str(path)


def _training_curves(run: TaskRun) -> dict[str, section.TrainingCurve]:
    """Per feature set, the recorded epochs of a network among its searched models (the MLP)."""
    out = {}
    for fs, fsr in run.feature_sets.items():
        trained = [fsr.estimator(m) for m in fsr.searched]
        nets = [e[-1] for e in trained if hasattr(e, "steps") and getattr(e[-1], "history_", None)]
        if nets:
            out[fs] = section.TrainingCurve(nets[0].history_, getattr(nets[0], "best_epoch_", None))
    return out


def _learning_curves(run: TaskRun) -> dict[str, Any]:
    """Learning curves of the registry's chosen models and the best one (audio features)."""
    fsr = run.feature_sets.get("audio")
    if fsr is None:
        return {}
    plan, seed = run.plan, run.spec.seed
    train_pos = run.train_pos[fsr.sample]
    X = fsr.X.iloc[train_pos]
    y_train = run.y.iloc[train_pos]
    chosen = [m for m in fsr.searched if MODELS[m].learning_curve]
    # the best model's curve too, unless it is the ensemble: its members' curves are drawn
    # (or cheap to draw), and refitting three models per point cost more than all the others
    if fsr.best not in chosen and fsr.best != "ensemble":
        chosen.append(fsr.best)
    sizes = (0.2, 0.6, 1.0) if plan.name != "quick" else (0.5, 1.0)
    own_folds = make_folds(y_train, plan.cv, seed)  # the curve's stratified k-fold, as a list
    curves = {}
    for name in chosen:
        res = fsr.searched[name]
        # The whole of each training fold is the search's final round on these same folds
        # (`make_folds` is the curve's stratified k-fold with the same seed, on the same rows):
        # its scores are the last point, and only the smaller sizes are fitted here.
        measured = None
        same_model = not run.spec.calibrate  # a calibrated model is not the one searched
        if same_model and res.fold_train_accuracies is not None and _same_folds(res, own_folds):
            measured = (len(res.folds[0][0]), res.fold_train_accuracies, res.fold_accuracies)
        template = clone(fsr.estimator(name))
        curves[name] = ev.learning_curve_data(
            lambda t=template: clone(t),
            X,
            y_train,
            cv=plan.cv,
            train_sizes=sizes[:-1] if measured is not None else sizes,
            seed=seed,
            n_jobs=n_jobs_for(len(X)),
            measured=measured,
        )
    return curves


def _same_folds(res: SearchResult, folds: list[tuple]) -> bool:
    """The search's final round ran on exactly these folds (a model cut to fewer rows inside
    its search draws folds of its own, whose scores are no point of this curve)."""
    return len(res.folds) == len(folds) and all(
        np.array_equal(a, c) and np.array_equal(b, d)
        for (a, b), (c, d) in zip(res.folds, folds, strict=True)
    )


def _save_bundles(run: TaskRun, fsr: FeatureSetRun) -> None:
    """Save every model of a feature set as a bundle; its id goes into the model's entry."""
    X_train, y_train = fsr.X.iloc[run.train_pos], run.y_train
    train_songs = run.songs.iloc[run.train_pos]
    meaning = describe_levels(train_songs, run.spec.label_strategy, run.spec.era_years)
    models = fsr.summary["models"]
    serving = serving_candidates(models)
    # the training rows' statistics are the same for every model of the feature set
    classes = [str(c) for c in fsr.estimator(fsr.best).classes_]
    reference = reference_stats(X_train[fsr.cols], y_train.to_numpy(), classes)
    era = era_reference(train_songs, fsr.cols)
    if era:
        reference["era"] = era
    uses_history = any(c in config.HISTORY_FEATURES for c in fsr.cols)
    if uses_history and run.spec.artist_history is None:
        raise SchemaError(
            f"{run.spec.task}: the {fsr.name} models read the artist's chart history, and no "
            "artist_history.parquet was given to fill it for new songs (it is written beside "
            "songs.parquet by `songpop data build --task chart-chance`)"
        )
    compiled = False  # once the best candidate that converts has a graph, no other needs one
    with run.timer.stage("save bundles"):
        for model in sorted(models, key=lambda m: -models[m]["cv_accuracy"]):
            entry = models[model]
            estimator = fsr.estimator(model)
            bid = bundle_id(run.spec.task, fsr.name, model)
            path = save_bundle(
                estimator,
                run.out_dir / bid,
                model_id=bid,  # unique across tasks and feature sets (the API selects by id)
                feature_names=fsr.cols,
                classes=[str(c) for c in estimator.classes_],
                label_strategy=run.spec.label_strategy,
                feature_set=fsr.name,
                metrics=_bundle_metrics(entry),
                train_table_sha256=fsr.train_sha,
                reference_X=X_train,
                reference_y=y_train.to_numpy(),
                task=run.spec.task,
                songs=train_songs,
                meaning=meaning,
                reference=reference,
                compile=model in serving and not compiled,
                artist_history=run.spec.artist_history if uses_history else None,
            )
            entry["bundle"] = bid
            entry["scored_by"] = "onnx" if read_meta(path)["layout"].get("onnx") else "estimator"
            compiled = compiled or entry["scored_by"] == "onnx"


ERA_WINDOW = 5
"""Explanations place a value among the training songs released within this many years of the
song's own year."""
ERA_MIN_SONGS = 50
ERA_TRACKING = 0.3
"""A feature whose Spearman correlation with the release year reaches this size (either sign)
"mostly tells the model when a song was made"; its pushes say so."""


def era_reference(songs: pd.DataFrame, features: Sequence[str]) -> dict[str, Any]:
    """What explanations need to speak within a song's era: each numeric feature's Spearman
    correlation with the release year (`tracks_year`), and per release year the percentiles of
    the songs released within `ERA_WINDOW` years of it (`by_year`: year → [first, last year,
    songs, {feature: percentiles}]). Empty when the songs have no year.
    """

    if "year" not in songs or songs["year"].notna().mean() < 0.9:
        return {}
    years = pd.to_numeric(songs["year"], errors="coerce").to_numpy(dtype="float64")
    numeric = [f for f in features if not is_categorical(f) and f in songs and f != "year"]
    matrix = feature_matrix(songs, numeric)
    ok = ~np.isnan(years)
    tracks = {}
    for name in numeric:
        values = matrix[name].to_numpy()
        both = ok & ~np.isnan(values)
        if both.sum() > 10 and np.nanstd(values[both]) > 0:
            rho = pd.Series(values[both]).corr(pd.Series(years[both]), method="spearman")
            tracks[name] = round(float(rho), 3)
    q = np.asarray(CLASS_PERCENTILES, dtype=float)
    by_year: dict[str, Any] = {}
    # every other year: a window of eleven years moves little in one (and bundle.json stays
    # small); a song's year uses the nearest stored one
    for year in range(int(np.nanmin(years)), int(np.nanmax(years)) + 1, 2):
        window = ok & (np.abs(years - year) <= ERA_WINDOW)
        if window.sum() < ERA_MIN_SONGS:
            continue
        first, last = int(years[window].min()), int(years[window].max())
        by_year[str(year)] = [
            first,
            last,
            int(window.sum()),
            {
                name: np.round(np.nanpercentile(matrix[name].to_numpy()[window], q), 4).tolist()
                for name in numeric
            },
        ]
    return {"window": ERA_WINDOW, "threshold": ERA_TRACKING, "q": q.tolist(),
            "tracks_year": tracks, "by_year": by_year}  # fmt: skip


def serving_candidates(models: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The models of a feature set that may become a default: within
    `config.SERVING_TOLERANCE` of its best cross-validated accuracy (`bundle.choose_default`
    never looks further). They are compiled to ONNX best first, and only until one converts:
    the default is the best by CV among those with a graph, so the rest could never be
    chosen, and a conversion and its check take up to 6 s (a 200-tree forest)."""
    scored = {m: e["cv_accuracy"] for m, e in models.items() if m != "dummy"}
    if not scored:
        return set()
    best = max(scored.values())
    return {m for m, cv in scored.items() if cv >= best - config.SERVING_TOLERANCE - 1e-12}


def _bundle_metrics(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "accuracy": entry["accuracy"],
        "accuracy_low": entry["accuracy_ci"][0],
        "accuracy_high": entry["accuracy_ci"][1],
        "macro_f1": entry["macro_f1"],
        "balanced_accuracy": entry["balanced_accuracy"],
        "log_loss": entry["log_loss"],
        "roc_auc": entry["roc_auc"],
        "cv_accuracy": entry["cv_accuracy"],
        "dummy_accuracy": entry["dummy_accuracy"],
        "majority_rate": entry.get("majority_rate"),
        "lift": entry["lift"]["point"],
        "calibration": entry["calibration"],
        "params": entry["params"],
    }


def _update_catalog(run: TaskRun) -> None:
    """Record the task's bundles in index.json and choose its default (`bundle.models_index`)."""
    task = run.spec.task
    entries, best = [], {}
    for fs, fsr in run.feature_sets.items():
        if fs == "year":  # a baseline, never saved as a bundle
            continue
        best[fs] = bundle_id(task, fs, fsr.best)
        for model, entry in fsr.summary["models"].items():
            bid = entry.get("bundle", bundle_id(task, fs, model))
            entries.append(
                {
                    "id": bid,
                    "path": bid,
                    "task": task,
                    "feature_set": fs,
                    "model": model,
                    "cv_accuracy": entry["cv_accuracy"],
                    "accuracy": entry["accuracy"],
                    "accuracy_ci": entry["accuracy_ci"],
                    "dummy_accuracy": entry["dummy_accuracy"],
                    "best": model == fsr.best,
                    # scored through a checked ONNX graph: a single prediction takes well under
                    # the serving target (bench_scoring); a property of the saved bundle
                    "fast_to_serve": entry.get("scored_by") == "onnx",
                }
            )
    run.summary["default"], run.summary["default_reason"] = update_index(
        run.out_dir, task, entries, best, set_default=run.spec.set_default
    )


def _check_split(train_pos: np.ndarray, test_pos: np.ndarray, n: int) -> None:
    if len(np.intersect1d(train_pos, test_pos)):
        raise SchemaError("split: a row is in both the training and the test positions")
    if len(train_pos) == 0 or len(test_pos) == 0:
        raise SchemaError("split: the training or the test part is empty")
    if max(train_pos.max(), test_pos.max()) >= n or min(train_pos.min(), test_pos.min()) < 0:
        raise SchemaError(f"split: positions must be within 0..{n - 1}")


def _without_results(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "results"}

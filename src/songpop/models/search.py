"""Hyper-parameter search on training rows only: successive halving, reporting every fit.

`search_model` takes the training rows of one split and never sees anything else. It samples
candidate settings from a registry entry's space (the entry's defaults are always candidate 0),
scores them by stratified k-fold on growing stratified subsets of the training rows, keeps the
best third each round (successive halving, as scikit-learn's `HalvingRandomSearchCV` does), and
finally scores the winner on k folds of all training rows. Those out-of-fold probabilities give
the model's cross-validated accuracy (used to choose between models) and let a soft-voting
ensemble be scored on the same folds without training anything more. The winner is then refitted
on all training rows.

Written out instead of calling `HalvingRandomSearchCV` so that every fit reports to a hook
and the out-of-fold probabilities of the final round are kept.

Budgets: "quick" (tests: 2 folds, small models, no search), "default" (`make run`: 3 folds,
the registry's defaults: the search measured no gain over them, see `BUDGETS`), "full"
(`songpop reproduce`: 5 folds, 27 candidates, every space searched).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid, ParameterSampler, StratifiedKFold

from songpop import config
from songpop.errors import SchemaError
from songpop.models.registry import ModelSpec
from songpop.progress import Event, Hook, emit

log = logging.getLogger(__name__)

N_JOBS = 2
"""Folds fitted in parallel (this project's machines have 2 cores; models use 1 thread each).
`SONGPOP_JOBS` overrides it: `songpop run` sets 1 inside the workers that train two tasks at
once, so that two tasks × two folds do not fight over two cores."""
JOBS_ENV = config.JOBS_ENV
PARALLEL_MIN_ROWS = 2000
"""Below this many rows a fit takes less than starting the worker processes: stay serial."""


def n_jobs_for(n_rows: int) -> int:
    """Parallel jobs worth using for fits on `n_rows` rows."""
    return config.jobs(N_JOBS) if n_rows >= PARALLEL_MIN_ROWS else 1


@dataclass(frozen=True)
class Budget:
    """How much searching one training run may do.

    Attributes:
        name: "quick", "default" or "full".
        cv: folds of the final (and each halving) round.
        n_candidates: settings sampled per searched model (the defaults included).
        factor: the share kept per halving round is 1 / factor.
        quick: build small models (`ModelSpec.quick_params`).
        repeats: repeats of the repeated k-fold evaluation in `songpop.train` (0: none; the
            search's own k-fold already gives the cross-validated accuracy).
        max_search_rows: search and cross-validate on at most this many training rows (a
            stratified sample); the chosen models are still refitted on every training row.
        n_boot: bootstrap resamples behind each test-set interval (`evaluate_classifier`).
    """

    name: str
    cv: int
    n_candidates: int
    factor: int = 3
    quick: bool = False
    repeats: int = 2
    max_search_rows: int | None = None
    n_boot: int = 1000


BUDGETS: dict[str, Budget] = {
    # the tests' budget: 2 folds on at most 4,000 training rows, small models, no search, no
    # repeated k-fold, test-set intervals from 200 resamples instead of 1,000 (as the forward
    # protocol's): bench_run wants a task in quick to take well under the default's time
    "quick": Budget(
        "quick",
        cv=2,
        n_candidates=1,
        factor=2,
        quick=True,
        repeats=0,
        max_search_rows=4_000,
        n_boot=200,
    ),  # fmt: skip
    # Measured (benchmarks/bench_search.py): on the three tasks' training rows the default
    # budget's 8-setting search moved cross-validated accuracy by -0.8 to +0.9 points
    # (LightGBM -0.8, -0.3 and 0.0; k-NN +0.9 and -0.4; logistic regression within 0.1), no
    # gain beyond the noise, for 4-9x the fits: the default budget fits the registry's
    # defaults, and the search is kept for "full" (`songpop reproduce`, `--budget full`).
    "default": Budget("default", cv=3, n_candidates=1, factor=3, repeats=0, max_search_rows=8_000),
    "full": Budget("full", cv=5, n_candidates=27, factor=3, repeats=3),
}


def get_budget(name: str) -> Budget:
    """The budget called `name`.

    Raises:
        SchemaError: unknown budget, listing the known ones.
    """
    try:
        return BUDGETS[name]
    except KeyError:
        raise SchemaError(f"unknown budget {name!r}; expected one of {list(BUDGETS)}") from None


@dataclass
class SearchResult:
    """What a search returns.

    Attributes:
        name: the registry name.
        estimator: the best setting refitted on all training rows.
        params: the chosen parameters (empty = the registry defaults).
        cv_accuracy: out-of-fold accuracy of the chosen setting on the training rows.
        cv_folds: folds behind `cv_accuracy` (1 for heavy models in the default budget).
        oof_proba: out-of-fold probabilities (rows × classes, `classes` order), or None when not
            every training row got one.
        classes: the class labels in probability-column order.
        n_candidates: settings tried.
        n_fits: model fits done, the final refit included.
        seconds: wall time.
        rounds: per halving round: rows used, candidates, best score.
        fold_accuracies: accuracy on each final fold.
        fold_train_accuracies: accuracy on each final fold's own training part, when asked
            (`search_model(train_scores=True)`): the last point of a learning curve drawn on the
            same folds, which therefore need not be fitted again.
        folds: the final folds (position pairs into the training rows).
        fit_rows: training rows the model was fitted on (fewer than given when capped by
            `ModelSpec.max_rows`).
    """

    name: str
    estimator: Any
    params: dict[str, Any]
    cv_accuracy: float
    cv_folds: int
    oof_proba: np.ndarray | None
    classes: list[str]
    n_candidates: int
    n_fits: int
    seconds: float
    rounds: list[dict[str, Any]] = field(default_factory=list)
    fold_accuracies: list[float] = field(default_factory=list)
    fold_train_accuracies: list[float] | None = None
    folds: list[tuple] = field(default_factory=list)
    fit_rows: int | None = None


def make_folds(y: Sequence[Any], n_splits: int, seed: int = config.SEED) -> list[tuple]:
    """Stratified, shuffled k-fold positions; every model of a run uses the same folds."""
    y_arr = np.asarray(y)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y_arr)), y_arr))


def candidates(spec: ModelSpec, budget: Budget, seed: int = config.SEED) -> list[dict[str, Any]]:
    """The settings to try: the defaults first, then a seeded sample of the space."""
    if not spec.space or budget.name not in spec.search_budgets or budget.n_candidates <= 1:
        return [{}]
    space = {k: list(v) for k, v in spec.space.items()}
    size = len(ParameterGrid(space))
    sampled = list(
        ParameterSampler(space, n_iter=min(budget.n_candidates - 1, size), random_state=seed)
    )
    return [{}] + sampled


def search_model(
    spec: ModelSpec,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    budget: Budget | str = "default",
    folds: list[tuple] | None = None,
    seed: int = config.SEED,
    hook: Hook | None = None,
    label: str = "",
    refit_on: tuple[pd.DataFrame, pd.Series] | None = None,
    train_scores: bool = False,
) -> SearchResult:
    """Choose one registry entry's hyper-parameters on training rows and refit it on them.

    Args:
        spec: the registry entry.
        X: training features (the columns the entry is built for, in order).
        y: training labels.
        budget: a `Budget` or its name.
        folds: the final round's folds as position pairs (default: `make_folds(y, budget.cv)`).
        seed: random seed for sampling, subsets and the models.
        hook: given a "search" `Event` after every fit (done, planned, best score so far).
        label: names the search in its events, e.g. the feature set.
        refit_on: `(X, y)` to refit the chosen setting on instead of `X, y` (all training rows
            when the search ran on a sample of them).
        train_scores: also score each final fold's model on its own training part
            (`SearchResult.fold_train_accuracies`).

    Returns:
        The `SearchResult`.
    """
    budget = get_budget(budget) if isinstance(budget, str) else budget
    started = time.perf_counter()
    names = list(X.columns)
    y = pd.Series(np.asarray(y, dtype=object), index=X.index)
    fit_rows = len(X)
    n_fit = len(refit_on[0]) if refit_on is not None else len(X)
    capped = bool(spec.max_rows and budget.name != "full" and n_fit > spec.max_rows)
    # Out-of-fold probabilities are comparable with the other models' (the ensemble averages
    # them) only when the folds are the given rows' own: a capped model searched on rows that
    # were already few enough (a budget's search sample) still has them; only its final fit
    # stops at the cap instead of the refit on every training row.
    subsampled = capped and len(X) > spec.max_rows
    if subsampled:
        keep = _stratified_subset(y, spec.max_rows, np.random.RandomState(seed))
        X, y, folds = X.iloc[keep], y.iloc[keep], None
        fit_rows = len(X)
        log.info("%s: fitted on a stratified %d of the training rows", spec.name, fit_rows)
    folds = folds if folds is not None else make_folds(y, budget.cv, seed)
    if spec.heavy and budget.name != "full":
        folds = folds[:1]  # one held-out fold: a heavy model is scored once, not k times
    base = spec.build(names, seed, quick=budget.quick)
    settings = candidates(spec, budget, seed)
    n_rounds = math.ceil(math.log(len(settings), budget.factor)) if len(settings) > 1 else 0
    total = _planned_fits(len(settings), n_rounds, budget) + len(folds) + 1
    tick = _Ticker(hook, " · ".join(x for x in (label, spec.name) if x), total)
    rounds: list[dict[str, Any]] = []
    alive = list(range(len(settings)))
    rng = np.random.RandomState(seed)
    n_fits = 0
    for r in range(n_rounds):
        n_rows = max(len(X) // budget.factor ** (n_rounds - r), 20 * budget.cv)
        subset = _stratified_subset(y, n_rows, rng)
        sub_folds = make_folds(y.iloc[subset], budget.cv, seed)
        scores = []
        for i in alive:
            est = clone(base).set_params(**settings[i])
            n_fits += len(sub_folds)
            try:
                accs = _run_folds(est, X.iloc[subset], y.iloc[subset], sub_folds, spec, tick, False)
            except ValueError as exc:  # e.g. more neighbours than rows in a small subset
                log.info(
                    "%s: setting %s fails on %d rows (%s)", spec.name, settings[i], len(subset), exc
                )
                scores.append(-np.inf)
                continue
            scores.append(float(np.mean([a[0] for a in accs])))
            tick.best = max(scores)
        keep = max(1, math.ceil(len(alive) / budget.factor))
        order = np.argsort(scores)[::-1][:keep]
        rounds.append({"rows": int(len(subset)), "candidates": len(alive), "best": max(scores)})
        alive = [alive[j] for j in sorted(order, key=lambda j: -scores[j])]
    best = settings[alive[0]]
    final = clone(base).set_params(**best)
    fold_results = _run_folds(final, X, y, folds, spec, tick, train_scores)
    n_fits += len(folds)
    classes, oof, covered, preds = _collect_oof(fold_results, folds, y)
    accuracy = float(np.mean(preds[covered] == y.to_numpy()[covered]))
    tick.best = accuracy
    if refit_on is not None and not capped:
        final.fit(*refit_on)
        fit_rows = len(refit_on[0])
    else:
        final.fit(X, y)
    n_fits += 1
    tick()
    seconds = time.perf_counter() - started
    log.info(
        "%s %s: cv accuracy %.4f (%d fold(s)), %d fits, %.1f s, params %s",
        label,
        spec.name,
        accuracy,
        len(folds),
        n_fits,
        seconds,
        best,
    )
    return SearchResult(
        name=spec.name,
        estimator=final,
        params=best,
        cv_accuracy=accuracy,
        cv_folds=len(folds),
        oof_proba=None if subsampled else oof,
        classes=classes,
        n_candidates=len(settings),
        n_fits=n_fits,
        seconds=seconds,
        rounds=rounds,
        fold_accuracies=[r[0] for r in fold_results],
        fold_train_accuracies=[r[3] for r in fold_results] if train_scores else None,
        folds=folds,
        fit_rows=fit_rows,
    )


def _planned_fits(n_settings: int, n_rounds: int, budget: Budget) -> int:
    total, alive = 0, n_settings
    for _ in range(n_rounds):
        total += alive * budget.cv
        alive = max(1, math.ceil(alive / budget.factor))
    return total


def _stratified_subset(y: pd.Series, n_rows: int, rng: np.random.RandomState) -> np.ndarray:
    """`n_rows` positions drawn per class in proportion (sorted)."""
    if n_rows >= len(y):
        return np.arange(len(y))
    values = y.to_numpy()
    picked = []
    for cls in pd.unique(values):
        pos = np.flatnonzero(values == cls)
        take = max(1, round(n_rows * len(pos) / len(values)))
        picked.append(rng.choice(pos, size=min(take, len(pos)), replace=False))
    return np.sort(np.concatenate(picked))


def _fit_fold(
    estimator: Any,
    X: pd.DataFrame,
    y: pd.Series,
    train: np.ndarray,
    test: np.ndarray,
    train_score: bool,
):
    """(accuracy, (proba, pred), classes, accuracy on the training part or None)."""
    est = clone(estimator)
    X_train, y_train = X.iloc[train], y.iloc[train]
    est.fit(X_train, y_train)
    X_test = X.iloc[test]
    proba = est.predict_proba(X_test) if hasattr(est, "predict_proba") else None
    pred = est.predict(X_test) if proba is None else np.asarray(est.classes_)[proba.argmax(1)]
    accuracy = float(np.mean(np.asarray(pred) == y.iloc[test].to_numpy()))
    classes = [str(c) for c in est.classes_]
    seen = float(np.mean(est.predict(X_train) == y_train.to_numpy())) if train_score else None
    return accuracy, (proba, pred), classes, seen


class _Ticker:
    """Counts a search's fits and reports each one to the hook."""

    def __init__(self, hook: Hook | None, label: str, total: int) -> None:
        self.hook, self.label, self.total, self.done = hook, label, total, 0
        self.best: float | None = None

    def __call__(self) -> None:
        self.done += 1
        emit(self.hook, Event("search", "", self.label, self.done, self.total, self.best))


def _run_folds(
    estimator: Any,
    X: pd.DataFrame,
    y: pd.Series,
    folds: list[tuple],
    spec: ModelSpec,
    tick: Callable[[], None],
    train_scores: bool,
) -> list[tuple]:
    """Fit and score one setting on each fold; in parallel unless the model is heavy."""
    n_jobs = 1 if spec.heavy or len(folds) == 1 else n_jobs_for(len(X))
    jobs = (delayed(_fit_fold)(estimator, X, y, tr, te, train_scores) for tr, te in folds)
    results = []
    for result in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
        results.append(result)
        tick()
    return results


def _collect_oof(
    fold_results: list[tuple], folds: list[tuple], y: pd.Series
) -> tuple[list[str], np.ndarray | None, np.ndarray, np.ndarray]:
    """Class order, out-of-fold probabilities (None unless every row has them), covered rows,
    and out-of-fold predictions."""
    classes = fold_results[0][2]
    n = len(y)
    oof = np.full((n, len(classes)), np.nan)
    preds = np.empty(n, dtype=object)
    covered = np.zeros(n, dtype=bool)
    has_proba = True
    for (_, (proba, pred), fold_classes, _), (_, test) in zip(fold_results, folds, strict=True):
        preds[test] = pred
        covered[test] = True
        if proba is None or fold_classes != classes:
            has_proba = False
        else:
            oof[test] = proba
    return classes, (oof if has_proba and covered.all() else None), covered, preds

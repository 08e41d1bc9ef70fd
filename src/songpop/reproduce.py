"""Reproduce the report's models on its own splits, and beat them honestly on the same splits.

The original project (see `../shared/seed/NOTES.md`) kept one row per title (highest Spotify
popularity) of the 13,659 Spotify rows its merge produced: 9,516 songs, labelled by
`qcut(popularity, 3)`. Its KNN, SVC and random forest used
`train_test_split(test_size=0.25, random_state=50)` (7,137 / 2,379 rows, test classes
844 / 747 / 788), its MLPs `test_size=0.2, random_state=42`.

`train_test_split` without stratification picks rows by position, so the split depends on the
row order. Ordering the songs by the seed-normalised title (what `groupby("Song")` gives) yields
test classes 809 / 758 / 812; ordering them by popularity as well (ascending, ties kept in
title order) yields exactly 844 / 747 / 788, so that is the order used here (`seed_table`).

`reproduce` writes `reproduce.json`, `reproduce.csv` and `reproduce.md`: for every original
model, the report's number | the original code's number | songpop's run of the original model
(plain SMOTE as the code did, and SMOTENC as it should be) | songpop's best audio-only model on
the same split with its 95% interval | the same with context (release year). songpop's models are
tuned and chosen by cross-validation on the training rows of each split only
(`songpop.train.train_task` with the split passed in).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from songpop import config
from songpop import evaluation as ev
from songpop.errors import DataNotFoundError, SchemaError
from songpop.features import feature_matrix, ordered_split
from songpop.io import atomic_write, write_csv_atomic, write_json_atomic
from songpop.models.registry import MODELS, left_out, require_installed
from songpop.prepare.label import quantile_levels
from songpop.progress import Hook
from songpop.sources.tracks import read_tracks
from songpop.workers import Job, side_by_side

log = logging.getLogger(__name__)

SEED_TRACKS = "tracks/spotify_1921-2020_seed_matched.csv.gz"
SPLIT_TREES = {"test_size": 0.25, "random_state": 50}
SPLIT_MLP = {"test_size": 0.2, "random_state": 42}
EXPECTED_ROWS = 9516
EXPECTED_TREES_SPLIT = {"n_train": 7137, "n_test": 2379, "test_classes": [844, 747, 788]}

# What the report printed and what its code gives (NOTES.md), per original model.
ORIGINAL_NUMBERS: dict[str, dict[str, Any]] = {
    "knn": {"report": 0.43, "code": 0.4325, "split": "trees"},
    "svc": {"report": 0.5086, "code": 0.5040, "split": "trees"},
    "rf": {"report": 0.5216, "code": 0.5116, "split": "trees"},
    "mlp_baseline": {"report": None, "code": 0.498, "split": "mlp"},
    "mlp": {"report": 0.5352, "code": 0.5352, "split": "mlp"},
}
# songpop's runs of each original: (the code's way, the honest way) registry names.
ORIGINAL_MODELS: dict[str, tuple[str, str | None]] = {
    "knn": ("knn_original_smote", "knn_original"),
    "svc": ("svc_original_smote", "svc_original"),
    "rf": ("rf_original", None),
    "mlp_baseline": ("mlp_baseline_original", None),
    "mlp": ("mlp_original", None),
}
TABLE_COLUMNS: tuple[str, ...] = (
    "model",
    "split",
    "report",
    "original code",
    "songpop run of the original",
    "same with SMOTENC",
    "songpop best audio-only [95% CI]",
    "songpop best audio + context [95% CI]",
    "year only [95% CI]",
    "dummy [95% CI]",
)


def seed_table(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The original project's 9,516 songs, in the order its split saw them.

    Reads the 13,659 Spotify rows of the original merge (already normalised), keeps per title
    the row with the highest popularity (the first such row on ties, as `idxmax`), labels
    `quantile_levels(popularity)` (= `qcut(popularity, 3)`: low / medium / high), and orders the
    rows by title and then, stably, by popularity.

    Args:
        data_dir: the data folder (see `config.data_dir`).

    Returns:
        The songs with the audio features, `year`, `title`, `artist`, `popularity`, `score`
        (= popularity) and `level`, index 0..n-1 in split order.

    Raises:
        DataNotFoundError: the seed tracks file is not in the data folder.
    """
    path = config.data_dir(data_dir) / SEED_TRACKS
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found; the reproduction needs {SEED_TRACKS}")
    tracks = read_tracks(path).reset_index(drop=True)
    title = tracks["title"].astype(str)
    best = tracks.groupby(title, sort=True)["popularity"].idxmax()
    songs = tracks.loc[best.to_numpy()].reset_index(drop=True)
    songs["score"] = songs["popularity"]
    songs["level"] = quantile_levels(songs["popularity"]).astype(str)
    songs = songs.sort_values("popularity", kind="stable").reset_index(drop=True)
    return songs


def split_report(y: pd.Series, train: np.ndarray, test: np.ndarray) -> dict[str, Any]:
    """Rows and test class counts (low, medium, high) of a split."""
    counts = y.iloc[test].value_counts()
    return {
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "test_classes": [int(counts.get(level, 0)) for level in config.LEVELS],
    }


def run_original(
    name: str,
    X: pd.DataFrame,
    y: pd.Series,
    train: np.ndarray,
    test: np.ndarray,
    *,
    seed: int = config.SEED,
    quick: bool = False,
) -> dict[str, Any]:
    """Fit one of the report's models on the training rows and score its predictions.

    The originals are judged as the report judged them, by their predicted labels; the
    interval is a 95% bootstrap over the test rows.
    """
    t0 = time.perf_counter()
    estimator = MODELS[name].build(list(X.columns), seed, quick=quick)
    estimator.fit(X.iloc[train], y.iloc[train])
    pred = np.asarray(estimator.predict(X.iloc[test]), dtype=object)
    truth = y.iloc[test].to_numpy(dtype=object)
    acc, low, high = ev.bootstrap_ci(truth, pred, "accuracy", seed=seed)
    f1, f1_low, f1_high = ev.bootstrap_ci(truth, pred, "macro_f1", seed=seed)
    out: dict[str, Any] = {
        "model": name,
        "accuracy": acc,
        "accuracy_ci": [low, high],
        "macro_f1": f1,
        "macro_f1_ci": [f1_low, f1_high],
        "train_accuracy": float(
            np.mean(np.asarray(estimator.predict(X.iloc[train])) == y.iloc[train].to_numpy())
        ),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if hasattr(estimator, "best_params_"):
        out["best_params"] = {
            k.removeprefix("model__"): v for k, v in estimator.best_params_.items()
        }
        out["cv_accuracy"] = float(estimator.best_score_)
    return out


def reproduce(
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    budget: str = "default",
    seed: int = config.SEED,
    hook: Hook | None = None,
    originals: tuple[str, ...] = tuple(ORIGINAL_MODELS),
    models: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Run the reproduction and write `reproduce.json`, `reproduce.csv` and `reproduce.md`.

    Args:
        out_dir: output folder (songpop's bundles for each split go to `out_dir/models`).
        data_dir: the data folder.
        budget: songpop's budget: "default" (about 2 minutes on 2 cores, most of it the
            report's forest grid), "full" (far longer: more folds and candidates) or "quick"
            (tests).
        seed: songpop's seed (the originals' own seeds are kept: 50, 42 for the splits).
        hook: given an `Event` per fit of every search (`songpop.progress`).
        originals: which original models to run (keys of `ORIGINAL_NUMBERS`).
        models: songpop's registry models to train (default: the default registry).

    Returns:
        The summary written to `reproduce.json`.

    Raises:
        SchemaError: an unknown original model.
        MissingExtraError: PyTorch is missing for the report's MLPs (`songpop[mlp]`).
    """

    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    unknown = [o for o in originals if o not in ORIGINAL_MODELS]
    if unknown:
        raise SchemaError(f"unknown original model(s) {unknown}; known: {list(ORIGINAL_MODELS)}")
    # the report's MLPs (and songpop's, when asked for) need PyTorch: say so before any fit
    require_installed([n for o in originals for n in ORIGINAL_MODELS[o] if n] + list(models or ()))
    songs = seed_table(data_dir)
    y = songs["level"].astype(object)
    X = feature_matrix(songs, config.AUDIO_FEATURES)
    quick = budget == "quick"
    summary: dict[str, Any] = {
        "n_songs": int(len(songs)),
        "expected_songs": EXPECTED_ROWS,
        "row_order": "title (groupby order), then popularity ascending (stable)",
        "budget": budget,
        "splits": {},
        "originals": {},
        "songpop": {},
        "timings": {},
        "left_out": songpop_left_out(models),
    }
    splits = {"trees": SPLIT_TREES, "mlp": SPLIT_MLP}
    # Every model of every split is one job: the report's forest grid first, on both cores (it
    # is the longest and fits its folds in parallel itself), then the others two at a time in
    # worker processes (where each fits on one core), songpop's two splits (the longest) first.
    grid: list[Job] = []
    rest: list[Job] = []
    where: dict[str, tuple[str, str, str]] = {}  # job → (timing, model or split, variant)
    for split_name, params in splits.items():
        needed = [o for o in originals if ORIGINAL_NUMBERS[o]["split"] == split_name]
        if not needed:
            continue
        train, test = ordered_split(len(songs), **params)
        info = {**params, **split_report(y, train, test)}
        if split_name == "trees":
            info["expected"] = EXPECTED_TREES_SPLIT
            info["matches_original"] = all(info[k] == v for k, v in EXPECTED_TREES_SPLIT.items())
        summary["splits"][split_name] = info
        log.info("split %s: %s", split_name, info)
        job = f"{split_name}/songpop"
        where[job] = (job, split_name, "")
        rest.insert(
            0,
            (
                job,
                _songpop_on_split,
                (songs, out_dir / "models", split_name, train, test, budget, models, seed),
            ),
        )
        for key in needed:
            literal, honest = ORIGINAL_MODELS[key]
            for variant, name in (("literal", literal), ("smotenc", honest)):
                if name is None:
                    continue
                job = f"{split_name}/originals {key} {variant}"
                where[job] = (f"{split_name}/originals", key, variant)
                original = (job, _original, (name, X, y, train, test, seed, quick))
                (grid if name == "rf_original" else rest).append(original)
    results = list(side_by_side(grid, hook, workers=1)) + list(side_by_side(rest, hook))
    for job, seconds, value in results:
        timing, key, variant = where[job]
        summary["timings"][timing] = round(summary["timings"].get(timing, 0.0) + seconds, 2)
        if timing.endswith("/songpop"):
            summary["songpop"][key] = _best_of(value)
        else:
            summary["originals"].setdefault(key, {})[variant] = value
    summary["originals"] = {
        k: summary["originals"][k] for k in ORIGINAL_MODELS if k in summary["originals"]
    }
    summary["table"] = comparison_rows(summary)
    summary["aims"] = _aims(summary)
    summary["timings"]["total"] = round(time.perf_counter() - t_start, 2)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(summary, out_dir / "reproduce.json")
    table = pd.DataFrame(summary["table"], columns=list(TABLE_COLUMNS))
    write_csv_atomic(table, out_dir / "reproduce.csv")
    with atomic_write(out_dir / "reproduce.md", "w", encoding="utf-8") as handle:
        handle.write(to_markdown(summary))
    return summary


def songpop_left_out(models: tuple[str, ...] | None) -> dict[str, str]:
    """songpop's default models (`models` None) whose optional group is not installed: name →
    why, in words with the command that installs it; they are left out of songpop's side of the
    table (the summary and reproduce.md say so). Models named in `models` are refused instead."""
    if models is not None:
        return {}
    return {
        name: config.missing_extra_message(f"model {name!r}", extra)
        for name, extra in left_out().items()
    }


def _original(
    name: str,
    X: pd.DataFrame,
    y: pd.Series,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    quick: bool,
    hook: Hook | None,  # noqa: ARG001  (a job's signature; the originals report no progress)
) -> dict[str, Any]:
    """`run_original` as a job (the originals report no progress)."""
    return run_original(name, X, y, train, test, seed=seed, quick=quick)


def _songpop_on_split(
    songs: pd.DataFrame,
    models_dir: Path,
    split_name: str,
    train: np.ndarray,
    test: np.ndarray,
    budget: str,
    models: tuple[str, ...] | None,
    seed: int,
    hook: Hook | None,
) -> dict[str, Any]:
    """songpop's registry on the report's split, chosen by CV on its training rows; nothing is
    saved (the table is the product: bundles and figures would double the time)."""
    from songpop.train import train_task  # late: loads filelock (start-up)

    return train_task(
        songs,
        models_dir,
        task=f"reproduce_{split_name}",
        label_strategy="spotify",
        budget=budget,
        models=models,
        seed=seed,
        split=(train, test),
        feature_sets=("year", "audio", "audio+context"),
        hook=hook,
        set_default=False,
        extras=False,
        save=False,
        forward=False,
        section_order=35,
    )


def _best_of(trained: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"test_class_counts": trained["test_class_counts"]}
    for fs, fs_summary in trained["feature_sets"].items():
        best = fs_summary["best"]
        entry = fs_summary["models"][best]
        out[fs] = {
            "model": best,
            "features": fs_summary["features"],
            "cv_accuracy": entry["cv_accuracy"],
            "accuracy": entry["accuracy"],
            "accuracy_ci": entry["accuracy_ci"],
            "params": entry["params"],
            "dummy_accuracy": entry["dummy_accuracy"],
            "dummy_ci": [fs_summary["dummy"]["ci_low"], fs_summary["dummy"]["ci_high"]],
            "all_models": {
                m: {
                    "cv_accuracy": e["cv_accuracy"],
                    "accuracy": e["accuracy"],
                    "accuracy_ci": e["accuracy_ci"],
                }
                for m, e in fs_summary["models"].items()
            },
        }
    return out


def _interval(entry: Mapping[str, Any] | None, key: str = "accuracy") -> str:
    if not entry:
        return ""
    low, high = entry[f"{key}_ci"]
    label = f" ({entry['model']})" if "model" in entry and "features" in entry else ""
    return f"{entry[key]:.4f} [{low:.3f}, {high:.3f}]{label}"


def comparison_rows(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The reproduce table, one row per original model."""
    rows = []
    for key, entry in summary["originals"].items():
        numbers = ORIGINAL_NUMBERS[key]
        best = summary["songpop"].get(numbers["split"], {})
        audio, context = best.get("audio"), best.get("audio+context")
        year = best.get("year")
        dummy = ""
        if audio:
            dummy = (
                f"{audio['dummy_accuracy']:.4f} [{audio['dummy_ci'][0]:.3f}, "
                f"{audio['dummy_ci'][1]:.3f}]"
            )
        rows.append(
            {
                "model": key,
                "split": "test_size={test_size}, random_state={random_state}".format(
                    **summary["splits"][numbers["split"]]
                ),
                "report": "" if numbers["report"] is None else f"{numbers['report']:.4f}",
                "original code": f"{numbers['code']:.4f}",
                "songpop run of the original": _interval(entry["literal"]),
                "same with SMOTENC": _interval(entry.get("smotenc")),
                "songpop best audio-only [95% CI]": _interval(audio),
                "songpop best audio + context [95% CI]": _interval(context),
                "year only [95% CI]": _interval(year),
                "dummy [95% CI]": dummy,
            }
        )
    return rows


def _aims(summary: Mapping[str, Any]) -> dict[str, Any]:
    trees = summary["songpop"].get("trees", {})
    out: dict[str, Any] = {}
    for fs, aim in (("audio", 0.54), ("audio+context", 0.58)):
        entry = trees.get(fs)
        if entry:
            out[fs] = {"aim": aim, "reached": entry["accuracy"], "met": entry["accuracy"] >= aim}
    originals = [
        e["literal"]["accuracy"]
        for k, e in summary["originals"].items()
        if ORIGINAL_NUMBERS[k]["split"] == "trees"
    ]
    if originals and trees.get("audio"):
        low = trees["audio"]["accuracy_ci"][0]
        # "beats" only when the best original lies below songpop's whole 95% interval
        out["audio_point_estimate_above_every_original"] = trees["audio"]["accuracy"] > max(
            originals
        )
        out["audio_interval_above_every_original"] = low > max(originals)
    return out


def to_markdown(summary: Mapping[str, Any]) -> str:
    """The reproduce table and the split checks as Markdown."""
    lines = ["# songpop reproduce", ""]
    lines.append(
        f"{summary['n_songs']:,} songs (the original had {summary['expected_songs']:,}); row "
        f"order: {summary['row_order']}."
    )
    for name, info in summary["splits"].items():
        lines.append(
            f"- split `{name}` (test_size={info['test_size']}, random_state="
            f"{info['random_state']}): {info['n_train']:,} / {info['n_test']:,} rows, test "
            f"classes low/medium/high {info['test_classes']}"
            + (
                f" (original: {info['expected']['test_classes']}; match: "
                f"{info['matches_original']})"
                if "expected" in info
                else ""
            )
        )
    lines += ["", "| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for row in summary["table"]:
        lines.append("| " + " | ".join(str(row[c]) for c in TABLE_COLUMNS) + " |")
    rf = summary["originals"].get("rf", {}).get("literal", {})
    if rf.get("best_params"):
        lines += [
            "",
            f"Random forest grid, best on 3 folds of the training rows: "
            f"{rf['best_params']} (the report: n_estimators 250, max_depth 50, "
            "min_samples_leaf 7, max_features sqrt).",
        ]
    for why in summary.get("left_out", {}).values():
        lines += ["", f"Left out of songpop's models: {why}"]
    aims = summary.get("aims", {})
    for fs in ("audio", "audio+context"):
        if fs in aims:
            a = aims[fs]
            lines.append(
                f"- aim {fs} ≥ {a['aim']:.2f}: reached {a['reached']:.4f} "
                f"({'met' if a['met'] else 'not met'})"
            )
    lines.append("")
    return "\n".join(lines)

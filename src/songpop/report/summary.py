"""The report's first screen: what each task's accuracy is made of.

Per task, one row per feature set on the task's own held-out songs (the year alone, audio only,
audio + year and context, + the artist's history, what songpop measures in a file), then the
same feature sets forward in time at the task's latest rolling origin ("for a song released
now"). Every row is set beside the year-only row of its protocol: popularity drifts with the
release era, so a model that knows only *when* a song came out is the yardstick, and a row that
does not beat it says so in plain words, as rows below the dummy or the majority rate do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songpop.config import FEATURE_SET_LABELS, TASK_TITLES
from songpop.plotting import REPORT_COLUMN_PX, REPORT_DPI, save_figure

TASK_ORDER: tuple[str, ...] = ("chart_chance", "hit", "seed", "seed_era", "chart", "chart_era")
"""Tasks in the order the summary shows them: the question a new song asks first."""
FEATURE_SET_ORDER: tuple[str, ...] = ("year", "audio", "audio+context", "history", "measured")
SPLIT_WORDS: dict[str, str] = {
    "stratified": "random split",
    "artist-disjoint": "artist-disjoint split",
    "given": "the original's split",
}
COLUMNS: tuple[str, ...] = (
    "task",
    "features",
    "protocol",
    "songs (train / test)",
    "model",
    "test accuracy",
    "95% CI",
    "macro-F1",
    "dummy accuracy",
    "majority-class rate",
    "lift (points)",
    "ROC-AUC",
    "PR-AUC",
    "base rate",
    "note",
)


def _task_key(task: str) -> tuple[int, str]:
    return (TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER), task)


def _r3(x: Any) -> float | None:
    return None if x is None else round(float(x), 3)


def summary_rows(summaries: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The summary table's rows, grouped by task (`TASK_ORDER`).

    Args:
        summaries: `songpop run`'s summaries; those named `train_<task>` are read (each task's
            `train.json`: per feature set the best model's test figures, and `forward`).

    Returns:
        One dict per row with the `COLUMNS` keys.
    """
    # late: loads sklearn, matplotlib, scipy (start-up)
    from songpop.evaluation.forward import headline

    tasks = {s["task"]: s for k, s in summaries.items() if k.startswith("train_")}
    rows: list[dict[str, Any]] = []
    for task in sorted(tasks, key=_task_key):
        summary = tasks[task]
        binary = len(summary.get("classes") or []) == 2
        kind = (summary.get("split") or {}).get("kind", "stratified")
        protocol = SPLIT_WORDS.get(kind, kind)
        sets = summary["feature_sets"]
        year = _holdout(task, "year", sets["year"], summary, protocol) if "year" in sets else None
        for fs in _ordered(sets):
            row = year if fs == "year" else _holdout(task, fs, sets[fs], summary, protocol)
            assert row is not None
            row["note"] = _note(row, year, binary)
            rows.append(row)
        forward = summary.get("forward") or {}
        latest = headline(forward)
        for fs in FEATURE_SET_ORDER:
            r = next((x for x in latest if x["feature_set"] == fs), None)
            if r is None:
                continue
            row = _forward_row(task, r, forward)
            rows.append(row)
    return rows


def _ordered(sets: Mapping[str, Any]) -> list[str]:
    known = [fs for fs in FEATURE_SET_ORDER if fs in sets]
    return known + [fs for fs in sets if fs not in known]


def _holdout(
    task: str, fs: str, fs_summary: Mapping[str, Any], summary: Mapping[str, Any], protocol: str
) -> dict[str, Any]:
    best = fs_summary["best"]
    entry = fs_summary["models"][best]
    return _row(
        task,
        fs,
        protocol,
        f"{summary['n_train']:,} / {summary['n_test']:,}",
        best,
        entry["accuracy"],
        entry["accuracy_ci"],
        entry.get("macro_f1"),
        entry["dummy_accuracy"],
        entry.get("majority_rate"),
        entry.get("roc_auc"),
        entry.get("pr_auc"),
        entry.get("base_rate"),
    )


def _forward_row(
    task: str,
    r: Mapping[str, Any],
    forward: Mapping[str, Any],
) -> dict[str, Any]:
    if forward.get("time_column") == "decade":
        protocol = (
            f"forward: trained on the decades before the {r['origin']}s, tested on the "
            f"{r['origin']}s"
        )
    else:
        protocol = (
            f"forward: trained on songs released before {r['origin']}, tested on "
            f"{r['origin']}–{r['last']}"
        )
    if forward.get("relabel"):
        protocol += "; levels cut at the training years' thirds"
    row = _row(
        task,
        r["feature_set"],
        protocol,
        f"{r['n_train']:,} / {r['n_test']:,}",
        forward.get("model") or "lgbm_fast",
        r["accuracy"],
        r["accuracy_ci"],
        r.get("macro_f1"),
        r["dummy_accuracy"],
        r.get("majority_rate"),
        r.get("roc_auc"),
        r.get("pr_auc"),
        r.get("base_rate"),
    )
    row["note"] = r.get("note", "")
    return row


def _row(
    task: str,
    fs: str,
    protocol: str,
    songs: str,
    model: str,
    accuracy: float,
    ci: Sequence[float],
    macro_f1: float | None,
    dummy: float,
    majority: float | None,
    roc_auc: float | None,
    pr_auc: float | None,
    base_rate: float | None,
) -> dict[str, Any]:
    return {
        "task": task,
        "features": FEATURE_SET_LABELS.get(fs, fs),
        "protocol": protocol,
        "songs (train / test)": songs,
        "model": model,
        "test accuracy": _r3(accuracy),
        "95% CI": f"{ci[0]:.3f}–{ci[1]:.3f}",
        "macro-F1": _r3(macro_f1),
        "dummy accuracy": _r3(dummy),
        "majority-class rate": _r3(majority),
        "lift (points)": round(100 * (accuracy - dummy), 1),
        "ROC-AUC": _r3(roc_auc),
        "PR-AUC": _r3(pr_auc),
        "base rate": _r3(base_rate),
        "note": "",
    }


def _note(row: Mapping[str, Any], year: Mapping[str, Any] | None, binary: bool) -> str:
    """Below the majority rate or the dummy (accuracy); else not above the year-only row (ROC-AUC
    for two classes, accuracy otherwise); "" when it beats all three."""
    # late: loads sklearn, matplotlib, scipy (start-up)
    from songpop.evaluation.results import below_baseline

    if not binary:
        words = below_baseline(row["test accuracy"], row["dummy accuracy"],
                               row["majority-class rate"])  # fmt: skip
        if words:
            return words
    if year is None or row is year:
        return ""
    if binary and row["ROC-AUC"] is not None and year["ROC-AUC"] is not None:
        if row["ROC-AUC"] <= year["ROC-AUC"]:
            return f"does not beat the year-only model (ROC-AUC {year['ROC-AUC']:.3f})"
        return ""
    if row["test accuracy"] <= year["test accuracy"]:
        return f"does not beat the year-only model ({year['test accuracy']:.1%})"
    return ""


def predictability_chart(rows: list[dict[str, Any]], out: Path) -> dict[str, Path]:
    """The report's first screen, grouped by task: the level tasks' accuracy (bar, with its
    interval; the dummy and the majority-class rate marked) below the charted-or-not tasks'
    ROC-AUC (0.5 = ranking at random); each task's rows under its name, the year-only rows in
    grey, a row with a note in red. As wide as the report's column, so its text reads at 9 pt
    or more at 1280 px."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sorted(rows, key=lambda r: _task_key(r["task"]))  # stable: each task's own order
    levels = [r for r in rows if r["ROC-AUC"] is None or r["PR-AUC"] is None]
    binary = [r for r in rows if r not in levels]
    # the charted-or-not tasks first, as `TASK_ORDER` (and the table) put them
    panels = [(p, rs) for p, rs in (("roc_auc", binary), ("accuracy", levels)) if rs]
    heights = [0.27 * (len(rs) + 1.4 * len({r["task"] for r in rs})) + 1.0 for _, rs in panels]
    fig = Figure(figsize=(REPORT_COLUMN_PX / REPORT_DPI, sum(heights) + 0.5),
                 layout="constrained")  # fmt: skip
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (kind, rs) in zip(axes, panels, strict=True):
        _panel(ax, kind, rs)
    fig.legend(loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    return save_figure(fig, out)


SHORT_FEATURES: dict[str, str] = {
    FEATURE_SET_LABELS["year"]: "year only",
    FEATURE_SET_LABELS["audio"]: "audio",
    FEATURE_SET_LABELS["audio+context"]: "audio + year",
    FEATURE_SET_LABELS["history"]: "+ artist history",
    FEATURE_SET_LABELS["measured"]: "measured in a file",
}


def _label(r: Mapping[str, Any]) -> str:
    when = "forward" if _forward(r) else "held-out"
    return f"{SHORT_FEATURES.get(r['features'], r['features'])} · {when}"


def _positions(rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Each row's y (top to bottom, a task's rows together) and each task's header (y, name):
    a gap and the task's name above its rows."""
    y, headers, at = [], [], 0.0
    for i, r in enumerate(rows):
        if i == 0 or r["task"] != rows[i - 1]["task"]:
            at += 0.4 if i else 0.0
            headers.append((at, str(r["task"])))
            at += 1.0
        y.append(at)
        at += 1.0
    return -np.array(y), [(-h, name) for h, name in headers]


def _panel(ax: Any, kind: str, rows: list[dict[str, Any]]) -> None:
    y, headers = _positions(rows)
    colours = [
        "#9aa0a6" if r["features"].startswith("year only") else ("#c0392b" if r["note"] else
                                                               "#3b6ea5")
        for r in rows
    ]  # fmt: skip
    labels = [_label(r) for r in rows]
    if kind == "accuracy":
        value = np.array([r["test accuracy"] for r in rows], dtype=float)
        low, high = np.array([[float(x) for x in r["95% CI"].split("–")] for r in rows]).T
        ax.barh(y, value, color=colours, height=0.6)
        ax.errorbar(value, y, xerr=[value - low, high - value], fmt="none", ecolor="#222",
                    capsize=2)  # fmt: skip
        dummy = [r["dummy accuracy"] for r in rows]
        ax.scatter(dummy, y, marker="|", s=250, color="#555", label="dummy baseline", zorder=3)
        majority = [np.nan if r["majority-class rate"] is None else r["majority-class rate"]
                    for r in rows]  # fmt: skip
        ax.scatter(majority, y, marker="D", s=18, color="#111", label="majority-class rate",
                   zorder=4)  # fmt: skip
        ax.set_xlim(0, 1.08)
        ax.set_xlabel("accuracy (share of test songs in the right level)", fontsize=10)
        ax.set_title("Levels (seed, chart; _era: within release eras)", fontsize=11)
    else:
        value = np.array([r["ROC-AUC"] for r in rows], dtype=float)
        ax.barh(y, value - 0.5, left=0.5, color=colours, height=0.6)
        ax.axvline(0.5, color="#555", lw=1)
        ax.set_xlim(0.4, 1.04)
        ax.set_xlabel("ROC-AUC (0.5 = ranking at random)", fontsize=10)
        ax.set_title("Charted or not (chart_chance, hit)", fontsize=11)
    ends = high if kind == "accuracy" else value  # the number right of the interval
    for yi, v, end in zip(y, value, ends, strict=True):
        ax.text(end + 0.012, yi, f"{v:.2f}", fontsize=9, va="center")
    ticks = np.concatenate([y, [h for h, _ in headers]])
    names = labels + [name for _, name in headers]
    ax.set_yticks(ticks, names, fontsize=9)
    for tick in ax.get_yticklabels()[len(labels) :]:
        tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(min(y) - 0.7, max(h for h, _ in headers) + 0.7)


def _forward(row: Mapping[str, Any]) -> bool:
    return str(row.get("protocol") or "").startswith("forward")


def plain_words(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per task from its summary rows: what the year alone, the audio and both
    give on held-out songs, and what is left forward in time. Every figure comes from `rows`."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        held = {r["features"]: r for r in mine if not _forward(r)}
        ahead = {r["features"]: r for r in mine if _forward(r)}
        binary = any(r.get("PR-AUC") is not None for r in mine)

        def fig(r: Mapping[str, Any] | None, binary: bool = binary) -> str:
            if r is None:
                return "–"
            return f"{r['ROC-AUC']:.2f}" if binary else f"{r['test accuracy']:.0%}"

        names = [FEATURE_SET_LABELS[fs] for fs in ("year", "audio", "audio+context", "history")]
        year, audio, both, history = (held.get(n) for n in names)
        what = "ROC-AUC" if binary else "accuracy"
        text = f"{TASK_TITLES.get(task, task)}: on held-out songs ({what}) the year alone gives "
        text += f"{fig(year)}, audio only {fig(audio)}, audio + year {fig(both)}"
        if history is not None:
            text += f", with the artist's earlier chart record {fig(history)}"
        if not binary and year is not None and audio is not None:
            text += f" (the majority class alone: {year['majority-class rate']:.0%})"
        text += "."
        f_year, f_audio, f_both, f_history = (ahead.get(n) for n in names)
        if f_audio is not None:
            proto = f_audio["protocol"].removeprefix("forward: ").split(";")[0]
            text += f" Forward in time ({proto}): year {fig(f_year)}, audio {fig(f_audio)}, "
            text += f"audio + year {fig(f_both)}"
            if f_history is not None:
                text += f", + artist history {fig(f_history)}"
            if binary and f_audio.get("base rate") is not None:
                what = "were hits by the dataset's own flag" if task == "hit" else "charted"
                text += f"; {f_audio['base rate']:.1%} of those releases {what}"
            elif not binary:
                text += (
                    f"; the test years' commonest level alone: {f_audio['majority-class rate']:.0%}"
                )
            text += "."
        out.append(text)
    return out

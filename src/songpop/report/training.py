"""A task's report section, drawn from what training computed: the figures (model comparison,
confusion matrices, MLP training curves, reliability, forward in time, learning curves), the
prose and the extra tables. `songpop.train` computes; nothing here fits a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from songpop import evaluation as ev
from songpop.config import FEATURE_SET_LABELS, FEATURE_SET_SLUGS
from songpop.evaluation.forward import forward_table, plot_forward
from songpop.report.sections import write_models_section


@dataclass(frozen=True)
class TrainingCurve:
    """A network's recorded epochs (`history_`) and the epoch early stopping kept."""

    history: Mapping[str, Any]
    best_epoch: int | None


def task_figures(
    task: str,
    fig_dir: Path,
    results: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    curves: Mapping[str, TrainingCurve] | None = None,
) -> list[dict[str, Any]]:
    """The task's figures: model comparison, each feature set's best model's confusion matrix,
    the MLP's training curves (audio features), reliability and forward in time.

    Args:
        task: the task's name (in titles).
        fig_dir: where the PNG and SVG files go.
        results: the evaluation results (`evaluate_classifier`) of every model.
        summary: the task's summary (`feature_sets` with each one's `best`; `forward`).
        curves: per feature set, the training curve of a network among its models.

    Returns:
        Figure entries for the section (`evaluation.figure_entry`).
    """
    figures: list[dict[str, Any]] = []
    table = ev.comparison_table(list(results))
    if not table.empty:
        paths = ev.plot_model_comparison(
            table, fig_dir / "comparison", title=f"{task}: test accuracy with 95% intervals"
        )
        figures.append(
            ev.figure_entry(
                paths,
                "Model comparison",
                "Test accuracy of every model with its 95% bootstrap interval, next to the dummy "
                "baseline; audio-only and audio + context apart.",
            )
        )
    by_key = {(r["feature_set"], r["model"]): r for r in results if r.get("kind") != "regression"}
    reliability = {}
    for fs, fs_summary in summary["feature_sets"].items():
        best = fs_summary["best"]
        result = by_key[(fs, best)]
        m = result["metrics"]
        slug = FEATURE_SET_SLUGS.get(fs, fs)
        paths = ev.plot_confusion_matrix(
            m["confusion_matrix"],
            m["labels"],
            fig_dir / f"confusion_{slug}_{best}",
            title=f"{task}, {fs}: {best}",
        )
        figures.append(
            ev.figure_entry(
                paths,
                f"Confusion matrix — {fs}, {best}",
                f"The best {fs} model by cross-validated accuracy, on the {result['n_test']:,} "
                "test songs.",
            )
        )
        reliability[f"{best} ({fs})"] = m
        curve = (curves or {}).get(fs)
        if curve is not None and fs == "audio":
            from songpop.models.mlp import plot_training_curves  # loads torch: only for a net

            png, svg = fig_dir / f"mlp_curves_{slug}.png", fig_dir / f"mlp_curves_{slug}.svg"
            plot_training_curves(curve.history, png, svg, best_epoch=curve.best_epoch)
            figures.append(
                ev.figure_entry(
                    {"png": png, "svg": svg},
                    "MLP training curves",
                    "Loss and accuracy per epoch on the training part and the validation split "
                    "carved from the training rows (early stopping picks the epoch).",
                )
            )
    if reliability:
        paths = ev.plot_reliability(
            reliability, fig_dir / "reliability", title=f"{task}: reliability of the best models"
        )
        figures.append(
            ev.figure_entry(
                paths,
                "Calibration (reliability diagram)",
                "Predicted confidence of the top class against its observed accuracy on the test "
                "songs; ECE = expected calibration error.",
            )
        )
    forward = summary.get("forward") or {}
    if forward.get("rows"):
        paths = plot_forward(
            forward, fig_dir / "forward", title=f"{task}: forward in time, per rolling origin"
        )
        figures.append(
            ev.figure_entry(
                paths,
                "Forward in time",
                "Each feature set trained on the songs released before a year and tested on "
                "the next five years' releases; the year-only model dashed.",
            )
        )
    return figures


def learning_curve_figures(
    curves: Mapping[str, Any], fig_dir: Path, folds: int
) -> list[dict[str, Any]]:
    """One figure per model's learning curve (`evaluation.learning_curve_data`, audio features)."""
    figures = []
    for name, curve in curves.items():
        paths = ev.plot_learning_curve(
            curve,
            fig_dir / f"learning_curve_{name}",
            title=f"Learning curve — {name} (audio features)",
        )
        figures.append(
            ev.figure_entry(
                paths,
                f"Learning curve — {name}",
                f"Training versus cross-validated accuracy ({folds} folds of the training songs) "
                "as the training set grows; as the report's Figures 5, 7 and 9.",
            )
        )
    return figures


def write_task_section(
    results: Sequence[Mapping[str, Any]],
    figures: Sequence[Mapping[str, Any]],
    task_dir: Path,
    summary: Mapping[str, Any],
    *,
    order: int,
) -> Path:
    """The task's "Models" section: the comparison tables, the figures, the prose (how the split
    and the selection were made, each feature set's best model, the regression) and the
    forward-in-time and within-group tables."""
    return write_models_section(
        list(results),
        list(figures),
        task_dir,
        order=order,
        title=f"Models — {summary['task']}",
        paragraphs=paragraphs(summary),
        extra_tables=extra_tables(summary),
    )


def extra_tables(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The forward-in-time table (every origin) and, for two classes, the within-year and
    within-genre ROC-AUC of each feature set's best model."""
    tables = []
    forward = summary.get("forward") or {}
    if forward.get("rows"):
        relabel = (
            " Levels of both sides are cut at the training years' thirds, as a model fitted "
            "then would have had to."
            if forward.get("relabel")
            else ""
        )
        tables.append(
            {
                "title": "Forward in time (rolling origins)",
                "name": "forward.csv",
                "frame": forward_table(forward),
                "caption": "Trained on the songs released before each origin, tested on the "
                "next five years' releases, each feature set with its best model's settings; "
                "the year-only row is the yardstick." + relabel,
            }
        )
    within = summary.get("within") or {}
    if within:
        rows = [
            {
                "features": FEATURE_SET_LABELS.get(fs, fs),
                **{
                    f"within-{g} ROC-AUC": None if v["mean"] is None else round(v["mean"], 3)
                    for g, v in entry.items()
                },
            }
            for fs, entry in within.items()
        ]
        tables.append(
            {
                "title": "Ranking songs of the same year or genre",
                "name": "within.csv",
                "frame": pd.DataFrame(rows),
                "caption": "ROC-AUC of each feature set's best model inside each release year "
                "(and playlist genre) of the test songs, weighted by songs: a group's own base "
                "rate cannot help here.",
            }
        )
    return tables


def paragraphs(summary: Mapping[str, Any]) -> list[str]:
    """The section's prose: how the songs were split and the models chosen, each feature set's
    best model, and the regression on the score itself."""
    text = [
        f"Task {summary['task']!r} (label strategy {summary['label_strategy']}): "
        f"{summary['n_rows']:,} songs, split {summary['n_train']:,} for training and "
        f"{summary['n_test']:,} for testing before anything was fitted. Every model was tuned "
        f"and chosen by {next(iter(summary['feature_sets'].values()))['cv_folds']}-fold "
        "cross-validation on the training songs only; the test songs were used once, to "
        f"score the models. Search budget: {summary['budget']}."
    ]
    for fs, fs_summary in summary["feature_sets"].items():
        extra = ""
        if "grouped_cv" in fs_summary:
            g = fs_summary["grouped_cv"]["scores"]["accuracy"]
            extra += (
                f" With folds grouped by primary artist it scores {g['mean']:.1%} ± "
                f"{(g['sd'] or 0):.1%}."
            )
        if "temporal" in fs_summary:
            t = fs_summary["temporal"]
            extra += (
                f" Trained on songs before {t['cutoff']} and tested on later ones it "
                f"scores {t['accuracy']:.1%} (dummy {t['dummy_accuracy']:.1%})."
            )
        text.append(
            f"{fs}: inputs {', '.join(fs_summary['features'])}. Best by cross-validation: "
            f"{fs_summary['best']} ({fs_summary['best_cv_accuracy']:.1%}).{extra}"
        )
    reg = summary.get("regression") or {}
    for fs, r in (reg.get("feature_sets") or {}).items():
        text.append(
            f"Predicting the score itself ({fs}): MAE {r['mae']['point']:.2f} against "
            f"{r['baseline_mae']['point']:.2f} for always predicting the training mean; "
            f"R² {r['r2']['point']:.3f} (95% CI {r['r2']['low']:.3f} to {r['r2']['high']:.3f})."
        )
    return text

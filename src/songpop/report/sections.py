"""Every section of the run report, put together in one place.

Each stage computes (`songpop.explore`, `songpop.evaluation`, `songpop.models.cluster`,
`songpop.inference.explain`, `songpop.pipeline`); the functions here turn what it computed into a
report section: the CSV tables, the figures and the `section.json` manifest with the prose
(`songpop.report.manifest`). `songpop.report.html` renders the sections in their `order`:

| order | section | written by |
|---|---|---|
| 5 | Summary: how predictable is popularity? | `write_summary_section` |
| 10 | Data (one per build) | `write_data_section` |
| 20 | Exploration | `explore_sections` |
| 30+ | Models, per task | `write_models_section` |
| 35 | Clusters (k-means) | `write_cluster_section` |
| 40 | What drives the predictions | `write_explain_section` |
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from songpop.errors import SchemaError
from songpop.explore import (
    build_tables,
    class_balance,
    match_audit_table,
    match_rate_table,
    run_explore,
)
from songpop.io import write_csv_atomic, write_json_atomic
from songpop.plotting import save_figure
from songpop.report.summary import plain_words, predictability_chart, summary_rows

if TYPE_CHECKING:
    from songpop.bundle import Bundle
    from songpop.explore import ExploreResult
    from songpop.models.cluster import ClusterResult

log = logging.getLogger(__name__)

EXPLORE_ORDER = 20
DATA_ORDER = 10


def explore_sections(
    songs_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], progress: bool = False
) -> ExploreResult:
    """Explore a songs table (`songpop.explore.run_explore`) and write its report sections.

    The exploration section goes to `out_dir/section.json`; the data section, from the
    `build.json` and match audit next to the songs table, to `out_dir/data/`.

    Returns:
        The exploration's result, with `sections` listing the manifests written.
    """

    songs_path, out_dir = Path(songs_path), Path(out_dir)
    result = run_explore(songs_path, out_dir, progress=progress)
    result.sections.append(result.writer.write("Exploration", EXPLORE_ORDER, result.paragraphs))
    data = write_data_section(songs_path.parent, out_dir / "data", songs=result.songs)
    if data is not None:
        result.sections.append(data)
    return result


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: not valid JSON ({exc})") from None


_DATA_TABLES: dict[str, tuple[str, str]] = {
    "settings": ("Build settings", "Profile, label strategy and its parameters (build.json)."),
    "sources": ("Input files", "Every input file with its layout, rows and sha256 (first 12)."),
    "stages": ("Rows per stage", "Rows in and out of every step of the build."),
    "match_rate": ("Match rate per track source", "Tracks matched to a chart song, per source."),
    "match_audit": ("Match audit", "How the chart songs were matched (match_audit.json)."),
    "label_balance": ("Label balance", "Songs per label value after the build."),
}
_AUDIT_SAMPLES: dict[str, tuple[str, str]] = {
    "match_weakest.csv": (
        "Weakest accepted matches",
        "The accepted fuzzy matches with the lowest scores: check that they are the same song.",
    ),
    "match_unmatched_sample.csv": (
        "Chart songs left unmatched (sample)",
        "Chart songs that no track matched: mostly songs missing from the track source.",
    ),
}
SAMPLE_ROWS = 15


def write_data_section(
    build_dir: Path, out_dir: Path, songs: pd.DataFrame | None = None
) -> Path | None:
    """Write the report's data section (order 10) from `build.json` and the match audit files.

    Args:
        build_dir: the folder of `songs.parquet`, `build.json` and the audit files.
        out_dir: where the section's CSVs and `section.json` go.
        songs: the songs table, for the label balance when `build.json` lacks it.

    Returns:
        The manifest's path, or None when the folder holds neither build.json nor an audit.

    Raises:
        SchemaError: build.json, match_audit.json or an audit CSV is unreadable (named).
    """

    build_path = build_dir / "build.json"
    audit_path = build_dir / "match_audit.json"
    if not build_path.is_file() and not audit_path.is_file():
        log.info("no build.json or match audit in %s: no data section", build_dir)
        return None
    found: dict[str, pd.DataFrame] = {}
    paragraphs: list[str] = []
    build: Mapping[str, Any] = {}
    if build_path.is_file():
        build = _read_json(build_path)
        if not isinstance(build, Mapping):
            raise SchemaError(f"{build_path}: expected a JSON object, found {type(build).__name__}")
        found.update(build_tables(build))
    audit = build.get("match") if isinstance(build.get("match"), Mapping) else None
    if audit_path.is_file():
        audit = _read_json(audit_path)
        if not isinstance(audit, Mapping):
            raise SchemaError(f"{audit_path}: expected a JSON object, found {type(audit).__name__}")
    if audit:
        found["match_rate"] = match_rate_table(audit)
        found["match_audit"] = match_audit_table(audit)
    if "label_balance" not in found and songs is not None and "level" in songs.columns:
        found["label_balance"] = class_balance(songs)
    paragraphs += data_paragraphs(build, audit or {}, songs)

    out_dir.mkdir(parents=True, exist_ok=True)
    tables: list[dict[str, str]] = []
    for key, (title, caption) in _DATA_TABLES.items():
        frame = found.get(key)
        if frame is None or frame.empty:
            continue
        write_csv_atomic(frame, out_dir / f"{key}.csv")
        tables.append({"title": title, "csv": f"{key}.csv", "caption": caption})
    for name, (title, caption) in _AUDIT_SAMPLES.items():
        src = build_dir / name
        if not src.is_file():
            continue
        try:
            frame = pd.read_csv(src, nrows=SAMPLE_ROWS)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise SchemaError(f"{src}: not a readable CSV ({exc})") from None
        if frame.empty:
            paragraphs.append(f"{title}: none ({name} is empty).")
            continue
        write_csv_atomic(frame, out_dir / name)
        tables.append(
            {
                "title": title,
                "csv": name,
                "caption": f"{caption} First {SAMPLE_ROWS} rows of {name}.",
            }
        )
    described = [f"{build[k]} {k}" for k in ("profile", "label") if build.get(k)]
    section = {
        # Several builds can feed one report (a run builds one per task): say which this is.
        "title": "Data: " + ", ".join(described) if described else "Data",
        "order": DATA_ORDER,
        "paragraphs": paragraphs,
        "tables": tables,
        "figures": [],
    }
    return write_json_atomic(section, out_dir / "section.json")


def data_paragraphs(
    build: Mapping[str, Any], audit: Mapping[str, Any], songs: pd.DataFrame | None
) -> list[str]:
    """Plain sentences on how the song table was built."""
    out: list[str] = []
    n_songs = build.get("songs", len(songs) if songs is not None else None)
    inputs = build.get("inputs") if isinstance(build.get("inputs"), list) else []
    if build:
        out.append(
            f"Profile {build.get('profile', 'unknown')}, label strategy "
            f"{build.get('label', 'unknown')}: "
            + (f"{int(n_songs):,} songs" if n_songs is not None else "songs")
            + (f" from {len(inputs)} input files." if inputs else ".")
        )
    elif songs is not None:
        out.append(f"The song table holds {len(songs):,} songs.")
    rate = audit.get("chart_match_rate")
    if isinstance(rate, (int, float)):
        matched, total = audit.get("chart_songs_matched"), audit.get("chart_songs")
        counts = (
            f" ({matched:,} of {total:,})"
            if isinstance(matched, int) and isinstance(total, int)
            else ""
        )
        rule = f" (rule: {audit['rule']})" if audit.get("rule") else ""
        out.append(f"{rate:.1%} of the chart songs{counts} were matched to a track{rule}.")
    return out


def write_models_section(
    results: Sequence[Mapping[str, Any]],
    figures: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    order: int = 30,
    title: str = "Models",
    paragraphs: Sequence[str] | None = None,
    auto_summaries: bool = True,
    extra_tables: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write the comparison tables, the raw results and ``section.json`` for the HTML report.

    Files written (atomically) in ``out_dir``: ``comparison.csv`` (formatted for reading),
    ``comparison_raw.csv`` (numbers), ``classification_reports.csv``, ``regression.csv`` (when
    there are regression results), ``results.json`` (every result in full) and
    ``section.json`` (docs/architecture.md format).

    Args:
        results: classification and regression results.
        figures: ``{"title", "png", "svg", "caption"}`` dicts; paths absolute or relative to
            ``out_dir``, and inside it.
        out_dir: the section folder (e.g. ``runs/<run>/evaluate``).
        order: the section's place in the report.
        title: the section title.
        paragraphs: text placed before the automatic summaries (:func:`describe_all`, then
            :func:`describe_regression` per regression result).
        auto_summaries: add those automatic summaries (turn off when ``paragraphs`` already
            says the same).
        extra_tables: more tables, each `{"title", "name" (a CSV file name), "frame",
            "caption"}`, written beside the comparison.

    Returns:
        The path of ``section.json``.
    """
    from songpop.evaluation.results import (  # late: loads sklearn, matplotlib, scipy (start-up)
        _figure_entry,
        _strip_predictions,
        classification_reports_table,
        comparison_table,
        describe_all,
        describe_regression,
        format_comparison_table,
        regression_table,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figure_entries = [_figure_entry(f, out, i) for i, f in enumerate(figures)]
    raw = comparison_table(results)
    tables: list[dict[str, str]] = []
    if not raw.empty:
        write_csv_atomic(format_comparison_table(raw), out / "comparison.csv")
        write_csv_atomic(raw, out / "comparison_raw.csv")
        tables.append(
            {
                "title": "Model comparison",
                "csv": "comparison.csv",
                "caption": (
                    "One row per task, feature set and model. Test accuracy with a 95% "
                    "bootstrap interval; CV accuracy is mean ± sd over repeated stratified "
                    "folds; the dummy always predicts the most frequent training class; lift "
                    "is accuracy minus the dummy's on the same rows (paired bootstrap). "
                    "Audio-only and audio + context rows are reported apart."
                ),
            }
        )
        reports = classification_reports_table(results)
        if not reports.empty:
            write_csv_atomic(reports, out / "classification_reports.csv")
            tables.append(
                {
                    "title": "Per-class precision and recall",
                    "csv": "classification_reports.csv",
                    "caption": "scikit-learn's classification report for every model on its "
                    "test set.",
                }
            )
    for extra in extra_tables:
        write_csv_atomic(extra["frame"], out / extra["name"])
        tables.append({"title": extra["title"], "csv": extra["name"], "caption": extra["caption"]})
    reg = regression_table(results)
    if not reg.empty:
        write_csv_atomic(reg, out / "regression.csv")
        tables.append(
            {
                "title": "Predicting the popularity score itself",
                "csv": "regression.csv",
                "caption": "MAE, RMSE and R² with 95% bootstrap intervals, next to a baseline "
                "that always predicts the training mean.",
            }
        )
    write_json_atomic([_strip_predictions(r) for r in results], out / "results.json")
    text = list(paragraphs or [])
    if auto_summaries:
        if not raw.empty:
            text.extend(describe_all(results))
        text.extend(describe_regression(r) for r in results if r.get("kind") == "regression")
    manifest = {
        "title": title,
        "order": order,
        "paragraphs": text,
        "tables": tables,
        "figures": figure_entries,
    }
    return write_json_atomic(manifest, out / "section.json")


def write_cluster_section(
    result: ClusterResult, out_dir: str | os.PathLike[str], order: int = 35
) -> Path:
    """Write the figures, CSV tables and the report's `section.json` for the k-means analysis.

    Args:
        result: from `kmeans_analysis`.
        out_dir: the section folder (created).
        order: the section's place in the report.

    Returns:
        The path of `section.json`.
    """
    from songpop.models.cluster import (  # late: loads sklearn, scipy, rich (start-up)
        _fit_name,
        cluster_paragraphs,
        plot_pca_clusters,
        plot_silhouette,
    )

    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    write_csv_atomic(result.silhouette.round(4), out / "cluster_silhouette.csv")
    figures = [
        {
            "title": "Silhouette score by number of clusters",
            "png": "figures/cluster_silhouette.png",
            "svg": "figures/cluster_silhouette.svg",
            "caption": (
                f"Silhouette of k-means on the standardised audio features for each k "
                f"({result.silhouette_sample:,} sampled songs). Values near 0 mean overlapping "
                f"clusters; near 1, well-separated ones."
            ),
        }
    ]
    plot_silhouette(result, out / figures[0]["png"], out / figures[0]["svg"])
    tables = [
        {
            "title": "Silhouette by k",
            "csv": "cluster_silhouette.csv",
            "caption": "Silhouette score and inertia (within-cluster sum of squares) per k.",
        }
    ]
    for k, fit in result.fits.items():
        which = _fit_name(result, k)
        write_csv_atomic(fit.crosstab.reset_index(), out / f"cluster_levels_k{k}.csv")
        write_csv_atomic(fit.centres.round(4).reset_index(), out / f"cluster_centres_k{k}.csv")
        png, svg = f"figures/cluster_pca_k{k}.png", f"figures/cluster_pca_k{k}.svg"
        plot_pca_clusters(result, k, out / png, out / svg)
        figures.append(
            {
                "title": f"Clusters on the first two principal components, k = {k} ({which})",
                "png": png,
                "svg": svg,
                "caption": (
                    f"Each dot is a song, placed by the two principal components of the "
                    f"standardised audio features (together {sum(result.explained_variance):.0%} "
                    f"of the variance) and coloured by its k-means cluster."
                ),
            }
        )
        tables += [
            {
                "title": f"Clusters × popularity level, k = {k}",
                "csv": f"cluster_levels_k{k}.csv",
                "caption": (
                    f"Songs per cluster and level. Adjusted Rand index {fit.adjusted_rand:.3f}, "
                    f"normalised mutual information {fit.nmi:.3f} (0 = no relation)."
                ),
            },
            {
                "title": f"Cluster centres in feature units, k = {k}",
                "csv": f"cluster_centres_k{k}.csv",
                "caption": "Mean of each audio feature per cluster, in the feature's own units.",
            },
        ]
    manifest = {
        "title": "Clusters in the audio features (k-means)",
        "order": order,
        "paragraphs": cluster_paragraphs(result),
        "tables": tables,
        "figures": figures,
    }
    return write_json_atomic(manifest, out / "section.json")


def write_explain_section(
    bundle: Bundle,
    X: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    order: int = 40,
    why_this_model: str | None = None,
) -> Path:
    """Write the report's explanation section: a bar chart (PNG, SVG), a CSV, `section.json`.

    Args:
        bundle: the model to explain (usually the run's default model).
        X: the rows to explain (e.g. the test set).
        out_dir: the section's folder.
        order: the section's place in the report.
        why_this_model: a sentence saying why this model is explained (e.g. how the default
            model was chosen), put first.

    Returns:
        The path of `section.json`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from songpop.inference.explain import global_importance  # late: loads filelock (start-up)

    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    table = global_importance(bundle, X)
    write_csv_atomic(table, out_dir / "importance.csv")

    fig = Figure(figsize=(7, 0.35 * len(table) + 1.2), layout="tight")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    shown = table.iloc[::-1]
    ax.barh(shown["feature"], shown["importance"], color="#3b6ea5")
    unit = table["unit"].iloc[0]
    ax.set_xlabel(f"mean |contribution| ({unit})")
    ax.set_title(f"What drives the predictions of {bundle.model_id}")
    save_figure(fig, out_dir / "figures" / "importance", dpi=120)

    first, second = table["feature"].iloc[0], table["feature"].iloc[1]
    method = (
        "exact SHAP values of the tree model (TreeExplainer)"
        if table["method"].iloc[0] == "tree_shap"
        else "Shapley values estimated by permutation sampling (model-agnostic)"
    )
    manifest = {
        "title": "What drives the predictions",
        "order": order,
        "paragraphs": ([why_this_model] if why_this_model else [])
        + [
            f"Global importance of each feature for the model {bundle.model_id} "
            f"({bundle.feature_set} features, {bundle.label_strategy} labels): the mean absolute "
            f"contribution to the predicted scores over {int(table['n_rows'].iloc[0])} songs, "
            f"computed with {method}, in {unit}. `key` is one feature (its one-hot columns are "
            "added together).",
            f"The two features that move predictions most are {first} and {second}. Importance "
            "says how much a feature changes the model's output, not that changing it would make "
            "a song more popular.",
        ],
        "tables": [
            {
                "title": "Feature importance",
                "csv": "importance.csv",
                "caption": f"Mean |contribution| per feature, overall and per class ({unit}).",
            }
        ],
        "figures": [
            {
                "title": "Feature importance",
                "png": "figures/importance.png",
                "svg": "figures/importance.svg",
                "caption": f"Mean |contribution| of each feature for {bundle.model_id}.",
            }
        ],
    }
    return write_json_atomic(manifest, out_dir / "section.json")


def summary_paragraphs(results_files: list[Path]) -> list[str]:
    """Plain sentences on how far each task is above its dummy baseline."""
    # late: loads sklearn, matplotlib, scipy (start-up)
    from songpop.evaluation import describe_predictability
    from songpop.features import FEATURE_SETS  # late: loads sklearn, imblearn, scipy (start-up)

    out = [
        "What the audio features can and cannot tell, task by task, the most predictable first. "
        "Each task's best model is chosen by cross-validation on its training songs only; its "
        "accuracy is then measured once on held-out songs, with a 95% bootstrap interval, next "
        'to a dummy baseline that always predicts the most frequent class. The "measured from '
        'audio" rows use only what songpop measures in an audio file itself (duration, '
        "loudness, tempo, key, mode, time signature) and the year or decade its tags can give: "
        "what a prediction from a file is worth when no estimate is trusted."
    ]
    for path in results_files:
        results = json.loads(path.read_text(encoding="utf-8"))
        for fs in FEATURE_SETS:
            chosen = [r for r in results if r.get("feature_set") == fs]
            if any(r.get("kind", "classification") == "classification" for r in chosen):
                out.append(describe_predictability(chosen))
    return out


def write_summary_section(
    summaries: dict[str, Any], models_dir: Path, out_dir: Path, order: int = 5
) -> Path:
    """Write the report's opening section: one chart that answers "how predictable is
    popularity", then the headline table of every task and feature set."""

    rows = summary_rows(summaries)  # grouped by task, the year-only row first
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(pd.DataFrame(rows), out_dir / "summary.csv")
    figures = []
    if rows:
        predictability_chart(rows, out_dir / "figures" / "predictability")
        figures.append(
            {
                "title": "What the accuracy is made of",
                "png": "figures/predictability.png",
                "svg": "figures/predictability.svg",
                "caption": "Per task: the year alone (grey), audio only, audio + year and "
                "context, + the artist's earlier chart record, and what songpop measures in a "
                "file, on the task's held-out songs and forward in time (trained on older "
                "releases, tested on the latest five years), each task's rows under its name. "
                "Top: how well the charted-or-not tasks rank songs (ROC-AUC); below: the level "
                "tasks' accuracy with its 95% interval, the dummy (line) and the majority-class "
                "rate (diamond). Red: a row that does not beat the year alone, the dummy or the "
                "majority rate.",
            }
        )
    section = {
        "title": "Summary: what the accuracy is made of",
        "order": order,
        "figures_first": True,
        "paragraphs": plain_words(rows)
        + summary_paragraphs([models_dir / t / "results.json" for t in tasks]),
        "tables": [
            {
                "title": "Year only, audio, audio + year, history and forward in time, per task",
                "csv": "summary.csv",
                "caption": "Each task's best model per feature set (picked by cross-validation "
                "on its training songs), on its held-out songs, then forward in time at its "
                "latest origin. Accuracy with its 95% bootstrap interval and macro-F1, the "
                "dummy and the majority-class rate; for charted-or-not tasks ROC-AUC, PR-AUC and "
                "the base rate (the share that charted). A row that does not beat the year-only "
                "model, the dummy or the majority rate says so in its note.",
            }
        ],
        "figures": figures,
    }
    return write_json_atomic(section, out_dir / "section.json")

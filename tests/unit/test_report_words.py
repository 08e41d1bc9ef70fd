"""The report in words for people (issue #22): no literal markdown in its prose, column headers
in words, figure text at least 9 pt as the report shows it at 1280 px, the summary chart
grouped by task."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from songpop import plotting
from songpop.report.html import column_words, render_report
from songpop.report.summary import TASK_ORDER, predictability_chart

SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
"""A raw column name: words joined by underscores."""


def _headers(page: str) -> list[str]:
    return re.findall(r"<th[^>]*>([^<]*)</th>", page)


def test_prose_code_spans_and_raw_column_names_never_reach_the_page(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "explain").mkdir(parents=True)
    pd.DataFrame(
        {
            "feature": ["tempo", "energy"],
            "importance": [0.1, 0.2],
            "importance_high": [0.3, 0.1],
            "importance_not_charted": [0.2, 0.0],
            "n_rows": [500, 500],
            "baseline_mae_low": [1.2, 1.3],
            "weeks_on_chart": [3, 4],
        }
    ).to_csv(run / "explain" / "importance.csv", index=False)
    (run / "explain" / "section.json").write_text(
        json.dumps(
            {
                "title": "Why",
                "paragraphs": ["`key` is one feature; run `songpop predict` to see it."],
                "tables": [{"title": "`importance`", "csv": "importance.csv",
                            "caption": "by `permutation`"}],
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    page, _ = render_report(run)
    assert "`" not in page
    assert "<code>key</code> is one feature; run <code>songpop predict</code>" in page
    headers = _headers(page)
    assert [h for h in headers if SNAKE.match(h)] == []
    for words in ("importance for high", "importance for not charted", "rows",
                  "baseline MAE, 95% CI low", "weeks on the Hot 100"):  # fmt: skip
        assert words in headers, (words, headers)


@pytest.mark.parametrize(
    ("raw", "words"),
    [("n_rows", "rows"), ("r2_high", "R², 95% CI high"), ("mae_reduction_low",
     "MAE reduction, 95% CI low"), ("rows_in", "rows in"), ("tempo", "tempo")],
)  # fmt: skip
def test_column_words(raw: str, words: str) -> None:
    assert column_words(raw) == words


def _shown_sizes(svg: Path) -> list[float]:
    """Each label's size as the report shows the figure at 1280 px, in points, read from the
    SVG (its width in points, its text sizes in the same units)."""
    text = svg.read_text(encoding="utf-8")
    width_pt = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', text).group(1))
    scale = (
        plotting.REPORT_DPI
        / 96
        * min(1.0, plotting.REPORT_COLUMN_PX / (width_pt / 72 * plotting.REPORT_DPI))
    )
    # a label's size is its largest part: a mathtext exponent (the 0 of 10⁰) is set smaller
    sizes = [
        max(float(s) for s in re.findall(r"font-size: ([\d.]+)px", label))
        for label in re.findall(r"<text[\s\S]*?</text>", text)
    ]
    assert sizes, f"{svg}: no text found"
    return [s * scale for s in sizes]


def _summary_rows() -> list[dict[str, object]]:
    """Rows of three tasks, ordered by accuracy across them, as a chart ordered by lift
    would see them."""
    rows = []
    rng = np.random.default_rng(3)
    for task, binary in (("seed", False), ("chart_chance", True), ("chart", False)):
        for features in ("year only (release year, or decade)", "audio only"):
            acc = float(rng.uniform(0.35, 0.6))
            rows.append({
                "task": task, "features": features, "protocol": "random split",
                "test accuracy": acc, "95% CI": f"{acc - 0.02:.3f}–{acc + 0.02:.3f}",
                "dummy accuracy": 0.34, "majority-class rate": 0.35,
                "ROC-AUC": float(rng.uniform(0.6, 0.9)) if binary else None,
                "PR-AUC": 0.3 if binary else None, "note": "",
            })  # fmt: skip
    return sorted(rows, key=lambda r: -float(r["test accuracy"]))


def test_the_summary_chart_is_grouped_by_task_and_readable(tmp_path: Path) -> None:
    paths = predictability_chart(_summary_rows(), tmp_path / "predictability")
    svg = paths["svg"].read_text(encoding="utf-8")
    # each task once, as a heading over its rows, in the summary's task order
    headings = re.findall(r"font-weight: 700[^>]*>([a-z_]+)</text>", svg)
    assert headings == [t for t in TASK_ORDER if t in {"seed", "chart_chance", "chart"}]
    assert min(_shown_sizes(paths["svg"])) >= plotting.MIN_TEXT_PT - 1e-6


def test_the_model_comparison_reads_at_nine_points(tmp_path: Path) -> None:
    """Five feature sets once made a 25-inch row of panels whose labels showed at about 6 px."""
    from songpop.evaluation.figures import plot_model_comparison

    rows = []
    for fs in ("audio", "audio+context", "history", "measured", "year"):
        for i, model in enumerate(("dummy", "logreg", "lgbm", "rf")):
            rows.append({"task": "seed", "feature_set": fs, "model": model,
                         "accuracy": 0.35 + 0.05 * i, "accuracy_low": 0.33 + 0.05 * i,
                         "accuracy_high": 0.37 + 0.05 * i, "cv_accuracy_mean": np.nan,
                         "cv_accuracy_sd": np.nan, "dummy_accuracy": 0.35,
                         "cv_dummy_accuracy": np.nan})  # fmt: skip
    paths = plot_model_comparison(pd.DataFrame(rows), tmp_path / "comparison")
    assert min(_shown_sizes(paths["svg"])) >= plotting.MIN_TEXT_PT - 1e-6


def test_the_exploration_grids_read_at_nine_points(tmp_path: Path) -> None:
    from songpop import config
    from songpop.report.figures import distributions_by_level, regression_grid

    rng = np.random.default_rng(5)
    songs = pd.DataFrame({f: rng.uniform(0, 1, 200) for f in config.AUDIO_NUMERIC})
    songs["popularity"] = rng.uniform(0, 100, 200)
    songs["level"] = rng.choice(["low", "medium", "high"], 200)
    features = list(config.AUDIO_NUMERIC)
    for name, fig in (
        ("regressions", regression_grid(songs, features, "popularity")),
        ("distributions", distributions_by_level(songs, features, ["low", "medium", "high"])),
    ):
        paths = plotting.save_figure(fig, tmp_path / name)
        assert min(_shown_sizes(paths["svg"])) >= plotting.MIN_TEXT_PT - 1e-6, name


def test_save_figure_raises_small_text_of_any_figure_to_the_minimum(tmp_path: Path) -> None:
    """A figure twice the column's width with 7-pt labels: shown at half size, they would read
    at about 4 pt; saved, none is below 9 pt."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(20, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("small label", fontsize=7)
    ax.tick_params(labelsize=7)
    assert plotting.smallest_text_pt(fig) < plotting.MIN_TEXT_PT
    paths = plotting.save_figure(fig, tmp_path / "wide", close=False)
    assert plotting.smallest_text_pt(fig) >= plotting.MIN_TEXT_PT - 1e-6
    assert min(_shown_sizes(paths["svg"])) >= plotting.MIN_TEXT_PT - 1e-6

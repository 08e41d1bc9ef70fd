"""Unit tests: task results, the comparison table, plain-language summaries, figures, section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from songpop.evaluation import (
    COMPARISON_COLUMNS,
    MetricInputError,
    comparison_table,
    describe_all,
    describe_predictability,
    describe_regression,
    evaluate_classifier,
    evaluate_regressor,
    figure_entry,
    format_comparison_table,
    plot_confusion_matrix,
    plot_learning_curve,
    plot_model_comparison,
    plot_reliability,
    result_from_cv,
)
from songpop.report.sections import write_models_section

SK_LEVELS = ["high", "low", "medium"]


def fake_model(n: int, skill: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training labels, test labels and probabilities of a model right about `skill` of the time."""
    rng = np.random.default_rng(seed)
    y_train = rng.choice(np.array(SK_LEVELS), 3 * n, p=[0.3, 0.4, 0.3])
    y_test = rng.choice(np.array(SK_LEVELS), n, p=[0.3, 0.4, 0.3])
    right = rng.random(n) < skill
    guess = np.where(right, y_test, rng.choice(np.array(SK_LEVELS), n))
    proba = np.full((n, 3), 0.2)
    proba[np.arange(n), [SK_LEVELS.index(g) for g in guess]] = 0.6
    return y_train, y_test, proba


def result(model: str, skill: float, feature_set: str = "audio", n: int = 600, seed: int = 0):
    y_train, y_test, proba = fake_model(n, skill, seed)
    return evaluate_classifier(
        y_test,
        proba,
        SK_LEVELS,
        y_train=y_train,
        task="seed_levels",
        feature_set=feature_set,
        model=model,
        n_boot=300,
    )


def fake_cv(acc: float, dummy: float, sd: float) -> dict:
    values = [acc - sd, acc, acc + sd]
    return {
        "protocol": "repeated_stratified_group_kfold",
        "grouped": True,
        "n_splits": 3,
        "n_repeats": 1,
        "n_rows": 900,
        "scores": {"accuracy": {"mean": acc, "sd": sd, "values": values}},
        "dummy": {"accuracy": {"mean": dummy, "sd": 0.0, "values": [dummy] * 3}},
        "lift": {"mean": acc - dummy, "sd": sd, "values": [v - dummy for v in values]},
    }


def test_evaluate_classifier_carries_interval_dummy_and_lift() -> None:
    r = result("good", skill=0.7)
    acc = r["metrics"]["accuracy"]
    low, high = r["ci"]["accuracy"]
    assert low < acc < high
    assert r["dummy"]["majority_class"] == "low"  # p=0.4 for "low" in SK_LEVELS order
    assert "y_pred" not in r["dummy"]
    assert r["lift"]["point"] == pytest.approx(acc - r["dummy"]["accuracy"])
    assert r["lift"]["low"] > 0
    assert r["ci"]["qwk"] is not None and r["ci"]["roc_auc"] is not None
    json.dumps(r)  # a result is JSON-ready


def test_comparison_table_rows_order_and_duplicates() -> None:
    results = [
        result("weak", 0.2),
        result("strong", 0.7, seed=1),
        result("ctx", 0.75, feature_set="audio+context", seed=2),
        result_from_cv(fake_cv(0.8, 0.5, 0.02), task="hit", feature_set="audio", model="lgbm"),
        evaluate_regressor(
            np.arange(10.0),
            np.arange(10.0) + 1,
            y_train=np.arange(20.0),
            task="popularity",
            feature_set="audio",
            model="ridge",
        ),
    ]
    table = comparison_table(results)
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert len(table) == 4  # the regression result has its own table
    seed_rows = table[table["task"] == "seed_levels"]
    assert seed_rows["model"].tolist() == ["strong", "weak", "ctx"]  # audio first, best first
    with_test = table.dropna(subset=["accuracy"])
    assert np.allclose(with_test["lift"], with_test["accuracy"] - with_test["dummy_accuracy"])
    hit = table[table["task"] == "hit"].iloc[0]
    assert np.isnan(hit["accuracy"]) and hit["cv_accuracy_mean"] == 0.8
    shown = format_comparison_table(table)
    assert shown.loc[0, "test accuracy [95% CI]"].count("[") == 1
    assert "±" in shown.loc[shown["model"] == "lgbm", "CV accuracy (mean ± sd)"].iloc[0]
    with pytest.raises(MetricInputError, match="more than once"):
        comparison_table([results[0], results[0]])
    with pytest.raises(MetricInputError, match=r"results\[0\] has no 'model'"):
        comparison_table([{"task": "t", "feature_set": "audio"}])


def test_describe_predictability_says_how_far_above_the_dummy() -> None:
    clear = describe_predictability([result("weak", 0.2), result("strong", 0.7, seed=1)])
    assert "strong" in clear and "clearly above the dummy baseline" in clear
    assert "95% CI" in clear

    barely = result("meh", 0.3)
    barely["lift"] = {"point": 0.035, "low": 0.01, "high": 0.06}
    assert "barely above chance" in describe_predictability(barely)

    none = result("coin", 0.0)
    none["lift"] = {"point": 0.004, "low": -0.02, "high": 0.03}
    assert "not distinguishable from the dummy baseline" in describe_predictability(none)

    # A label shift (e.g. a temporal split) is called out, not hidden behind a weak dummy.
    shifted = result("new", 0.3)
    shifted["dummy"].update(accuracy=0.05, test_majority_class="high", test_majority_share=0.75)
    said = describe_predictability(shifted)
    assert "label mix shifted" in said and "label mix shifted" not in clear
    # ... and an accuracy under the test set's majority rate is never called "above" anything
    assert shifted["metrics"]["accuracy"] < 0.75
    assert "above the dummy baseline" not in said
    assert "yet below the 75.0% that always answering the test set's most common" in said
    table = format_comparison_table(comparison_table([shifted, result("good", 0.7, seed=3)]))
    notes = dict(zip(table["model"], table["note"], strict=True))
    assert table.loc[table["model"] == "new", "majority-class rate"].item() == "0.750"
    assert notes["new"].startswith("below the majority-class rate (75.0%)")
    assert notes["good"] == ""  # above both baselines: nothing to say

    # With CV for every model, the choice is made on CV, never on the test set.
    lucky, steady = result("lucky", 0.7, seed=1), result("steady", 0.6, seed=2)
    lucky["cv"], steady["cv"] = fake_cv(0.50, 0.4, 0.01), fake_cv(0.55, 0.4, 0.01)
    chosen = describe_predictability([lucky, steady])
    assert "the best model, steady" in chosen and "Cross-validated" in chosen

    # Cross-validation only: mean − 2 sd of the lift stands in for the lower bound.
    def cv_text(acc: float) -> str:
        cv = fake_cv(acc, 0.34, 0.01)
        return describe_predictability(
            result_from_cv(cv, task="chart_level", feature_set="audio", model="lgbm")
        )

    assert "artist-grouped" in cv_text(0.37)
    assert "barely above chance" in cv_text(0.37)  # 3 ± 1 points: lower bound 1 point
    assert "modestly above" in cv_text(0.40)
    assert "clearly above" in cv_text(0.46)


def test_figures_are_written_as_png_and_svg_with_titles(tmp_path: Path) -> None:
    r1, r2 = result("a", 0.6), result("b", 0.4, seed=3)
    curve = {
        "train_sizes": [100, 200, 400],
        "train_mean": [0.9, 0.8, 0.7],
        "train_sd": [0.05, 0.04, 0.03],
        "test_mean": [0.4, 0.45, 0.5],
        "test_sd": [0.05, 0.04, 0.03],
        "scoring": "accuracy",
        "n_folds": 5,
    }
    m = r1["metrics"]
    written = [
        plot_learning_curve(curve, tmp_path / "lc", title="Learning curve: knn"),
        plot_learning_curve({"a": curve, "b": curve}, tmp_path / "lc2", title="Two curves"),
        plot_confusion_matrix(m["confusion_matrix"], m["labels"], tmp_path / "cm", title="CM a"),
        plot_reliability({"a": r1["metrics"], "b": r2["metrics"]}, tmp_path / "rel"),
        plot_model_comparison(comparison_table([r1, r2]), tmp_path / "cmp", title="Compared"),
    ]
    for paths in written:
        assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert paths["svg"].stat().st_size > 1000
    assert "Learning curve: knn" in written[0]["svg"].read_text()
    assert "ECE" in written[3]["svg"].read_text()
    # Same figure, same bytes: no dates, fixed SVG ids.
    again = plot_confusion_matrix(
        m["confusion_matrix"], m["labels"], tmp_path / "cm_again", title="CM a"
    )
    assert again["svg"].read_bytes() == written[2]["svg"].read_bytes()
    assert again["png"].read_bytes() == written[2]["png"].read_bytes()
    with pytest.raises(MetricInputError, match=r"expected \(3, 3\)"):
        plot_confusion_matrix([[1, 2], [3, 4]], SK_LEVELS, tmp_path / "bad")


def test_write_models_section_writes_manifest_and_tables(tmp_path: Path) -> None:
    results = [result("a", 0.6), result("b", 0.4, seed=3)]
    out = tmp_path / "evaluate"
    fig = plot_model_comparison(comparison_table(results), out / "figures" / "comparison")
    path = write_models_section(
        results,
        [figure_entry(fig, "Accuracy by model", "caption")],
        out,
        paragraphs=["Intro."],
    )
    manifest = json.loads(path.read_text())
    assert manifest["title"] == "Models" and manifest["order"] == 30
    assert manifest["paragraphs"][0] == "Intro."
    assert any("clearly above" in p or "above" in p for p in manifest["paragraphs"][1:])
    assert manifest["figures"][0]["png"] == "figures/comparison.png"
    for table in manifest["tables"]:
        assert (out / table["csv"]).is_file()
    shown = pd.read_csv(out / "comparison.csv")
    assert len(shown) == 2
    assert len(json.loads((out / "results.json").read_text())) == 2

    quiet = write_models_section(
        results, [], tmp_path / "quiet", paragraphs=["Only this."], auto_summaries=False
    )
    assert json.loads(quiet.read_text())["paragraphs"] == ["Only this."]

    elsewhere = plot_model_comparison(comparison_table(results), tmp_path / "outside")
    with pytest.raises(MetricInputError, match="not inside the section folder"):
        write_models_section(results, [figure_entry(elsewhere, "x")], out)


def test_protocols_are_reported_apart(tmp_path: Path) -> None:
    main = result("lgbm", 0.6)
    main["cv"] = fake_cv(0.55, 0.4, 0.01)
    temporal = result("lgbm [temporal split]", 0.9, seed=4)  # higher, but another protocol
    temporal["protocol"] = "temporal: train < 2010, test ≥"
    temporal["dummy"]["accuracy"] = 0.02
    grouped = result_from_cv(
        fake_cv(0.5, 0.4, 0.01), task="seed_levels", feature_set="audio", model="lgbm [grouped]"
    )
    results = [temporal, grouped, main]
    table = comparison_table(results)
    assert table["model"].tolist() == ["lgbm", "lgbm [grouped]", "lgbm [temporal split]"]
    sentences = describe_all(results)
    assert len(sentences) == 3
    assert "the best model, lgbm," in sentences[0]
    assert "temporal split" in sentences[2] and "temporal split" not in sentences[0]
    # Different dummies in one panel: drawn per row, and the figure is still written.
    paths = plot_model_comparison(table, tmp_path / "mixed")
    assert paths["png"].stat().st_size > 0


def test_describe_regression_against_the_mean_baseline() -> None:
    rng = np.random.default_rng(5)
    y_train, y_test = rng.normal(50, 10, 300), rng.normal(50, 10, 200)
    good = evaluate_regressor(
        y_test,
        y_test + rng.normal(0, 3, 200),
        y_train=y_train,
        task="popularity_score",
        feature_set="audio",
        model="lgbm",
        n_boot=300,
    )
    text = describe_regression(good)
    assert "training mean" in text and "points better" in text and "R²" in text
    useless = evaluate_regressor(
        y_test,
        np.full(200, y_train.mean()) + rng.normal(0, 0.01, 200),
        y_train=y_train,
        task="popularity_score",
        feature_set="audio",
        model="flat",
        n_boot=300,
    )
    assert "not distinguishable" in describe_regression(useless)

"""The serving cost of a bundle and the choice of the default model (songpop.serving)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from songpop.bundle import load_bundle
from songpop.serving import choose_default, measure_speed, meets_targets
from support import audio_pipeline, labelled_songs, save_audio_bundle

TARGETS = {"single_p50_ms": 2.0, "batch_rows_per_s": 200_000}


def entry(model: str, cv: float, p50: float | None = None, rate: float | None = None) -> dict:
    serving = None if p50 is None else {"single_p50_ms": p50, "batch_rows_per_s": rate}
    return {"id": f"seed/audio/{model}", "model": model, "cv_accuracy": cv, "serving": serving}


def test_the_best_model_is_the_default_when_it_is_fast_enough() -> None:
    chosen, reason = choose_default(
        [entry("lgbm", 0.52, 0.1, 300_000), entry("logreg", 0.50, 0.1, 2e6)], TARGETS
    )
    assert chosen == "seed/audio/lgbm"
    assert "best by cross-validated accuracy (0.5200)" in reason


def test_a_slow_best_model_gives_way_to_the_best_fast_one() -> None:
    entries = [
        entry("ensemble", 0.521, 1.0, 18_000),  # best, but far below the batch target
        entry("knn", 0.515, 0.4, 70_000),
        entry("lgbm", 0.514, 0.1, 250_000),
        entry("logreg", 0.505, 0.1, 2e6),
    ]
    chosen, reason = choose_default(entries, TARGETS)
    assert chosen == "seed/audio/lgbm"
    assert "seed/audio/ensemble has the best (0.5210, at most 1 point(s) more)" in reason
    assert "18,000 rows/s" in reason and "250,000 rows/s" in reason


def test_single_latency_counts_as_much_as_throughput() -> None:
    entries = [entry("mlp", 0.53, 2.5, 900_000), entry("rf", 0.525, 0.2, 210_000)]
    assert choose_default(entries, TARGETS)[0] == "seed/audio/rf"


def test_without_a_fast_model_the_best_by_cv_is_kept_and_said_so() -> None:
    entries = [entry("ensemble", 0.52, 1.0, 18_000), entry("svc", 0.50, None)]
    chosen, reason = choose_default(entries, TARGETS)
    assert chosen == "seed/audio/ensemble"
    assert "it does not meet the serving targets" in reason


def test_speed_is_not_bought_with_more_than_the_tolerance() -> None:
    entries = [entry("rf", 0.774, 0.4, 22_000), entry("logreg", 0.724, 0.2, 1.8e6)]
    chosen, reason = choose_default(entries, TARGETS, tolerance=0.01)
    assert chosen == "seed/audio/rf"  # logreg is fast but 5 points worse
    assert "seed/audio/logreg (0.7240), is more than 1 point(s) below it" in reason
    assert choose_default(entries, TARGETS, tolerance=0.06)[0] == "seed/audio/logreg"


def test_the_dummy_is_never_the_default_and_unmeasured_models_do_not_qualify() -> None:
    entries = [
        entry("dummy", 0.35, 0.01, 9e6),
        entry("lgbm", 0.5, None),
        entry("rf", 0.495, 1, 3e5),
    ]
    assert choose_default(entries, TARGETS)[0] == "seed/audio/rf"
    assert not meets_targets(None, TARGETS)
    assert meets_targets({"single_p50_ms": 1.99, "batch_rows_per_s": 200_000}, TARGETS)
    assert not meets_targets({"single_p50_ms": 2.0, "batch_rows_per_s": 10**6}, TARGETS)
    with pytest.raises(ValueError, match="no model"):
        choose_default([], TARGETS)


def test_measure_speed_times_the_served_bundle_on_valid_rows(tmp_path: Path) -> None:
    X, y = labelled_songs(200)
    model = audio_pipeline(LogisticRegression(max_iter=500), scale=True).fit(X, y)
    bundle = load_bundle(save_audio_bundle(model, tmp_path / "logreg", X, y))
    rows = X.copy()
    rows.loc[0, "danceability"] = 7.0  # out of range: left out of the timing, no error
    speed = measure_speed(bundle, rows, single_calls=11, batch_rows=3_000, probe_rows=1_000)
    assert speed["single_p50_ms"] > 0 and speed["single_p99_ms"] >= speed["single_p50_ms"]
    assert speed["batch_rows_per_s"] > 0
    assert speed["batch_rows"] in (1_000, 3_000)
    with pytest.raises(ValueError, match="no valid rows"):
        measure_speed(bundle, rows.assign(energy=-1.0), single_calls=3)

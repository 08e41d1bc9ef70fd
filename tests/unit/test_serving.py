"""The serving cost of a bundle as measured through the predict path (songpop.serving)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from songpop.bundle import load_bundle
from songpop.serving import measure_speed, meets_targets
from support import audio_pipeline, labelled_songs, save_audio_bundle

TARGETS = {"single_p50_ms": 2.0, "batch_rows_per_s": 200_000}


def test_meets_targets() -> None:
    assert not meets_targets(None, TARGETS)
    assert meets_targets({"single_p50_ms": 1.99, "batch_rows_per_s": 200_000}, TARGETS)
    assert not meets_targets({"single_p50_ms": 2.0, "batch_rows_per_s": 10**6}, TARGETS)


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

"""Where a prediction sits: similar songs, unusual values, what the numbers mean, positions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from songpop.bundle import Bundle, load_bundle
from songpop.inference import predict
from songpop.inference.context import (
    about,
    confidence_note,
    level_lines,
    positions_svg,
    similar_songs,
    unusual,
)
from songpop.prepare.label import class_words, describe_levels
from support import FEATURES, SONG, chart_history, level_of, random_songs, save_lgbm_bundle

NUMERIC = [f for f in FEATURES if f != "key"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return load_bundle(save_lgbm_bundle(tmp_path_factory.mktemp("ctx") / "lgbm"))


def test_a_training_song_is_its_own_nearest_neighbour(bundle: Bundle) -> None:
    X = random_songs()  # the bundle's training songs, in order
    history = chart_history(level_of(X))
    rows = X[FEATURES].to_numpy(dtype=float)[[3, 40]]
    found = similar_songs(bundle, rows, 4)
    assert [len(f) for f in found] == [4, 4]
    for songs, row in zip(found, (3, 40), strict=True):
        assert songs[0].title == f"Song {row}" and songs[0].distance == pytest.approx(0, abs=1e-6)
        assert [s.distance for s in songs] == sorted(s.distance for s in songs)
        first = history.iloc[row]
        assert songs[0].level == first["level"] and songs[0].words == class_words(first["level"])
        if pd.isna(first["best_position"]):
            assert songs[0].peak is None and "never on the Hot 100" in songs[0].line()
        else:
            assert songs[0].peak == int(first["best_position"])
            assert f"peak #{songs[0].peak}" in songs[0].line()


def test_similar_is_standardised_not_raw(bundle: Bundle) -> None:
    """Duration (in ms) would swamp every other feature in raw units: in standard units a song
    that differs only in danceability by its whole range is farther than one that differs in
    duration by a few seconds."""
    X = random_songs()
    base = X[FEATURES].iloc[[7]].to_numpy(dtype=float)
    longer, danceable = base.copy(), base.copy()
    longer[0, FEATURES.index("duration_ms")] += 5_000
    at = FEATURES.index("danceability")
    danceable[0, at] = 1.0 - danceable[0, at]
    (near,), (far,) = similar_songs(bundle, longer, 1), similar_songs(bundle, danceable, 1)
    assert near[0].title == "Song 7" and near[0].distance < 0.2
    assert far[0].distance > near[0].distance


def test_no_songs_no_neighbours_and_k_is_capped(bundle: Bundle) -> None:
    bare = Bundle(bundle.path, "m", None, {"reference": bundle.reference}, bundle.classes,
                  list(bundle.feature_names))  # fmt: skip
    assert similar_songs(bare, np.array([list(SONG.values())]), 5) == [[]]
    assert len(similar_songs(bundle, np.array([[SONG[f] for f in FEATURES]]), 500)[0]) == 50


def test_unusual_names_the_value_and_the_range_or_the_distance(bundle: Bundle) -> None:
    X = random_songs()
    typical = X[FEATURES].iloc[[11]].to_numpy(dtype=float)
    assert unusual(bundle, typical) == [[]]
    fast = typical.copy()
    fast[0, FEATURES.index("tempo")] = 299.0
    (warnings,) = unusual(bundle, fast)
    assert warnings[0].startswith("tempo 299 BPM is outside the range of the training songs (")
    # every value inside its range, but a combination no training song comes near
    odd = typical.copy()
    for name, q in (("danceability", 1), ("energy", 99), ("loudness", 1), ("valence", 99),
                    ("acousticness", 99), ("speechiness", 99)):  # fmt: skip
        odd[0, FEATURES.index(name)] = np.percentile(X[name], q)
    (warnings,) = unusual(bundle, odd)
    assert any(w.startswith("no training song is close") for w in warnings), warnings
    assert not any("outside the range" in w for w in warnings)


def test_confidence_note_reads_the_calibration_bins(bundle: Bundle) -> None:
    meta = dict(bundle.meta)
    meta["metrics"] = {
        "calibration": [
            {"lower": 0.4, "upper": 0.5, "count": 120, "confidence": 0.45, "accuracy": 0.41},
            {"lower": 0.6, "upper": 0.7, "count": 30, "confidence": 0.66, "accuracy": 0.7},
        ]
    }
    fake = Bundle(bundle.path, "m", None, meta, bundle.classes, list(bundle.feature_names))
    assert confidence_note(fake, 0.45) == (
        "when this model said 40-50%, it was right 41% of the time (120 held-out songs)"
    )
    assert confidence_note(fake, 0.55) is None  # no held-out song was predicted that sure
    assert about(fake)["calibration"][1] == {"from": 0.6, "to": 0.7, "songs": 30, "right": 0.7}


def test_level_meaning_from_the_labelled_songs() -> None:
    songs = pd.DataFrame(
        {
            "level": ["low", "low", "medium", "high", "high", "high"],
            "score": [3, 20, 45, 61, 70, 88],
            "year": [1965, 1990, 2001, 1999, 2010, 2020],
        }
    )
    meaning = describe_levels(songs, "spotify")
    assert [c["name"] for c in meaning["classes"]] == ["low", "medium", "high"]
    fake = Bundle(Path_("."), "m", None, {"meaning": meaning}, ["high", "low", "medium"], [])
    lines = level_lines(fake)
    assert lines[0] == (
        "low popularity: the bottom third by Spotify popularity (0-100), 3 to 20 "
        "(33% of the 6 training songs); released 1965-1990"
    )
    assert lines[2].startswith("high popularity: the top third") and "61 to 88" in lines[2]
    hits = describe_levels(pd.DataFrame({"level": ["hit", "not_hit"], "decade": [1980, 1990]}),
                           "hit")  # fmt: skip
    fake = Bundle(Path_("."), "m", None, {"meaning": hits}, ["hit", "not_hit"], [])
    assert level_lines(fake)[0].startswith("not a hit: 50% of the 2 training songs (")
    assert level_lines(fake)[0].endswith("released 1990-1999")


def Path_(p: str):  # noqa: N802 - a tiny alias keeps the Bundle lines short
    from pathlib import Path

    return Path(p)


def test_position_chart_marks_the_song_on_every_numeric_feature(bundle: Bundle) -> None:
    svg = positions_svg(bundle, {**SONG, "title": "not a number"})
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = root.findall("s:g", ns)
    assert [g.get("data-position") for g in groups] == sorted(NUMERIC, key=FEATURES.index)
    for g in groups:
        rows = [t.text for t in g.findall("s:text", ns)][1:]
        assert rows == ["low popularity", "medium popularity", "high popularity"]
        song = g.find("s:line[@class='song']", ns)
        assert song is not None

    # the song's loudness lies where it should: louder songs further right
    def x_of(value: float) -> float:
        root = ET.fromstring(positions_svg(bundle, {**SONG, "loudness": value}))
        g = next(g for g in root.findall("s:g", ns) if g.get("data-position") == "loudness")
        return float(g.find("s:line[@class='song']", ns).get("x1"))

    assert x_of(-20.0) < x_of(-8.0) < x_of(-3.0)
    bare = Bundle(bundle.path, "m", None, {}, bundle.classes, list(bundle.feature_names))
    assert positions_svg(bare, SONG) == ""


def test_every_prediction_carries_words_confidence_and_warnings(bundle: Bundle) -> None:
    (p,) = predict(dict(SONG, tempo=299.0), bundle, similar=3)
    assert p.words == class_words(p.level) and len(p.similar) == 3
    assert any("tempo 299 BPM" in w for w in p.warnings)
    d = p.to_dict()
    assert d["similar"][0]["title"].startswith("Song ") and d["warnings"] == p.warnings

"""A known song told as known: the model's training or test song, with its real level, and
similar songs restated in the one chart history songpop shows (issue 22)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tests.support import chart_history, level_of, random_songs, save_lgbm_bundle

from songpop.bundle import load_bundle
from songpop.inference.context import SimilarSong
from songpop.inference.known import as_charted, known_song


@pytest.fixture(scope="module")
def run_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder: a seed bundle trained on 300 songs, and the task's song table of those
    300 plus 2 held-out songs."""
    run = tmp_path_factory.mktemp("run")
    folder = save_lgbm_bundle(run / "models" / "seed" / "audio" / "lgbm")
    meta = json.loads((folder / "bundle.json").read_text())
    assert meta.get("task") in (None, "seed")
    training = chart_history(level_of(random_songs()))
    held_out = pd.DataFrame(
        {"title": ["Held Out Song", "Other Held"], "artist": ["The Testers", "Nobody"],
         "level": ["high", "low"], "popularity": [77.0, 12.0]}
    )  # fmt: skip
    table = pd.concat([training[["title", "artist", "level", "popularity"]], held_out])
    (run / "data" / "seed").mkdir(parents=True)
    table.to_parquet(run / "data" / "seed" / "songs.parquet")
    return folder


def test_a_training_song_is_told_with_its_real_level(run_bundle: Path) -> None:
    bundle = load_bundle(run_bundle)
    songs = bundle.songs()
    row = songs.iloc[7]
    # spelled differently from the table: the build's normalised keys match it
    known = known_song(bundle, str(row["title"]).upper() + "!", f"  {row['artist']} ")
    assert known is not None and known.role == "training"
    assert known.level == row["level"]
    assert "training song" in known.line() and "not a forecast" in known.line()


def test_a_test_song_and_an_unknown_one(run_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = load_bundle(run_bundle)
    monkeypatch.setitem(bundle.meta, "task", "seed")
    known = known_song(bundle, "held out song", "the testers")
    assert known is not None and known.role == "test" and known.level == "high"
    assert "held-out test song" in known.line() and "popularity 77" in known.line()
    assert known_song(bundle, "A Song Nobody Wrote", "The Testers") is None


def test_similar_songs_take_the_catalogue_spelling_and_chart_weeks() -> None:
    class Catalogue:
        index = pd.DataFrame(
            {"title": ["green onions", "Green Onions"],
             "artist": ["booker t  the mgs", "Booker T. & the M.G.'s"],
             "norm_title": ["green onions"] * 2, "norm_artist": ["booker t the mgs"] * 2,
             "charted": [True, True], "best_position": [3.0, 3.0],
             "weeks_on_chart": [16.0, 16.0]}
        )  # fmt: skip

    from songpop.prepare.normalize import add_keys

    keyed = add_keys(Catalogue.index[["title", "artist"]])
    Catalogue.index["norm_title"] = keyed["norm_title"]
    Catalogue.index["norm_artist"] = keyed["norm_artist"]
    near = SimilarSong("green onions", "booker t  the mgs", 1962, False, 3, 12, 60.0, "high",
                       "high popularity", 0.5)  # fmt: skip
    far = SimilarSong("unheard", "someone", 1990, False, None, 0, 5.0, "low", "low", 2.0)
    shown = as_charted([near, far], Catalogue())
    assert (shown[0].title, shown[0].artist) == ("Green Onions", "Booker T. & the M.G.'s")
    assert (shown[0].peak, shown[0].weeks) == (3, 16)
    assert shown[1] == far

"""The local catalogue over the real track tables: accents, featured artists, covers with the
same title, Spotify ids, and a song that is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from songpop.inference.inputs.lookup import load_catalogue


@pytest.fixture(scope="module")
def catalogue(data_dir: Path):
    return load_catalogue(data_dir)


def test_every_track_table_is_indexed(catalogue) -> None:
    files = set(catalogue.index["source_file"])
    assert {
        "tracks/hit_predictor_dev.csv.gz",
        "tracks/tidytuesday_spotify_songs_2020.csv.gz",
        "tracks/spotify_1921-2020_seed_matched.csv.gz",
        "seed/extracted_features_to_predict.csv",  # a saved Spotify API answer
    } <= files
    assert len(catalogue) > 79_000
    assert catalogue.index["charted"].notna().all()  # the Hot 100 file was read


def test_accents_and_featured_artists(catalogue) -> None:
    [hit] = catalogue.search("Crazy in Love", "Beyonce feat. Jay-Z", limit=1)
    assert hit.artist == "Beyoncé" and hit.charted and hit.best_position == 1
    assert hit.score == 100 and set(hit.features) >= {"danceability", "energy", "tempo"}


def test_covers_with_the_same_title_are_told_apart_by_artist(catalogue) -> None:
    everyone = catalogue.search("Hey Jude", limit=20)
    artists = {c.artist.lower() for c in everyone}
    assert {"the beatles", "wilson pickett"} <= artists
    [pickett] = catalogue.search("Hey Jude", "Wilson Pickett", limit=1)
    [beatles] = catalogue.search("Hey Jude", "The Beatles", limit=1)
    assert pickett.artist.lower() == "wilson pickett" and beatles.artist.lower() == "the beatles"
    assert beatles.best_position == 1 and pickett.best_position == 23  # what really happened


def test_a_spotify_id_from_the_tables(catalogue) -> None:
    [found] = catalogue.by_id("4GiXBCUF7H6YfNQsnBRIzl")
    assert found.title == "Lucky Man" and found.source.endswith("hit_predictor_dev.csv.gz")
    assert found.features["decade"] == 2000


def test_a_song_that_is_not_there_gives_nothing(catalogue) -> None:
    assert catalogue.search("Zyxwv Quorble Anthem") == []
    assert catalogue.search("Blinding Lights", "Wilson Pickett") == []


def test_the_index_is_cached_and_reused(data_dir: Path, catalogue) -> None:
    import songpop.inference.inputs.lookup as lookup

    lookup._LOADED.clear()
    again = load_catalogue(data_dir)  # from the Parquet cache this time
    assert again is not catalogue and len(again) == len(catalogue)
    assert (again.index["norm_title"] == catalogue.index["norm_title"]).all()


def test_a_lowercased_source_is_shown_in_another_table_s_spelling(catalogue) -> None:
    """The seed source lowercases its titles; a candidate from it is shown as the charts and
    the other tables spell the song (issue #22: "blinding lights by the weeknd")."""
    raw = catalogue.index
    seed = raw[
        raw["source_file"].str.contains("seed_matched") & (raw["norm_title"] == "blinding lights")
    ]
    assert (seed["title"].astype(str) == seed["title"].astype(str).str.lower()).any()
    found = [c for c in catalogue.search("Blinding Lights", "The Weeknd", limit=5)
             if "seed_matched" in c.source_file]  # fmt: skip
    assert found and all(c.title == "Blinding Lights" and c.artist == "The Weeknd" for c in found)
    suggested = catalogue.suggest("blinding lig", limit=3)  # the page's search as one types
    assert ("Blinding Lights", "The Weeknd") in [(c.title, c.artist) for c in suggested]
    assert all(c.title != c.title.lower() for c in suggested if "weeknd" in c.artist.lower())

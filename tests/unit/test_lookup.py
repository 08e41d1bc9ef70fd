"""The lookup adapter on tiny tables: Spotify links parsed strictly, the index's chart join, and
a search that matches as the build does and never invents a match."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from songpop.errors import InputError
from songpop.inference.inputs.lookup import Catalogue, looks_like_spotify, parse_spotify
from songpop.prepare.catalogue import catalogue_index

ID = "4uLU6hMCjMI75M1A2tKUQC"


@pytest.mark.parametrize(
    "text",
    [
        ID,
        f"spotify:track:{ID}",
        f"https://open.spotify.com/track/{ID}",
        f"https://open.spotify.com/track/{ID}?si=a1b2c3d4e5",
        f"https://open.spotify.com/intl-de/track/{ID}?si=x",
        f"http://open.spotify.com/track/{ID}/",
        f"  https://open.spotify.com/track/{ID}  ",
    ],
)
def test_spotify_track_links_uris_and_ids(text: str) -> None:
    assert parse_spotify(text) == ID
    assert looks_like_spotify(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"https://open.spotify.com/album/{ID}", "album link, not a track"),
        (f"https://open.spotify.com/playlist/{ID}", "playlist link, not a track"),
        (f"spotify:artist:{ID}", "artist link, not a track"),
        ("https://open.spotify.com/track/abc123", "not 22 letters and digits"),
        (ID[:-1], "not a Spotify track link"),
        (ID + "x", "not a Spotify track link"),
        ("https://example.com/track/" + ID, "not a Spotify track link"),
        ("Bohemian Rhapsody", "not a Spotify track link"),
    ],
)
def test_anything_else_is_refused_with_what_was_expected(text: str, words: str) -> None:
    with pytest.raises(InputError, match="22-character track id") as info:
        parse_spotify(text)
    assert words in str(info.value)


def _tracks() -> pd.DataFrame:
    rows = [
        ("a.csv", "1" * 22, "Café Del Mar", "Energy 52", 1993),
        ("a.csv", "2" * 22, "Hey Jude", "The Beatles", 1968),
        ("b.csv", None, "hey jude", "Wilson Pickett", 1969),
        ("b.csv", "3" * 22, "Love Scars 3", "Trippie Redd", 2018),
        ("b.csv", "4" * 22, "Crazy In Love (feat. Jay-Z)", "Beyoncé", 2003),
    ]
    frame = pd.DataFrame(rows, columns=["source_file", "track_id", "title", "artist", "year"])
    frame["source"] = "test"
    frame["danceability"] = [0.5, 0.4, 0.6, 0.7, 0.66]
    frame["popularity"] = [50.0, 80.0, 30.0, 60.0, 75.0]
    frame["hit_target"] = pd.NA
    return frame


def _charts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "norm_title": ["hey jude", "crazy in love"],
            "norm_artist": ["the beatles", "beyonce"],
            "weeks_on_chart": [19, 27],
            "best_position": [1, 1],
            "debut_date": pd.to_datetime(["1968-09-14", "2003-05-31"]),
        }
    )


def test_index_joins_chart_history_on_the_build_s_keys() -> None:
    index = catalogue_index(_tracks(), _charts())
    by_title = index.set_index("title")
    assert by_title.loc["Hey Jude", "charted"] and by_title.loc["Hey Jude", "best_position"] == 1
    assert not by_title.loc["hey jude", "charted"]  # Wilson Pickett's cover is another song
    # the feat. tag and the accent do not stop the join
    assert by_title.loc["Crazy In Love (feat. Jay-Z)", "weeks_on_chart"] == 27
    assert len(index) == 5
    unknown = catalogue_index(_tracks(), None)
    assert unknown["charted"].isna().all()


@pytest.fixture()
def catalogue() -> Catalogue:
    return Catalogue(catalogue_index(_tracks(), _charts()), Path("."))


def test_search_exact_fuzzy_and_artist(catalogue: Catalogue) -> None:
    [hit] = catalogue.search("Cafe del Mar", "Energy 52")
    assert hit.how == "exact" and hit.score == 100 and hit.source == "catalogue:a.csv"
    assert hit.features == {"danceability": 0.5, "year": 1993}
    # a typo is found by the fuzzy step; the cover is told apart by its artist
    [beatles] = catalogue.search("Hey Judde", "The Beatles")
    assert beatles.artist == "The Beatles" and beatles.how == "fuzzy" and beatles.charted
    both = catalogue.search("hey jude")
    assert {c.artist for c in both} == {"The Beatles", "Wilson Pickett"}
    assert both[0].artist == "The Beatles"  # charted first at equal score
    [crazy] = catalogue.search("Crazy in Love", "Beyonce featuring Jay-Z")
    assert crazy.best_position == 1


def test_search_never_invents_a_match(catalogue: Catalogue) -> None:
    assert catalogue.search("Love Scars") == []  # numbers must agree: "Love Scars 3" differs
    assert catalogue.search("Love Scars 2") == []
    assert catalogue.search("Hey Jude", "Taylor Swift") == []
    assert catalogue.search("Bohemian Rhapsody") == []
    assert catalogue.search("!!!") == []


def test_by_id(catalogue: Catalogue) -> None:
    [found] = catalogue.by_id("3" * 22)
    assert found.title == "Love Scars 3" and found.how == "id"
    assert catalogue.by_id("9" * 22) == []


def test_shown_spelling_changes_only_the_case() -> None:
    from songpop.prepare.catalogue import shown_spelling

    rows = pd.DataFrame(
        {
            "title": ["blinding lights", "Blinding Lights", "1973", "1973 - Acoustic", "only me"],
            "artist": ["the weeknd", "The Weeknd", "james blunt", "James Blunt", "nobody"],
            "norm_title": ["blinding lights", "blinding lights", "1973", "1973", "only me"],
            "norm_artist": ["the weeknd", "the weeknd", "james blunt", "james blunt", "nobody"],
        }
    )
    shown = shown_spelling(rows)
    assert list(shown["shown_title"]) == [
        "Blinding Lights",
        "Blinding Lights",
        "1973",
        "1973 - Acoustic",
        "only me",
    ]  # fmt: skip  (never "1973 - Acoustic" for "1973": only the case may change)
    assert list(shown["shown_artist"]) == [
        "The Weeknd", "The Weeknd", "James Blunt", "James Blunt", "nobody"
    ]  # fmt: skip
    assert list(shown["title"]) == list(rows["title"])  # the source's own text is kept

"""read_tracks / canonicalize_tracks on tiny files of every track layout, written to tmp_path."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from songpop.config import AUDIO_NUMERIC
from songpop.errors import SchemaError
from songpop.sources.layouts import detect_layout
from songpop.sources.schemas import TRACK_COLUMNS_CANONICAL, range_violations
from songpop.sources.tracks import (
    canonicalize_tracks,
    canonicalize_tracks_lenient,
    decade_from_filename,
    read_tracks,
    read_tracks_many,
)

KAGGLE = (
    "acousticness,artists,danceability,duration_ms,energy,explicit,id,instrumentalness,key,"
    "liveness,loudness,mode,name,popularity,release_date,speechiness,tempo,valence,year\n"
    "0.991,\"['Mamie Smith']\",0.598,168333,0.224,0,0cS0A1fUEUd1EW3FcF8AEI,0.000522,5,0.379,"
    "-12.628,0,Keep A Song In Your Soul,12,1920,0.0936,149.976,0.634,1920\n"
    "0.5,\"['Beyoncé', 'JAY-Z']\",0.6,200000.5,0.7,1,abc,0.0,-1,0.1,-5.0,1,Déjà Vu,80,"
    "2006-09-04,0.1,105.0,0.5,2006\n"
)
SEED = (
    "acousticness,artists,danceability,duration_ms,energy,instrumentalness,key,liveness,"
    "loudness,name,popularity,speechiness,tempo,valence,year\n"
    "0.805,gene autry,0.838,150160,0.354,0.0,1,0.301,-12.85,here comes santa claus,0,0.0369,"
    "96.638,0.976,1947\n"
)
TIDY = (
    "track_id,track_name,track_artist,track_popularity,track_album_id,track_album_name,"
    "track_album_release_date,playlist_name,playlist_id,playlist_genre,playlist_subgenre,"
    "danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,"
    "valence,tempo,duration_ms\n"
    "6f807x0ima9a1j3VPbc7VN,I Don't Care,Ed Sheeran,66,alb,Alb,2019-06-14,Pop Remix,pl,pop,"
    "dance pop,0.748,0.916,6,-2.634,1,0.0583,0.102,0,0.0653,0.518,122.036,194754\n"
    "x2,Canción,Rosalía,40,alb2,Alb2,1998,Latin,pl2,latin,reggaeton,0.5,0.5,0,-6,0,0.1,0.1,0,"
    "0.1,0.5,100,180000\n"
    "x3,Old,Someone,10,alb3,Alb3,1972-03,Rock,pl3,rock,classic,0.5,0.5,0,-6,0,0.1,0.1,0,"
    "0.1,0.5,100,180000\n"
)
HIT = (
    "track,artist,uri,danceability,energy,key,loudness,mode,speechiness,acousticness,"
    "instrumentalness,liveness,valence,tempo,duration_ms,time_signature,chorus_hit,sections,"
    "target\n"
    "Lucky Man,Montgomery Gentry,spotify:track:4GiXBCUF7H6YfNQsnBRIzl,0.578,0.471,4,-7.27,1,"
    "0.0289,0.368,0.0,0.159,0.532,133.061,196707,4,30.88059,13,1\n"
    "Flop,Nobody,spotify:track:zzz,0.5,0.4,11,-9.0,0,0.03,0.3,0.5,0.1,0.2,0.0,100000,3,20.1,8,0\n"
)
API = [
    {
        "danceability": 0.942,
        "energy": 0.476,
        "key": 10,
        "loudness": -7.778,
        "mode": 0,
        "speechiness": 0.0499,
        "acousticness": 0.191,
        "instrumentalness": 0.000487,
        "liveness": 0.0949,
        "valence": 0.721,
        "tempo": 120.984,
        "type": "audio_features",
        "id": "0NBkXEbOvbGyUgPHVdW3k1",
        "uri": "spotify:track:0NBkXEbOvbGyUgPHVdW3k1",
        "track_href": "https://api.spotify.com/v1/tracks/0NBkXEbOvbGyUgPHVdW3k1",
        "analysis_url": "https://api.spotify.com/v1/audio-analysis/0NBkXEbOvbGyUgPHVdW3k1",
        "duration_ms": 164262,
        "time_signature": 4,
    }
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check_canonical(table: pd.DataFrame) -> None:
    assert tuple(table.columns) == TRACK_COLUMNS_CANONICAL
    for name in AUDIO_NUMERIC:
        assert table[name].dtype == "float64", name
    for name in ("key", "mode", "time_signature", "explicit", "year", "decade", "hit_target"):
        assert table[name].dtype == "Int64", name
    for name in ("source", "track_id", "title", "artist", "genre"):
        assert table[name].dtype == "string", name
    assert table["popularity"].dtype == "float64"


def test_kaggle_1921_2020(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", KAGGLE)
    table = read_tracks(path)
    check_canonical(table)
    assert detect_layout(path) == "kaggle_1921_2020"
    assert table["source"].unique().tolist() == ["kaggle_1921_2020"]
    assert table["artist"].tolist() == ["['Mamie Smith']", "['Beyoncé', 'JAY-Z']"]
    assert table["title"].tolist()[1] == "Déjà Vu"
    assert table["track_id"].tolist() == ["0cS0A1fUEUd1EW3FcF8AEI", "abc"]
    assert table["key"].tolist() == [5, -1]
    assert table["explicit"].tolist() == [0, 1]
    assert table["year"].tolist() == [1920, 2006]
    assert table["decade"].tolist() == [1920, 2000]
    assert table["duration_ms"].tolist() == [168333.0, 200000.5]
    assert table["popularity"].tolist() == [12.0, 80.0]
    assert table["hit_target"].isna().all() and table["time_signature"].isna().all()


def test_seed_variant_has_no_id_mode_or_explicit(tmp_path: Path) -> None:
    path = write(tmp_path / "seed.csv", SEED)
    table = read_tracks(path)
    check_canonical(table)
    assert table.loc[0, "source"] == "kaggle_1921_2020_seed"
    assert table.loc[0, "artist"] == "gene autry"
    assert pd.isna(table.loc[0, "track_id"]) and pd.isna(table.loc[0, "mode"])
    assert table.loc[0, "year"] == 1947


def test_tidytuesday_year_from_release_date_of_any_precision(tmp_path: Path) -> None:
    table = read_tracks(write(tmp_path / "spotify_songs.csv", TIDY))
    check_canonical(table)
    assert table["source"].unique().tolist() == ["tidytuesday_2020"]
    assert table["year"].tolist() == [2019, 1998, 1972]
    assert table["genre"].tolist() == ["pop", "latin", "rock"]
    assert table["popularity"].tolist() == [66.0, 40.0, 10.0]
    assert table["title"].tolist()[1] == "Canción" and table["artist"].tolist()[1] == "Rosalía"


@pytest.mark.parametrize(
    ("name", "decade"),
    [("dataset-of-60s.csv", 1960), ("dataset-of-90s.csv", 1990), ("dataset-of-00s.csv", 2000)],
)
def test_hit_predictor_decade_from_file_name(tmp_path: Path, name: str, decade: int) -> None:
    table = read_tracks(write(tmp_path / name, HIT))
    check_canonical(table)
    assert table["decade"].tolist() == [decade, decade]
    # The decade is not a release year.
    assert table["year"].isna().all()
    assert table["hit_target"].tolist() == [1, 0]
    assert table["track_id"].tolist() == ["4GiXBCUF7H6YfNQsnBRIzl", "zzz"]
    assert table["time_signature"].tolist() == [4, 3]


def test_hit_predictor_combined_file_uses_its_decade_column(tmp_path: Path) -> None:
    lines = HIT.splitlines()
    text = lines[0] + ",decade\n" + lines[1] + ",2000\n" + lines[2] + ",1960\n"
    table = read_tracks(write(tmp_path / "hit_predictor_dev.csv", text))
    assert table["decade"].tolist() == [2000, 1960]
    assert decade_from_filename("hit_predictor_dev.csv") is None


@pytest.mark.parametrize("wrap", [lambda x: x, lambda x: {"audio_features": x}])
def test_spotify_api_json(tmp_path: Path, wrap) -> None:
    path = tmp_path / "features.json"
    path.write_text(json.dumps(wrap(API)), encoding="utf-8")
    table = read_tracks(path)
    check_canonical(table)
    assert detect_layout(path) == "spotify_api"
    assert table.loc[0, "source"] == "spotify_api"
    assert table.loc[0, "track_id"] == "0NBkXEbOvbGyUgPHVdW3k1"
    assert pd.isna(table.loc[0, "title"]) and pd.isna(table.loc[0, "artist"])
    assert table.loc[0, "tempo"] == pytest.approx(120.984)
    assert table.loc[0, "time_signature"] == 4


def test_spotify_api_csv_row(tmp_path: Path) -> None:
    frame = pd.DataFrame(API)
    path = tmp_path / "extracted_features_to_predict.csv"
    frame.to_csv(path, index=False)
    table = read_tracks(path)
    assert detect_layout(path) == "spotify_api"
    assert table.loc[0, "key"] == 10 and table.loc[0, "mode"] == 0


def test_canonicalize_plain_feature_columns_with_title_and_artist() -> None:
    frame = pd.DataFrame(API).drop(columns=["id", "uri", "mode", "time_signature"])
    frame["title"] = ["Señorita"]
    frame["artist"] = ["Shawn Mendes"]
    table = canonicalize_tracks(frame, source_name="batch.csv")
    check_canonical(table)
    assert table.loc[0, "title"] == "Señorita"
    assert pd.isna(table.loc[0, "mode"]) and pd.isna(table.loc[0, "track_id"])


def test_canonicalize_recognises_a_known_layout_in_memory() -> None:
    frame = pd.read_csv(pd.io.common.StringIO(TIDY))
    table = canonicalize_tracks(frame, source_name="upload")
    assert table["source"].unique().tolist() == ["tidytuesday_2020"]
    assert table["year"].tolist() == [2019, 1998, 1972]


def test_lenient_canonicalize_keeps_good_rows_and_reports_bad_values() -> None:
    frame = pd.DataFrame(API * 3)
    frame["tempo"] = ["120.9", "fast", "99"]
    table, problems = canonicalize_tracks_lenient(frame, source_name="batch.csv")
    assert table["tempo"].isna().tolist() == [False, True, False]
    assert problems[["row", "column", "value"]].values.tolist() == [[1, "tempo", "fast"]]


def test_lenient_canonicalize_of_some_columns_matches_the_whole_table() -> None:
    frame = pd.read_csv(pd.io.common.StringIO(TIDY))
    frame["energy"] = frame["energy"].astype(object)
    frame.loc[1, "energy"] = "loud"
    whole, whole_problems = canonicalize_tracks_lenient(frame, source_name="b.csv")
    some, problems = canonicalize_tracks_lenient(
        frame, source_name="b.csv", columns=["title", "energy", "decade"]
    )
    assert list(some.columns) == ["title", "energy", "year", "decade"]  # the decade needs the year
    pd.testing.assert_frame_equal(some, whole[list(some.columns)])
    assert problems.values.tolist() == whole_problems.values.tolist()
    with pytest.raises(SchemaError, match="chart_title"):
        canonicalize_tracks_lenient(frame, columns=["chart_title"])


def test_out_of_range_values_are_kept_and_listed_not_raised(tmp_path: Path) -> None:
    text = HIT.replace("0.578,0.471", "1.578,0.471")  # danceability 1.578 > 1
    table = read_tracks(write(tmp_path / "dataset-of-80s.csv", text))
    assert table.loc[0, "danceability"] == pytest.approx(1.578)
    bad = range_violations(table)
    assert bad[["row", "column"]].values.tolist() == [[0, "danceability"]]
    assert bad.loc[0, "value"] == pytest.approx(1.578)
    assert bad.loc[0, "allowed"] == "0.0..1.0"
    # tempo 0.0 on the second row is inside the documented range (0..300): not listed.
    assert "tempo" not in set(bad["column"])


def test_range_violations_empty_when_all_valid(tmp_path: Path) -> None:
    bad = range_violations(read_tracks(write(tmp_path / "seed.csv", SEED)))
    assert bad.empty
    assert list(bad.columns) == ["row", "column", "value", "low", "high", "allowed"]


def test_read_tracks_many_stacks_layouts(tmp_path: Path) -> None:
    seed = write(tmp_path / "seed.csv", SEED)
    hit = tmp_path / "dataset-of-10s.csv.gz"
    hit.write_bytes(gzip.compress(HIT.encode("utf-8")))
    table = read_tracks_many([seed, hit])
    check_canonical(table)
    assert table["source"].tolist() == ["kaggle_1921_2020_seed", "hit_predictor", "hit_predictor"]
    assert table["decade"].tolist() == [1940, 2010, 2010]
    assert table.index.tolist() == [0, 1, 2]

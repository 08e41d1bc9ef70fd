"""Bad inputs to the source readers: each error names the file and the column (or position)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from songpop.errors import DataNotFoundError, LayoutError, SchemaError, SongpopError
from songpop.sources.charts import read_charts
from songpop.sources.layouts import detect_layout
from songpop.sources.tracks import canonicalize_tracks, read_tracks

FLAT_HEADER = "chart_date,this_week,song,artist,last_week,peak_position,weeks_on_chart\n"
TIDY_HEADER = (
    "track_id,track_name,track_artist,track_popularity,track_album_id,track_album_name,"
    "track_album_release_date,playlist_name,playlist_id,playlist_genre,playlist_subgenre,"
    "danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,"
    "valence,tempo,duration_ms\n"
)
TIDY_ROW = (
    "id{n},Song {n},Artist,50,alb,Alb,2019-06-14,PL,pl,pop,dance pop,0.7,0.9,6,-2.6,1,0.05,"
    "0.1,0,0.06,0.5,122.0,194754\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_layout_lists_columns_found_and_layouts_known(tmp_path: Path) -> None:
    path = write(tmp_path / "mystery.csv", "foo,bar\n1,2\n")
    with pytest.raises(LayoutError) as info:
        read_tracks(path)
    message = str(info.value)
    assert str(path) in message
    assert "['foo', 'bar']" in message
    assert "tidytuesday_2020" in message and "hit_predictor" in message
    with pytest.raises(LayoutError, match="unknown charts layout"):
        read_charts(path)
    with pytest.raises(LayoutError, match="mystery.csv"):
        detect_layout(path)


def test_missing_column_names_it_and_the_layout(tmp_path: Path) -> None:
    header = FLAT_HEADER.replace(",peak_position", "")
    path = write(tmp_path / "flat.csv", header + "1990-01-06,1,A,B,,1\n")
    with pytest.raises(LayoutError) as info:
        read_charts(path)
    message = str(info.value)
    assert str(path) in message and "'peak_position'" in message and "hot100_flat" in message


def test_missing_track_column_names_it_and_the_layout(tmp_path: Path) -> None:
    header = TIDY_HEADER.replace(",tempo", "")
    row = TIDY_ROW.format(n=1).replace(",122.0", "")
    path = write(tmp_path / "spotify_songs.csv", header + row)
    with pytest.raises(LayoutError) as info:
        read_tracks(path)
    assert "'tempo'" in str(info.value) and "tidytuesday_2020" in str(info.value)
    assert str(path) in str(info.value)


def test_wrong_type_names_column_row_and_value(tmp_path: Path) -> None:
    rows = [TIDY_ROW.format(n=n) for n in range(5)]
    rows[3] = rows[3].replace(",0.7,", ",loud,")  # danceability of data row 3 = file line 5
    path = write(tmp_path / "spotify_songs.csv", TIDY_HEADER + "".join(rows))
    with pytest.raises(SchemaError) as info:
        read_tracks(path)
    message = str(info.value)
    assert str(path) in message
    assert "'danceability'" in message and "line 5" in message and "'loud'" in message


def test_wrong_type_deep_in_a_large_file_is_found(tmp_path: Path) -> None:
    """The bad value sits far below the first parse block of a compressed file."""
    rows = [TIDY_ROW.format(n=n) for n in range(60_000)]
    rows[55_000] = rows[55_000].replace(",122.0,", ",n/a,")
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress((TIDY_HEADER + "".join(rows)).encode("utf-8"), 1))
    with pytest.raises(SchemaError, match=r"'tempo'.*line 55002.*'n/a'"):
        read_tracks(path)


def test_non_integer_chart_position(tmp_path: Path) -> None:
    path = write(tmp_path / "flat.csv", FLAT_HEADER + "1990-01-06,1.5,A,B,,1,1\n")
    with pytest.raises(SchemaError, match=r"flat\.csv.*'this_week'.*an integer.*line 2"):
        read_charts(path)


def test_bad_date(tmp_path: Path) -> None:
    path = write(
        tmp_path / "flat.csv", FLAT_HEADER + "1990-01-06,1,A,B,,1,1\n1990-13-45,2,C,D,,2,1\n"
    )
    with pytest.raises(SchemaError, match=r"'chart_date'.*line 3.*1990-13-45"):
        read_charts(path)


def test_position_out_of_chart_range(tmp_path: Path) -> None:
    path = write(tmp_path / "flat.csv", FLAT_HEADER + "1990-01-06,101,A,B,,1,1\n")
    with pytest.raises(SchemaError, match=r"flat\.csv.*'position'.*line 2.*101"):
        read_charts(path)


def test_missing_artist_in_charts(tmp_path: Path) -> None:
    path = write(tmp_path / "flat.csv", FLAT_HEADER + "1990-01-06,1,A,,,1,1\n")
    with pytest.raises(SchemaError, match=r"flat\.csv.*'artist'"):
        read_charts(path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    for reader in (read_charts, read_tracks):
        with pytest.raises(SchemaError, match=r"empty\.csv.*empty"):
            reader(path)


def test_header_only(tmp_path: Path) -> None:
    path = write(tmp_path / "flat.csv", FLAT_HEADER)
    with pytest.raises(SchemaError, match=r"flat\.csv.*no rows.*hot100_flat"):
        read_charts(path)


def test_truncated_gzip_small(tmp_path: Path) -> None:
    data = gzip.compress((FLAT_HEADER + "1990-01-06,1,A,B,,1,1\n" * 50).encode())
    path = tmp_path / "flat.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SchemaError, match=r"flat\.csv\.gz.*truncated"):
        read_charts(path)


def test_truncated_gzip_after_the_header_block(tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = "".join(
        f"1990-01-06,{rng.randint(1, 100)},Song {rng.random()},Artist {rng.random()},,1,1\n"
        for _ in range(20_000)
    )
    data = gzip.compress((FLAT_HEADER + rows).encode())
    path = tmp_path / "flat.csv.gz"
    path.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(SchemaError, match=r"flat\.csv\.gz.*truncated"):
        read_charts(path)


def test_truncated_json(tmp_path: Path) -> None:
    text = json.dumps([{"date": "1990-01-06", "data": [{"song": "A", "artist": "B"}]}])
    path = write(tmp_path / "all.json", text[:-10])
    with pytest.raises(SchemaError, match=r"all\.json.*not valid JSON.*line 1"):
        read_charts(path)


def test_json_entry_missing_a_field(tmp_path: Path) -> None:
    charts = [{"date": "1990-01-06", "data": [{"song": "A", "artist": "B", "this_week": 1}]}]
    path = write(tmp_path / "all.json", json.dumps(charts))
    with pytest.raises(LayoutError, match=r"all\.json.*1990-01-06 entry 0.*'last_week'"):
        read_charts(path)


def test_wrong_encoding_names_line_and_column(tmp_path: Path) -> None:
    rows = TIDY_ROW.format(n=1) + TIDY_ROW.format(n=2).replace("Artist", "Beyonc\u00e9")
    path = tmp_path / "spotify_songs.csv"
    path.write_bytes((TIDY_HEADER + rows).encode("latin-1"))
    with pytest.raises(SchemaError) as info:
        read_tracks(path)
    message = str(info.value)
    assert str(path) in message
    assert "utf-8" in message and "line 3" in message and "'track_artist'" in message


def test_latin1_fallback_only_where_the_layout_implies_it(tmp_path: Path) -> None:
    text = (
        "url,WeekID,Week Position,Song,Performer,SongID,Instance,Previous Week Position,"
        "Peak Position,Weeks on Chart\n"
        "u,1/6/1990,1,Caf\u00e9,Beyonc\u00e9,id,1,,1,1\n"
    )
    path = tmp_path / "Hot Stuff.csv"
    path.write_bytes(text.encode("latin-1"))
    table = read_charts(path)
    assert table.loc[0, "title"] == "Caf\u00e9" and table.loc[0, "artist"] == "Beyonc\u00e9"


def test_json_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "features.json"
    path.write_bytes('[{"danceability": 0.5, "name": "Caf\u00e9"}]'.encode("latin-1"))
    with pytest.raises(SchemaError, match=r"features\.json.*not valid UTF-8"):
        read_tracks(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="nowhere.csv"):
        read_charts(tmp_path / "nowhere.csv")


def test_canonicalize_missing_feature_column_names_it() -> None:
    import pandas as pd

    frame = pd.DataFrame({"danceability": [0.5], "energy": [0.5]})
    with pytest.raises(LayoutError, match=r"batch\.csv.*columns found"):
        canonicalize_tracks(frame, source_name="batch.csv")


def test_every_error_is_a_songpop_error() -> None:
    for cls in (LayoutError, SchemaError, DataNotFoundError):
        assert issubclass(cls, SongpopError)


def test_readers_write_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "flat.csv", FLAT_HEADER + "1990-01-06,1,A,B,,1,1\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    read_charts(path)
    with pytest.raises(SchemaError):
        read_charts(write(tmp_path / "bad.csv", FLAT_HEADER + "x,1,A,B,,1,1\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "bad.csv"])


def test_a_chart_file_given_as_tracks_says_what_it_looks_like(tmp_path: Path) -> None:
    path = write(tmp_path / "flat.csv", FLAT_HEADER + "1990-01-06,1,A,B,,1,1\n")
    with pytest.raises(LayoutError, match=r"looks like a charts file of the hot100_flat layout"):
        read_tracks(path)


def test_canonicalize_refuses_a_chart_layout() -> None:
    import pandas as pd

    with pytest.raises(LayoutError, match="chart layout"):
        canonicalize_tracks(pd.DataFrame({"a": [1]}), "x.csv", layout="hot_stuff")


def test_wrong_type_in_chart_json_names_the_chart_and_entry(tmp_path: Path) -> None:
    entry = {
        "song": "A",
        "artist": "B",
        "this_week": "first",
        "last_week": None,
        "peak_position": 1,
        "weeks_on_chart": 1,
    }
    path = write(tmp_path / "all.json", json.dumps([{"date": "1990-01-06", "data": [entry]}]))
    with pytest.raises(SchemaError, match=r"all\.json.*'this_week'.*chart 1990-01-06 entry 0"):
        read_charts(path)


def test_wrong_type_in_features_json_names_the_entry(tmp_path: Path) -> None:
    good = {"danceability": 0.5, "energy": 0.5, "key": 1, "loudness": -5.0, "speechiness": 0.1}
    good |= {"acousticness": 0.1, "instrumentalness": 0.0, "liveness": 0.1, "valence": 0.5}
    good |= {"tempo": 120.0, "duration_ms": 200000}
    path = write(tmp_path / "f.json", json.dumps([good, None, good | {"tempo": "fast"}]))
    with pytest.raises(SchemaError, match=r"f\.json.*'tempo'.*entry 2 has 'fast'"):
        read_tracks(path)


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    text = FLAT_HEADER + "1990-01-06,1,A,B,,1,1\n1990-01-06,2,C,D,E,,1,1\n"
    path = write(tmp_path / "ragged.csv", text)
    with pytest.raises(SchemaError, match=r"ragged\.csv.*line 3 \(8 fields, the header has 7\)"):
        read_charts(path)

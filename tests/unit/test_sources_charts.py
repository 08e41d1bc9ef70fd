"""read_charts on tiny files of every chart layout, written to tmp_path."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from songpop.sources.charts import read_charts
from songpop.sources.layouts import detect_layout
from songpop.sources.schemas import CHART_COLUMNS_CANONICAL

HOT_STUFF = (
    "url,WeekID,Week Position,Song,Performer,SongID,Instance,Previous Week Position,"
    "Peak Position,Weeks on Chart\n"
    "http://x/1958-12-15,12/15/1958,66,¿Dònde Està Santa Claus?,Augie Rios,"
    "¿Dònde Està Santa Claus?Augie Rios,1,,66,1\n"
    'http://x/1958-12-22,12/22/1958,53,"No Chemise, Please",Gerry Granahan,'
    '"No Chemise, PleaseGerry Granahan",1,66,53,2\n'
)
TIDY = (
    "url,week_id,week_position,song,performer,song_id,instance,previous_week_position,"
    "peak_position,weeks_on_chart\n"
    "http://x,7/17/1965,34,Don't Just Stand There,Patty Duke,Don't Just Stand TherePatty Duke,"
    "1,45,34,4\n"
    "http://x,7/24/1965,22,Don't Just Stand There,Patty Duke,Don't Just Stand TherePatty Duke,"
    "1,34,22,5\n"
)
FLAT = (
    "chart_date,this_week,song,artist,last_week,peak_position,weeks_on_chart\n"
    "1990-01-06,1,Another Day In Paradise,Phil Collins,1,1,10\n"
    "1990-01-06,2,007,Beyoncé & Jay-Z,,2,1\n"
    "1990-01-06,3,NA,None,5,3,4\n"
)
ALL_JSON = [
    {
        "date": "1958-08-04",
        "data": [
            {
                "song": "Poor Little Fool",
                "artist": "Ricky Nelson",
                "this_week": 1,
                "last_week": None,
                "peak_position": 1,
                "weeks_on_chart": 1,
            },
            {
                "song": "Mañana",
                "artist": "Frédéric",
                "this_week": 2,
                "last_week": 7,
                "peak_position": 2,
                "weeks_on_chart": 3,
            },
        ],
    },
    {
        "date": "1958-08-11",
        "data": [
            {
                "song": "Poor Little Fool",
                "artist": "Ricky Nelson",
                "this_week": 1,
                "last_week": 1,
                "peak_position": 1,
                "weeks_on_chart": 2,
            }
        ],
    },
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check_canonical(table: pd.DataFrame) -> None:
    assert tuple(table.columns) == CHART_COLUMNS_CANONICAL
    assert str(table["chart_date"].dtype) == "datetime64[ns]"
    assert table["position"].dtype == "int64"
    assert table["title"].dtype == "string"
    assert table["artist"].dtype == "string"
    for column in ("last_week", "peak_position", "weeks_on_chart"):
        assert table[column].dtype == "Int64"


def test_hot_stuff_layout_parses_month_day_year_and_keeps_unicode(tmp_path: Path) -> None:
    path = write(tmp_path / "Hot Stuff.csv", HOT_STUFF)
    table = read_charts(path)
    check_canonical(table)
    assert detect_layout(path) == "hot_stuff"
    assert table.attrs["layout"] == "hot_stuff"
    assert table["chart_date"].tolist() == [pd.Timestamp("1958-12-15"), pd.Timestamp("1958-12-22")]
    assert table["title"].tolist() == ["¿Dònde Està Santa Claus?", "No Chemise, Please"]
    assert table["position"].tolist() == [66, 53]
    assert pd.isna(table.loc[0, "last_week"]) and table.loc[1, "last_week"] == 66
    assert table["weeks_on_chart"].tolist() == [1, 2]


def test_tidytuesday_billboard_layout(tmp_path: Path) -> None:
    path = write(tmp_path / "billboard.csv", TIDY)
    table = read_charts(path)
    check_canonical(table)
    assert table.attrs["layout"] == "billboard_tidytuesday"
    assert table["chart_date"].tolist() == [pd.Timestamp("1965-07-17"), pd.Timestamp("1965-07-24")]
    assert table["last_week"].tolist() == [45, 34]
    assert table["artist"].tolist() == ["Patty Duke", "Patty Duke"]


def test_flat_csv_keeps_text_that_looks_like_numbers_or_missing(tmp_path: Path) -> None:
    table = read_charts(write(tmp_path / "flat.csv", FLAT))
    check_canonical(table)
    # "007" is a title, not the number 7; "NA" and "None" are names, not missing values.
    assert table["title"].tolist() == ["Another Day In Paradise", "007", "NA"]
    assert table["artist"].tolist() == ["Phil Collins", "Beyoncé & Jay-Z", "None"]
    assert table["last_week"].isna().tolist() == [False, True, False]


def test_gzip_is_read_transparently_whatever_the_name(tmp_path: Path) -> None:
    plain = read_charts(write(tmp_path / "flat.csv", FLAT))
    gz = tmp_path / "flat.csv.gz"
    gz.write_bytes(gzip.compress(FLAT.encode("utf-8")))
    odd = tmp_path / "flat_no_suffix.csv"
    odd.write_bytes(gzip.compress(FLAT.encode("utf-8")))
    pd.testing.assert_frame_equal(read_charts(gz), plain)
    pd.testing.assert_frame_equal(read_charts(odd), plain)


def test_all_json_layout_flattens_every_chart(tmp_path: Path) -> None:
    path = tmp_path / "all.json"
    path.write_text(json.dumps(ALL_JSON, ensure_ascii=False), encoding="utf-8")
    table = read_charts(path)
    check_canonical(table)
    assert detect_layout(path) == "hot100_json"
    assert len(table) == 3
    assert table["title"].tolist() == ["Poor Little Fool", "Mañana", "Poor Little Fool"]
    assert table["artist"].tolist()[1] == "Frédéric"
    assert table["chart_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "1958-08-04",
        "1958-08-04",
        "1958-08-11",
    ]
    assert table["last_week"].isna().tolist() == [True, False, False]


def test_all_json_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "all.json.gz"
    path.write_bytes(gzip.compress(json.dumps(ALL_JSON).encode("utf-8")))
    assert len(read_charts(path)) == 3


@pytest.mark.parametrize("layout_text", [HOT_STUFF, TIDY, FLAT])
def test_every_csv_layout_gives_the_same_columns(tmp_path: Path, layout_text: str) -> None:
    check_canonical(read_charts(write(tmp_path / "c.csv", layout_text)))


def test_excel_style_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + FLAT.replace("\n", "\r\n").encode("utf-8"))
    table = read_charts(path)
    assert detect_layout(path) == "hot100_flat"
    assert table["title"].tolist() == ["Another Day In Paradise", "007", "NA"]
    assert table["weeks_on_chart"].tolist() == [10, 1, 4]


_TITLE = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    titles=st.lists(_TITLE, min_size=1, max_size=5),
    artists=st.lists(_TITLE, min_size=5, max_size=5),
)
def test_any_unicode_title_survives_the_round_trip(
    tmp_path: Path, titles: list[str], artists: list[str]
) -> None:
    """Commas, quotes, accents, emoji, 'NA', digits: what the CSV holds is what we read."""
    path = tmp_path / "flat.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["chart_date", "this_week", "song", "artist", "last_week"]
            + [
                "peak_position",
                "weeks_on_chart",
            ]
        )
        for position, title in enumerate(titles, start=1):
            writer.writerow(["2001-02-03", position, title, artists[position - 1], "", 1, 1])
    table = read_charts(path)
    assert table["title"].tolist() == titles
    assert table["artist"].tolist() == artists[: len(titles)]

"""Where a row is, when quoted values hold newlines, and headers of any length (issue #21)."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from songpop.errors import SchemaError
from songpop.inference.inputs.table import TableReader
from support import SONG, random_songs

FEATURES = list(SONG)


def places(path: Path, chunksize: int = 100_000) -> dict[str, list[str]]:
    """Where the reader puts each title, and where each problem is."""
    found: dict[str, list[str]] = {"rows": [], "problems": []}
    for chunk in TableReader(path, FEATURES, chunksize):
        found["rows"] += [chunk.where(i) for i in range(len(chunk.table))]
        if chunk.problems is not None:
            pairs = zip(chunk.problems["row"], chunk.problems["field"], strict=True)
            found["problems"] += [f"{chunk.where(r)} {f}" for r, f in pairs]
    return found


def write_table(path: Path, n: int, titles: dict[int, str], bad: dict[int, str]) -> list[int]:
    """A CSV of n songs (titles and bad tempos at the given rows), a blank line after the
    second record and a ragged record at the end; returns the first line of every record."""
    table = random_songs(n)
    header = ["title", *table.columns]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(header)
    starts, line = [], 2
    for i in range(n):
        row = [titles.get(i, f"song {i}"), *table.iloc[i].tolist()]
        if i in bad:
            row[header.index("tempo")] = bad[i]
        one = io.StringIO()
        csv.writer(one, lineterminator="\n").writerow(row)
        out.write(one.getvalue())
        starts.append(line)
        line += one.getvalue().count("\n")
        if i == 1:
            out.write("\n")
            line += 1
    out.write("1,2,3\n")
    starts.append(line)
    path.write_text(out.getvalue())
    return starts


@pytest.mark.parametrize("chunksize", [100_000, 3])
def test_rows_and_rejects_are_placed_on_the_line_their_record_starts(
    tmp_path: Path, chunksize: int
) -> None:
    titles = {1: "two\nlines", 4: 'quoted "and"\n\nthree lines', 7: "a, comma"}
    path = tmp_path / "songs.csv"
    starts = write_table(path, 10, titles, bad={5: "fast", 8: "slow"})
    found = places(path, chunksize)
    assert found["rows"] == [f"line {s}" for s in starts]
    assert found["problems"] == [f"line {starts[5]} tempo", f"line {starts[8]} tempo",
                                 f"line {starts[10]} (row)"]  # fmt: skip
    lines = path.read_text().split("\n")
    assert lines[starts[5] - 1].startswith("song 5,") and lines[starts[10] - 1] == "1,2,3"


def test_gzip_files_and_files_without_quoted_newlines_number_alike(tmp_path: Path) -> None:
    path = tmp_path / "songs.csv"
    starts = write_table(path, 6, {2: "one\ntwo"}, bad={3: "x"})
    packed = tmp_path / "songs.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert places(packed) == places(path)
    plain = tmp_path / "plain.csv"
    plain_starts = write_table(plain, 6, {}, bad={3: "x"})
    assert places(plain)["rows"] == [f"line {s}" for s in plain_starts]
    assert starts[3] == plain_starts[3] + 1


def test_a_quote_inside_a_word_is_text(tmp_path: Path) -> None:
    path = tmp_path / "songs.csv"
    starts = write_table(path, 5, {1: 'a 12"single', 2: "x\ny"}, bad={4: "z"})
    assert places(path)["rows"] == [f"line {s}" for s in starts]


def test_a_header_of_100_000_columns_is_read_whole(tmp_path: Path) -> None:
    extra = [f"unused_column_{i:06d}" for i in range(100_000)]
    song = {**SONG, **dict.fromkeys(extra, 0)}
    path = tmp_path / "wide.csv"
    path.write_text(",".join(song) + "\n" + ",".join(str(v) for v in song.values()) + "\n")
    assert path.stat().st_size > 2_000_000
    reader = TableReader(path, FEATURES)
    assert len(reader.header) == len(song)
    chunks = list(reader)
    assert len(chunks[0].table) == 1 and chunks[0].where(0) == "line 2"
    assert np.isclose(chunks[0].table["tempo"].iloc[0], SONG["tempo"])


def test_a_header_past_the_limit_is_refused_for_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import songpop.sources.layouts as layouts

    monkeypatch.setattr(layouts, "MAX_HEADER_BYTES", 256 * 1024)
    path = tmp_path / "wider.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n1\n")
    with pytest.raises(SchemaError, match="header .first line. is longer than 262,144 bytes"):
        TableReader(path, FEATURES)

"""Every reader, fed mutated real files: a good result or a SongpopError, nothing else.

Each case takes the head of a real file from the data folder and damages it the way files get
damaged — truncated, re-encoded, columns shuffled, a separator swapped, junk bytes inserted,
lines dropped or repeated, gzip cut short — then reads it with a songpop reader: the chart and
track readers, batch scoring (`score_file`, from CSV and from Parquet with bytes cut, added or
flipped) and JSON records (`predict`). The only outcomes
allowed are a result or a `SongpopError` whose message names the file or field; a batch output
is either absent or complete. The number of cases run is written to
`test-artifacts/fuzz_readers.json`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from songpop.errors import SongpopError
from songpop.inference import predict, score_file
from songpop.sources.charts import read_charts
from songpop.sources.tracks import read_tracks

pytestmark = pytest.mark.data

CASES: dict[str, int] = {}
EXAMPLES = int(os.environ.get("SONGPOP_FUZZ_EXAMPLES", "60"))
"""Cases per reader (and per source); set SONGPOP_FUZZ_EXAMPLES for a longer hunt."""
SOURCES = {
    "charts": "charts/hot100_weekly_1958-2026.csv.gz",
    "hit_predictor": "tracks/hit_predictor_dev.csv.gz",
    "tidytuesday": "tracks/tidytuesday_spotify_songs_2020.csv.gz",
    "seed": "tracks/spotify_1921-2020_seed_matched.csv.gz",
}


def head(data_dir: Path, name: str, lines: int = 40) -> bytes:
    with gzip.open(data_dir / SOURCES[name], "rb") as handle:
        return b"".join(handle.readline() for _ in range(lines))


def shuffle_columns(raw: bytes, seed: int) -> bytes:
    table = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    order = list(table.columns)
    import random

    random.Random(seed).shuffle(order)
    return table[order].to_csv(index=False).encode()


@st.composite
def damaged(draw: st.DrawFn, raw: bytes) -> tuple[str, bytes]:
    """A damaged copy of `raw` and how it was damaged."""
    kind = draw(
        st.sampled_from(
            ["intact", "truncate", "junk", "latin1", "utf16", "bom", "shuffle", "semicolons",
             "decimal_comma", "drop_line", "repeat_line", "gzip_cut", "empty", "binary"]
        )
    )  # fmt: skip
    n = len(raw)
    if kind == "truncate":
        return kind, raw[: draw(st.integers(0, n))]
    if kind == "junk":
        at = draw(st.integers(0, n))
        return kind, raw[:at] + draw(st.binary(min_size=1, max_size=40)) + raw[at:]
    if kind == "latin1":
        return kind, raw.decode("utf-8", "replace").encode("latin-1", "replace") + b"caf\xe9\n"
    if kind == "utf16":
        return kind, raw.decode("utf-8", "replace").encode("utf-16")
    if kind == "bom":
        return kind, b"\xef\xbb\xbf" + raw
    if kind == "shuffle":
        return kind, shuffle_columns(raw, draw(st.integers(0, 10_000)))
    if kind == "semicolons":
        return kind, raw.replace(b",", b";")
    if kind == "decimal_comma":
        return kind, raw.replace(b"0.", b"0,", draw(st.integers(1, 20)))
    lines = raw.splitlines(keepends=True)
    if kind == "drop_line" and len(lines) > 1:
        del lines[draw(st.integers(0, len(lines) - 1))]
        return kind, b"".join(lines)
    if kind == "repeat_line" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        return kind, b"".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :])
    if kind == "gzip_cut":
        packed = gzip.compress(raw)
        return kind, packed[: draw(st.integers(0, len(packed)))]
    if kind == "empty":
        return kind, b""
    if kind == "binary":
        return kind, draw(st.binary(min_size=1, max_size=300))
    return "intact", raw


def outcome(reader: str, call) -> object:
    """Run a reader: its result, or None for a SongpopError with a message."""
    CASES[reader] = CASES.get(reader, 0) + 1
    try:
        return call()
    except SongpopError as exc:
        assert str(exc).strip(), f"{reader}: a SongpopError without a message"
        return None


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def raws(data_dir: Path) -> dict[str, bytes]:
    return {name: head(data_dir, name) for name in SOURCES}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from lightgbm import LGBMClassifier

    from songpop.bundle import load_bundle
    from support import audio_pipeline, labelled_songs, save_audio_bundle

    X, y = labelled_songs(150)
    est = audio_pipeline(LGBMClassifier(n_estimators=10, verbose=-1), scale=False).fit(X, y)
    return load_bundle(save_audio_bundle(est, tmp_path_factory.mktemp("b") / "m", X, y))


@SETTINGS
@given(data=st.data())
def test_chart_reader(raws, tmp_path_factory, data) -> None:
    kind, raw = data.draw(damaged(raws["charts"]))
    path = tmp_path_factory.mktemp("charts") / "hot100.csv"
    path.write_bytes(raw)
    table = outcome("charts", lambda: read_charts(path))
    if table is not None:
        assert {"chart_date", "position", "title", "artist"} <= set(table.columns)


@SETTINGS
@given(data=st.data(), source=st.sampled_from(["hit_predictor", "tidytuesday", "seed"]))
def test_track_reader(raws, tmp_path_factory, data, source) -> None:
    kind, raw = data.draw(damaged(raws[source]))
    path = tmp_path_factory.mktemp("tracks") / f"{source}.csv"
    path.write_bytes(raw)
    table = outcome("tracks", lambda: read_tracks(path))
    if table is not None:
        assert "danceability" in table.columns


@SETTINGS
@given(data=st.data(), source=st.sampled_from(["hit_predictor", "tidytuesday", "seed"]))
def test_batch_scoring(raws, bundle, tmp_path_factory, data, source) -> None:
    kind, raw = data.draw(damaged(raws[source]))
    folder = tmp_path_factory.mktemp("batch")
    path, out, rejects = folder / "in.csv", folder / "out.parquet", folder / "rejects.csv"
    path.write_bytes(raw)
    summary = outcome("batch", lambda: score_file(path, out, bundle, rejects_path=rejects))
    if summary is None:
        assert not out.exists() and not rejects.exists(), f"{kind}: output left half-done"
    else:
        assert summary["scored"] + summary["rejected"] == summary["rows_in"]
        assert len(pd.read_parquet(out)) == summary["scored"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "temporary files left"


@SETTINGS
@given(data=st.data(), how=st.sampled_from(["truncate", "junk", "flip", "intact"]))
def test_batch_scoring_from_parquet(raws, bundle, tmp_path_factory, data, how) -> None:
    table = pd.read_csv(io.BytesIO(raws["seed"]))
    packed = io.BytesIO()
    table.to_parquet(packed, index=False)
    raw = packed.getvalue()
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "truncate":
        raw = raw[:at]
    elif how == "junk":
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=16)) + raw[at:]
    elif how == "flip":
        raw = raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :]
    folder = tmp_path_factory.mktemp("parquet")
    path, out = folder / "in.parquet", folder / "out.parquet"
    path.write_bytes(raw)
    summary = outcome("batch_parquet", lambda: score_file(path, out, bundle))
    if summary is None:
        assert not out.exists(), f"{how}: output left half-done"
    else:
        assert summary["scored"] + summary["rejected"] == summary["rows_in"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "temporary files left"


@SETTINGS
@given(
    records=st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["danceability", "energy", "key", "tempo", "mood", "title"]), inner
            )
        ),
        max_leaves=12,
    )
)
def test_json_records(bundle, records) -> None:
    answer = outcome("json", lambda: predict(records, bundle))
    if answer is not None:
        assert all(abs(sum(p.probabilities.values()) - 1) < 1e-6 for p in answer)


def test_zz_report_the_number_of_cases(artifacts_dir: Path) -> None:
    """Written last (the file's tests run in order): how many cases each reader took."""
    counts = dict(sorted(CASES.items())) | {"total": sum(CASES.values())}
    (artifacts_dir / "fuzz_readers.json").write_text(json.dumps(counts, indent=2) + "\n")
    assert counts["total"] > 0

"""The source readers and the registry on the real files in SONGPOP_DATA_DIR."""

from __future__ import annotations

import csv
import gzip
import itertools
import shutil
from pathlib import Path

import pandas as pd
import pytest

from songpop.config import AUDIO_NUMERIC, FEATURE_RANGES
from songpop.sources import registry
from songpop.sources.charts import read_charts
from songpop.sources.layouts import detect_layout
from songpop.sources.schemas import range_violations
from songpop.sources.tracks import read_tracks
from support import refuse_downloads

pytestmark = pytest.mark.data

CHART_ROWS = 354_887  # SOURCES.md


@pytest.fixture(autouse=True)
def _offline_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch the network; keep the verification cache out of the user's home."""
    refuse_downloads(monkeypatch, tmp_path / "verified.json")


@pytest.fixture(scope="module")
def flat(data_dir: Path) -> pd.DataFrame:
    return read_charts(data_dir / registry.DATASETS["hot100_weekly"].filename)


def test_flat_chart_file(flat: pd.DataFrame) -> None:
    assert len(flat) == CHART_ROWS
    assert flat.attrs["layout"] == "hot100_flat"
    assert flat["chart_date"].min() == pd.Timestamp("1958-08-04")
    assert flat["chart_date"].max() == pd.Timestamp("2026-08-08")
    assert flat["chart_date"].nunique() == 3549
    assert flat["position"].between(1, 100).all()
    # SOURCES.md: Billboard's last_week is given for 318,624 rows
    assert flat["last_week"].notna().sum() == 318_624


def test_hot_stuff_layout_reads_to_the_same_table(data_dir: Path, flat: pd.DataFrame) -> None:
    hot = read_charts(data_dir / registry.DATASETS["hot_stuff_reconstructed"].filename)
    assert hot.attrs["layout"] == "hot_stuff"
    assert len(hot) == CHART_ROWS
    pd.testing.assert_frame_equal(hot, flat, check_like=False)


def test_all_sample_json(data_dir: Path, flat: pd.DataFrame) -> None:
    sample = read_charts(data_dir / "charts" / "all_sample.json")
    assert len(sample) == 400
    assert sample.attrs["layout"] == "hot100_json"
    dates = pd.to_datetime(list(registry.SAMPLE_DATES))
    same = flat[flat["chart_date"].isin(dates)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample.reset_index(drop=True), same)


@pytest.mark.parametrize(
    ("name", "rows", "layout"),
    [
        ("tidytuesday_spotify_2020", 32_833, "tidytuesday_2020"),
        ("hit_predictor_dev", 32_900, "hit_predictor"),
        ("spotify_1921_2020_seed_matched", 13_659, "kaggle_1921_2020_seed"),
        ("seed_features_to_predict", 1, "spotify_api"),
    ],
)
def test_track_files(data_dir: Path, name: str, rows: int, layout: str) -> None:
    path = data_dir / registry.DATASETS[name].filename
    assert detect_layout(path) == layout
    table = read_tracks(path)
    assert len(table) == rows
    assert set(table["source"]) == {layout}
    assert table[list(AUDIO_NUMERIC)].notna().all().all()
    violations = range_violations(table)
    for row in violations.itertuples():
        low, high = FEATURE_RANGES[row.column]
        assert not low <= table.loc[row.row, row.column] <= high


def test_hit_predictor_decades_and_target(data_dir: Path) -> None:
    table = read_tracks(data_dir / registry.DATASETS["hit_predictor_dev"].filename)
    assert sorted(table["decade"].unique()) == [1960, 1970, 1980, 1990, 2000, 2010]
    assert set(table["hit_target"].unique()) == {0, 1}
    assert table["year"].isna().all()
    assert table["track_id"].str.len().eq(22).all()


def test_every_default_file_matches_the_registry_hash(data_dir: Path) -> None:
    for ds in registry.DATASETS.values():
        if not ds.default:
            continue
        result = registry.verify(ds, data_dir, use_cache=False)
        assert result.sha256 == ds.sha256, ds.name
        assert result.rows == ds.rows, ds.name


def test_derive_seed_matched_reproduces_the_shared_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "seed_matched.csv.gz"
    registry.derive_seed_matched(data_dir / "seed" / "result_f355b5c.csv", out)
    ds = registry.DATASETS["spotify_1921_2020_seed_matched"]
    assert registry.content_sha256(out) == ds.sha256


def test_derive_all_sample_reproduces_the_shared_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "all_sample.json"
    registry.derive_all_sample(data_dir / "charts" / "all_sample.json", out)
    assert registry.content_sha256(out) == registry.DATASETS["hot100_sample_json"].sha256


def _first_lines(path: Path, count: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(itertools.islice(handle, count))


def test_hot_stuff_rebuild_from_the_flat_rows_matches_byte_for_byte(data_dir: Path) -> None:
    """The Instance rule and the layout of SOURCES.md, on the charts of 1958-1969.

    Instance depends only on earlier charts, so a prefix of whole charts rebuilds exactly the
    same prefix of the file (the full file's hash is checked by `songpop data fetch`).
    """
    flat_lines = _first_lines(data_dir / registry.DATASETS["hot100_weekly"].filename, 60_000)
    rows = list(csv.reader(flat_lines[1:]))
    last_date = "1970-01-01"
    rows = [row for row in rows if row[0] < last_date]
    assert len(rows) > 50_000
    rebuilt = registry._csv_text(
        registry.hot_stuff_rows_from_flat(rows), registry.HOT_STUFF_COLUMNS
    )
    real = _first_lines(
        data_dir / registry.DATASETS["hot_stuff_reconstructed"].filename, len(rows) + 1
    )
    assert rebuilt.splitlines(keepends=True) == real


def test_fetch_path_with_a_local_mirror(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """fetch() downloads (here: copies from the shared folder), derives and verifies."""
    mirror = {
        registry.DATASETS["seed_result_f355b5c"].url: data_dir / "seed" / "result_f355b5c.csv",
        registry.DATASETS["seed_features_to_predict"].url: data_dir
        / "seed"
        / "extracted_features_to_predict.csv",
    }

    def copy(url: str, known_hash: str | None, folder: Path, fname: str) -> Path:
        target = folder / fname
        shutil.copyfile(mirror[url], target)
        assert known_hash is None or registry.content_sha256(target) == known_hash
        return target

    monkeypatch.setattr(registry, "_download", copy)
    local = tmp_path / "data"
    reports = registry.fetch_all(
        ["spotify_1921_2020_seed_matched", "seed_features_to_predict"], local
    )
    assert [(r.status, r.rows) for r in reports] == [("fetched", 13_659), ("fetched", 1)]
    assert len(read_tracks(local / "tracks" / "spotify_1921-2020_seed_matched.csv.gz")) == 13_659
    # a second run finds them present and verified
    again = registry.fetch_all(["spotify_1921_2020_seed_matched"], local)
    assert again[0].status == "ok"

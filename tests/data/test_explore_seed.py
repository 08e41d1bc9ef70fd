"""The seed build's correlations reproduce the original report's Figure 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from songpop import explore
from songpop.build import build_dataset
from songpop.report import sections

# The original report, Figure 3: Pearson correlation of each feature with Spotify popularity.
REPORT_FIGURE_3 = {
    "loudness": 0.362830,
    "energy": 0.182318,
    "speechiness": 0.160931,
    "danceability": 0.139397,
    "duration_mins": 0.062887,
    "tempo": 0.033210,
    "key": 0.004468,
    "liveness": -0.042276,
    "instrumentalness": -0.081350,
    "valence": -0.179206,
    "acousticness": -0.261853,
}


@pytest.fixture(scope="module")
def seed_songs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed_build")
    build_dataset(out, profile="seed", data_dir=data_dir)
    return out / "songs.parquet"


@pytest.mark.data
def test_seed_correlations_match_report_figure_3(seed_songs: Path) -> None:
    songs = explore.prepare_songs(explore.read_songs(seed_songs), source=str(seed_songs))
    assert explore.target_column(songs) == "popularity"
    table = explore.correlation_with_target(songs, "popularity").set_index("feature")
    assert set(table.index) == set(REPORT_FIGURE_3)
    for feature, expected in REPORT_FIGURE_3.items():
        assert table.loc[feature, "pearson"] == pytest.approx(expected, abs=0.02), feature
    # the same order as the report, from loudness down to acousticness
    assert list(table.index) == list(REPORT_FIGURE_3)


@pytest.mark.data
def test_seed_data_section_reads_the_real_build(seed_songs: Path, tmp_path: Path) -> None:
    songs = explore.read_songs(seed_songs)
    manifest = sections.write_data_section(seed_songs.parent, tmp_path, songs=songs)
    assert manifest is not None
    balance = explore.class_balance(songs)
    assert list(balance["level"]) == ["low", "medium", "high"]
    assert balance["share"].min() > 0.3  # quantile thirds
    assert (tmp_path / "stages.csv").is_file() and (tmp_path / "match_rate.csv").is_file()

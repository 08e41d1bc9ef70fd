"""The data's horizon said (issue 22): a title the feature tables are too old for, a namesake
decades away from a chart hit, a link the catalogue lacks. On the real data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support import save_lgbm_bundle
from typer.testing import CliRunner

from songpop.cli import app
from songpop.inference.inputs.horizon import horizon, on_the_charts
from songpop.inference.inputs.lookup import load_catalogue

pytestmark = pytest.mark.data
runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_lgbm_bundle(tmp_path_factory.mktemp("m") / "lgbm")


def _said(args: list[str], model: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["predict", *args, "--model", str(model)])
    return result.exit_code, " ".join(result.output.split())


def test_the_horizon_is_read_from_the_data(data_dir: Path) -> None:
    catalogue = load_catalogue(data_dir)
    span = horizon(catalogue)
    assert span.first_year is not None and span.last_year is not None
    assert span.last_chart_week is not None and span.last_chart_week.year > span.last_year
    assert f"released {span.first_year}-{span.last_year}" in span.words()


def test_a_chart_song_after_the_tables_is_answered_with_that(data_dir: Path, model: Path) -> None:
    catalogue = load_catalogue(data_dir)
    span = horizon(catalogue)
    [chart] = on_the_charts(catalogue, "Espresso", "Sabrina Carpenter").itertuples()
    assert chart.debut_date.year > span.last_year  # the premise: newer than the tables
    code, said = _said(["--title", "Espresso", "--artist", "Sabrina Carpenter"], model)
    assert code != 0
    assert f"on the Hot 100 from {chart.debut_date:%Y-%m}" in said
    assert f"the feature tables end in {span.last_year}" in said and "--online" in said


def test_a_namesake_decades_away_asks_for_the_artist(data_dir: Path, model: Path) -> None:
    code, said = _said(["--title", "Espresso"], model)
    assert code != 0
    assert "Sabrina Carpenter" in said and "give --artist" in said
    # a match that charted itself is taken, whatever covers the charts hold
    code, said = _said(["--title", "Billie Jean"], model)
    assert code == 0 and "michael jackson" in said.lower()


def test_a_link_the_catalogue_lacks_says_how_far_it_reaches(data_dir: Path, model: Path) -> None:
    code, said = _said(["https://open.spotify.com/track/0VjIjW4GlUZAMYd2vXMi3b"], model)
    span = horizon(load_catalogue(data_dir))
    assert code != 0
    assert f"released {span.first_year}-{span.last_year}" in said
    assert "analyse its audio" in said and "check the spelling" not in said

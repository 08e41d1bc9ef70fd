"""`songpop data fetch` through Typer's CliRunner; the network is never touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from songpop.cli import app
from songpop.sources import registry
from support import refuse_downloads

runner = CliRunner()


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    refuse_downloads(monkeypatch, tmp_path / "cache.json")


def test_data_help_lists_fetch() -> None:
    result = runner.invoke(app, ["data", "--help"])
    assert result.exit_code == 0
    assert "fetch" in result.output


def test_fetch_help_explains_the_options() -> None:
    result = runner.invoke(app, ["data", "fetch", "--help"])
    assert result.exit_code == 0
    assert "--data-dir" in result.output
    assert "sha256" in result.output


def test_offline_missing_file_exits_non_zero_with_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    result = runner.invoke(app, ["data", "fetch", "--data-dir", str(folder), "seed_result_75a8015"])
    assert result.exit_code != 0
    text = " ".join(result.output.split())  # rich may wrap long lines
    ds = registry.DATASETS["seed_result_75a8015"]
    assert "missing" in text
    assert str(folder / "seed") in text.replace(" ", "") or str(folder / "seed") in text
    assert ds.url.replace(" ", "") in text.replace(" ", "")
    assert not (folder / ds.filename).exists()


def test_unknown_dataset_name(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "fetch", "--data-dir", str(tmp_path), "nope"])
    assert result.exit_code != 0
    assert "unknown dataset 'nope'" in " ".join(result.output.split())


@pytest.mark.data
def test_fetch_on_the_real_folder_reports_rows(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["data", "fetch", "--data-dir", str(data_dir), "hot100_sample_json"]
    )
    assert result.exit_code == 0, result.output
    assert "hot100_sample_json" in result.output and "ok" in result.output
    assert "400" in result.output

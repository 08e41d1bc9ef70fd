"""Models found from any folder: `songpop run` registers its run in the songpop home, and
predict, serve and models list find it from a folder that holds no runs (issue 22)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support import save_lgbm_bundle
from typer.testing import CliRunner

from songpop import config
from songpop.bundle import register_run, resolve_model
from songpop.cli import app
from songpop.errors import BundleError

runner = CliRunner()
SONG = {
    "danceability": 0.7, "energy": 0.8, "loudness": -5.0, "speechiness": 0.05,
    "acousticness": 0.1, "instrumentalness": 0.0, "liveness": 0.1, "valence": 0.6,
    "tempo": 120.0, "duration_ms": 200_000, "key": 5,
}  # fmt: skip


def _options(song: dict[str, float]) -> list[str]:
    return [arg for k, v in song.items() for arg in (f"--{k.replace('_', '-')}", str(v))]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no runs in it, a fresh songpop home, no $SONGPOP_RUNS_DIR."""
    work = tmp_path / "somewhere" / "else"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv(config.RUNS_DIR_ENV, raising=False)
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "home"))
    return tmp_path


def _finished_run(root: Path, name: str) -> Path:
    """A run folder with two task bundles and an index, as `songpop run` leaves it."""
    models = root / name / "models"
    save_lgbm_bundle(models / "seed" / "audio" / "lgbm")
    save_lgbm_bundle(models / "hit" / "audio" / "forest")
    (models / "index.json").write_text(
        json.dumps(
            {"default": "seed/audio/lgbm", "tasks": {"hit": {"default": "hit/audio/forest"}}}
        )
    )
    (root / "LATEST").write_text(name + "\n")
    return root / name


def test_no_run_says_where_it_looked_and_the_two_fixes(elsewhere: Path) -> None:
    result = runner.invoke(app, ["predict", *_options(SONG)])
    said = " ".join(result.output.split())
    assert result.exit_code != 0
    assert "runs/LATEST" in said and str(elsewhere / "home" / "runs.json") in said
    assert "songpop run" in said and "--model" in said and config.HOME_ENV in said


def test_a_registered_run_is_found_from_any_folder(elsewhere: Path) -> None:
    run = _finished_run(elsewhere / "myruns", "r1")
    register_run(run)
    seed = run / "models" / "seed" / "audio" / "lgbm"
    hit = run / "models" / "hit" / "audio" / "forest"
    assert resolve_model(None).resolve() == seed.resolve()
    assert resolve_model("latest").resolve() == seed.resolve()
    assert resolve_model("hit/audio/forest").resolve() == hit.resolve()
    assert resolve_model("r1/hit/audio/forest").resolve() == hit.resolve()
    assert resolve_model("latest/hit/audio/forest").resolve() == hit.resolve()
    assert resolve_model("r1").resolve() == seed.resolve()
    assert resolve_model(None, task="hit").resolve() == hit.resolve()
    # runs/LATEST/models/...: LATEST is a file naming the run
    through_latest = elsewhere / "myruns" / "LATEST" / "models" / "hit" / "audio" / "forest"
    assert resolve_model(through_latest).resolve() == hit.resolve()
    with pytest.raises(BundleError, match="RUN/seed/audio/lgbm"):
        resolve_model("r2/hit/audio/forest")

    listed = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "hit/audio/forest" in listed.output and "run r1" in listed.output


def test_predict_with_an_id_from_another_folder(elsewhere: Path) -> None:
    run = _finished_run(elsewhere / "myruns", "r1")
    register_run(run)
    for model in ("hit/audio/forest", "r1/hit/audio/forest"):
        result = runner.invoke(
            app, ["predict", "--model", model, *_options(SONG)], env={"COLUMNS": "200"}
        )
        assert result.exit_code == 0, result.output
        assert "Predictions of forest" in " ".join(result.output.split())


def test_the_folder_here_comes_before_the_home(elsewhere: Path) -> None:
    register_run(_finished_run(elsewhere / "myruns", "r1"))
    here = _finished_run(Path("runs").resolve(), "r9")
    assert resolve_model(None).resolve() == (here / "models" / "seed" / "audio" / "lgbm")


def test_a_registered_run_that_was_deleted_is_said(elsewhere: Path) -> None:
    run = _finished_run(elsewhere / "myruns", "r1")
    register_run(run)
    import shutil

    shutil.rmtree(run)
    with pytest.raises(BundleError, match="no longer exists"):
        resolve_model(None)


def test_report_goes_with_a_runs_dir(tmp_path: Path) -> None:
    from songpop.report import default_report_path

    assert default_report_path(tmp_path / "myruns" / "r1") == (
        tmp_path / "myruns" / "reports" / "r1" / "index.html"
    )
    assert default_report_path(tmp_path / "runs" / "r1") == (
        tmp_path / "reports" / "r1" / "index.html"
    )


@pytest.mark.parametrize("command", [["run"], ["predict"], ["serve"], ["models", "list"]])
def test_help_says_runs_are_found_from_any_folder(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    said = " ".join(result.output.split())
    assert "any folder" in said

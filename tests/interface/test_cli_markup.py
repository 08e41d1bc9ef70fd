"""User and config text is printed as typed: Rich markup in it is never interpreted (issue 22:
the `--online` credentials message lost its `[spotify]`)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
import typer
from tests.support import save_lgbm_bundle
from typer.testing import CliRunner

import songpop
from songpop.cli import app
from songpop.cli.output import fail
from songpop.errors import SongpopError

runner = CliRunner()
BRACKETS = "under [spotify] in [bold]x.toml[/bold] [/]"


def _error_classes() -> list[type[SongpopError]]:
    for module in pkgutil.walk_packages(songpop.__path__, "songpop."):
        if module.name.startswith(("songpop.cli", "songpop.api")):
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:
            continue
    seen, todo = [], [SongpopError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo += cls.__subclasses__()
    return seen


def _instance(cls: type[SongpopError], message: str) -> SongpopError:
    for args in ((message,), ("provider", message)):
        try:
            made = cls(*args)
        except (TypeError, AttributeError):
            continue
        if message in str(made):
            return made
    made = cls.__new__(cls)  # a class built from structured problems: its message as said
    Exception.__init__(made, message)
    return made


def test_every_error_class_prints_its_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    classes = _error_classes()
    assert len(classes) > 5  # the walk found the library's errors, not only the base class
    for cls in classes:
        exit_ = fail(_instance(cls, BRACKETS))
        assert isinstance(exit_, typer.Exit)
        said = " ".join(capsys.readouterr().err.split())
        assert "[spotify]" in said and "[bold]x.toml[/bold] [/]" in said, (cls.__name__, said)


def test_the_spotify_credentials_message_keeps_its_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from songpop.providers.spotify import credentials

    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    with pytest.raises(SongpopError) as caught:
        credentials(tmp_path / "credentials.toml")
    fail(caught.value)
    said = " ".join(capsys.readouterr().err.split())
    assert "under [spotify] in" in said


@pytest.mark.data
def test_a_title_with_brackets_is_said_as_typed(data_dir: Path, tmp_path: Path) -> None:
    model = save_lgbm_bundle(tmp_path / "lgbm")
    title = "Zqxv [spotify] [red]Song[/red]"
    result = runner.invoke(app, ["predict", "--title", title, "--model", str(model)])
    assert result.exit_code != 0
    assert title in " ".join(result.output.split())

"""Hostile bundle.json and --json files end in one line, never a traceback (issue #21)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from songpop.bundle.store import META_FILE
from songpop.cli import app
from support import audio_pipeline, labelled_songs, save_audio_bundle

runner = CliRunner()


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    X, y = labelled_songs(60)
    est = audio_pipeline(LogisticRegression(max_iter=300), scale=True).fit(X, y)
    return save_audio_bundle(est, tmp_path / "m", X, y, compile=False)


def one_line(args: list[str], code: int = 2) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())


def edit_meta(folder: Path, **changes: object) -> None:
    meta = json.loads((folder / META_FILE).read_text())
    meta.update(changes)
    (folder / META_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "changes, said",
    [
        ({"classes": "low"}, "field 'classes' must be a list of at least two distinct names"),
        ({"feature_names": []}, "field 'feature_names' must be a list of distinct names"),
        ({"files": ["estimator.skops"]}, "field 'files' must be an object"),
        ({"layout": "skops"}, "field 'layout' must be an object"),
        ({"reference": [1, 2]}, "field 'reference' must be an object or null"),
    ],
)
def test_bundle_json_fields_of_the_wrong_type_are_one_line(bundle_dir, changes, said) -> None:
    edit_meta(bundle_dir, **changes)
    assert said in one_line(["models", "verify", str(bundle_dir)])


def test_a_deeply_nested_bundle_json_is_one_line(bundle_dir: Path) -> None:
    text = (bundle_dir / META_FILE).read_text()
    (bundle_dir / META_FILE).write_text(text[:-2] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}")
    assert "nested deeper than 64 levels" in one_line(["models", "verify", str(bundle_dir)])


def test_a_symlinked_bundle_json_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    os.replace(bundle_dir / META_FILE, outside)
    (bundle_dir / META_FILE).symlink_to(outside)
    assert "is a symbolic link" in one_line(["models", "verify", str(bundle_dir)])


def test_a_deeply_nested_json_input_is_one_line(bundle_dir: Path, tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    records.write_text("[" * 100_000 + "]" * 100_000)
    said = one_line(["predict", "--model", str(bundle_dir), "--json", str(records)])
    assert f"--json {records}" in said and "nested deeper than 64 levels" in said

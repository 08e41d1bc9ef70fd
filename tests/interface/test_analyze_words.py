"""`songpop analyze` says in words what each value rests on; the descriptor names (mod4hz,
centroid_hz, ...) only with --verbose and in --json (issue #22)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import audio_support as A
from songpop.audio.describe import DESCRIPTORS
from songpop.cli import app
from songpop.cli.audio import PLAIN_BASIS

runner = CliRunner()
WIDE = {"COLUMNS": "220", "TERMINAL_WIDTH": "220"}  # no cell wrapped inside a name


def test_every_descriptor_has_words() -> None:
    assert set(DESCRIPTORS) <= set(PLAIN_BASIS)
    assert not [w for w in PLAIN_BASIS.values() if "_" in w]


@pytest.fixture(scope="module")
def song() -> Path:
    missing = A.missing_tools()
    if missing:
        pytest.skip(f"audio renderers missing: {missing}")
    return A.render_midi(A.OPENMSX / "moo_redfarn.mid")


def _names(text: str) -> set[str]:
    return {d for d in DESCRIPTORS if re.search(rf"\b{re.escape(d)}\b", text)}


def test_the_default_table_has_words_verbose_and_json_the_names(song: Path) -> None:
    plain = runner.invoke(app, ["analyze", str(song)], env=WIDE)
    assert plain.exit_code == 0, plain.output
    assert _names(plain.output) == set(), plain.output
    assert "syllable-rate pulsing" in plain.output  # instrumentalness rests on mod4hz

    verbose = runner.invoke(app, ["analyze", str(song), "--verbose"], env=WIDE)
    assert verbose.exit_code == 0, verbose.output
    assert {"mod4hz", "centroid_hz"} <= _names(verbose.output)

    as_json = runner.invoke(app, ["analyze", str(song), "--json"])
    assert as_json.exit_code == 0, as_json.output
    bases = {b for f in json.loads(as_json.stdout)[0]["features"].values()
             for b in f.get("basis", [])}  # fmt: skip
    assert {"mod4hz", "centroid_hz"} <= bases

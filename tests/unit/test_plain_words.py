"""Plain words by default (issue 22): keys and modes named, a song from some features filled
with a typical song and said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support import save_lgbm_bundle
from typer.testing import CliRunner

from songpop import vocabulary
from songpop.bundle import load_bundle
from songpop.cli import app
from songpop.inference import predict
from songpop.inference.typical import fill_typical, filled_words

runner = CliRunner()


@pytest.mark.parametrize(
    ("key", "mode", "words"),
    [(0, 1, "C major"), (6, 0, "F♯ minor"), (1, None, "C♯"), (-1, 1, "no key"), (11, 0, "B minor")],
)
def test_keys_are_named_as_musicians_name_them(key: int, mode: int | None, words: str) -> None:
    assert vocabulary.key_name(key, mode) == words


def test_categories_are_formatted_in_words() -> None:
    assert vocabulary.format_value("key", 2) == "D"
    assert vocabulary.format_value("mode", 0) == "minor"
    assert vocabulary.format_value("time_signature", 3) == "3/4"
    assert vocabulary.format_value("duration_ms", 200_000) == "3:20"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_lgbm_bundle(tmp_path_factory.mktemp("m") / "lgbm")


def test_some_features_are_filled_from_the_models_typical_song(model: Path) -> None:
    bundle = load_bundle(model)
    given = {"danceability": 0.7, "energy": 0.8, "loudness": -5.0}
    record, filled, source = fill_typical(given, [bundle])
    assert set(filled) == set(bundle.feature_names) - set(given)
    assert {k: record[k] for k in given} == given
    typical = bundle.reference["typical"]
    assert all(filled[n] == pytest.approx(typical[n]) for n in filled if n != "key")
    assert bundle.model_id in source
    words = filled_words(filled)
    assert "duration " in words and "duration_ms" not in words
    assert predict([record], bundle)[0].level in bundle.classes


def test_the_cli_predicts_from_some_features_and_lists_what_it_filled(
    model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    args = ["predict", "--model", str(model), "--danceability", "0.7", "--energy", "0.8",
            "--loudness", "-5", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "taken from a typical song" in said and "acousticness" in said
    assert "danceability" not in said.split("typical song")[1].split("\n")[0]
    [p] = json.loads(out.read_text())
    bundle = load_bundle(model)
    record, _, _ = fill_typical({"danceability": 0.7, "energy": 0.8, "loudness": -5.0}, [bundle])
    expected = predict([record], bundle)[0].probabilities
    assert p["probabilities"] == pytest.approx(expected)


def test_explanations_are_in_words_and_numbers_on_request(model: Path) -> None:
    song = ["--danceability", "0.7", "--energy", "0.8", "--loudness", "-5", "--duration-ms",
            "200000", "--tempo", "120"]  # fmt: skip
    args = ["predict", "--model", str(model), *song, "--explain", "--top", "11"]
    plain = runner.invoke(app, args, terminal_width=200)
    assert plain.exit_code == 0, plain.output
    said = " ".join(plain.output.split())
    assert "what pushed toward" in said and "█" in said
    assert "log-odds" in said.split("--verbose")[1]  # the unit is named only as where to look
    assert "contributions in" not in said and "duration_ms" not in said.split("Why")[1]
    verbose = runner.invoke(app, [*args, "--verbose"], terminal_width=200)
    assert verbose.exit_code == 0, verbose.output
    said = " ".join(verbose.output.split())
    assert "contributions in log-odds" in said and "duration_ms" in said


def test_the_plot_has_axis_values_and_the_song_in_a_colour_of_its_own(model: Path) -> None:
    import xml.etree.ElementTree as ET

    from songpop.inference.context import _COLOURS, SONG_COLOUR, positions_svg

    bundle = load_bundle(model)
    song = {"danceability": 0.7, "energy": 0.8, "loudness": -5.0, "duration_ms": 200_000.0}
    root = ET.fromstring(positions_svg(bundle, song))
    ns = {"s": "http://www.w3.org/2000/svg"}
    for g in root.findall("s:g", ns):
        ticks = [t.text for t in g.findall("s:g[@class='axis']/s:text", ns)]
        assert len(ticks) == 3 and all(ticks), g.get("data-position")
        colours = {e.get("stroke") for e in g.iter() if e.get("class") != "song"}
        assert SONG_COLOUR not in colours and SONG_COLOUR not in _COLOURS
        if g.get("data-position") == "duration_ms":
            assert all(":" in t for t in ticks)  # minutes and seconds, not milliseconds
        if g.get("data-position") == "loudness":
            assert all(t.endswith(" dB") for t in ticks)
            assert g.find("s:line[@class='song']", ns).get("stroke") == SONG_COLOUR

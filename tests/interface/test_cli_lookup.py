"""`songpop lookup` and `songpop predict` of a known song (by title or Spotify link), offline,
on the real data folder's catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from songpop.cli import app
from support import save_lgbm_bundle

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_lgbm_bundle(tmp_path_factory.mktemp("models") / "lgbm")


def flat(text: str) -> str:
    return " ".join(text.split())


def test_lookup_prints_candidates_with_their_chart_history(data_dir: Path) -> None:
    result = runner.invoke(app, ["lookup", "Hey Jude", "--artist", "Wilson Pickett"])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "2 match(es) for 'Hey Jude'" in text and "Pickett" in text  # cells may wrap
    assert "#23, 9 wk" in text


def test_lookup_json_and_a_spotify_link(data_dir: Path) -> None:
    link = "https://open.spotify.com/intl-fr/track/4GiXBCUF7H6YfNQsnBRIzl?si=0123abcd"
    result = runner.invoke(app, ["lookup", link, "--json"])
    assert result.exit_code == 0, result.output
    [song] = json.loads(result.stdout)
    assert song["title"] == "Lucky Man" and song["how"] == "id"
    assert song["source"] == "catalogue:tracks/hit_predictor_dev.csv.gz"
    assert song["features"]["tempo"] > 0


def test_lookup_of_a_song_that_is_not_there(data_dir: Path) -> None:
    result = runner.invoke(app, ["lookup", "Zyxwv Quorble Anthem"])
    assert result.exit_code == 1
    assert "0 match(es)" in flat(result.output)


def test_predict_by_title_uses_the_real_features(
    data_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    args = ["predict", "--title", "Crazy in Love", "--artist", "Beyoncé", "--model",
            str(model_dir), "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "features from catalogue:tracks/" in text and "on the Hot 100: best #1" in text
    [p] = json.loads(out.read_text())
    assert set(p["sources"].values()) == {p["song"]["source"]}
    from songpop.inference.inputs.lookup import load_catalogue

    [truth] = load_catalogue(data_dir).search("Crazy in Love", "Beyoncé", limit=1)
    assert p["song"]["features"] == truth.features and p["song"]["features"]["danceability"] > 0


def test_predict_a_spotify_link_and_refusals(data_dir: Path, model_dir: Path) -> None:
    ok = runner.invoke(app, ["predict", "spotify:track:4GiXBCUF7H6YfNQsnBRIzl", "--model",
                             str(model_dir)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "Lucky Man" in ok.output
    album = runner.invoke(app, ["predict", "https://open.spotify.com/album/4GiXBCUF7H6YfNQsnBRIzl"])
    assert album.exit_code == 2 and "album link, not a track" in flat(album.stderr)
    missing = runner.invoke(app, ["predict", "--title", "Zyxwv Quorble Anthem", "--model",
                                  str(model_dir)])  # fmt: skip
    assert missing.exit_code == 2
    assert "'Zyxwv Quorble Anthem': not in the local catalogue" in flat(missing.stderr)
    assert "add --online" in flat(missing.stderr)
    unknown_id = runner.invoke(app, ["predict", "0" * 22, "--model", str(model_dir)])
    assert unknown_id.exit_code == 2 and "not in the local catalogue" in flat(unknown_id.stderr)


def test_predict_takes_saved_spotify_and_reccobeats_answers(
    model_dir: Path, tmp_path: Path
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
    from test_saved_answers import RECCOBEATS, SID, SPOTIFY

    spotify = tmp_path / "spotify.json"
    spotify.write_text(json.dumps({"audio_features": [SPOTIFY, None]}))
    result = runner.invoke(
        app, ["predict", "--json", str(spotify), "--model", str(model_dir)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert SID in result.output and "a saved spotify answer, 1 song(s)" in flat(result.stderr)
    scored = tmp_path / "scored.csv"
    args = ["predict", "--csv", str(spotify), "--out", str(scored), "--model", str(model_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert SID in scored.read_text()
    # ReccoBeats' audio features carry no duration: the file is refused, naming the column
    recco = tmp_path / "recco.json"
    recco.write_text(json.dumps({"content": [RECCOBEATS]}))
    out = tmp_path / "r.csv"
    args = ["predict", "--csv", str(recco), "--out", str(out), "--model", str(model_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and not out.exists()
    assert "plain feature column(s) 'duration_ms' the model needs" in flat(result.stderr)
    with_duration = tmp_path / "recco_full.json"
    with_duration.write_text(json.dumps({"content": [{**RECCOBEATS, "duration_ms": 164262}]}))
    args[2] = str(with_duration)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert SID in out.read_text()

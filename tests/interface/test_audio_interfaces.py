"""The audio file as an input, through every door: `songpop analyze`, `songpop predict FILE`,
`POST /analyze` and multipart `POST /predict` (the page's test is in test_web_browser.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import audio_support as A
from songpop.api import create_app
from songpop.cli import app
from support import save_lgbm_bundle

runner = CliRunner()
missing = A.missing_tools()
pytestmark = pytest.mark.skipif(bool(missing), reason=f"audio renderers missing: {missing}")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_lgbm_bundle(tmp_path_factory.mktemp("models") / "lgbm")


@pytest.fixture(scope="module")
def song() -> Path:
    return A.render_midi(A.OPENMSX / "moo_redfarn.mid")


@pytest.fixture(scope="module")
def speech() -> Path:
    return A.speak(A.SPEECH, "speech-en.wav")


def test_analyze_prints_every_feature_with_its_source(song: Path) -> None:
    result = runner.invoke(app, ["analyze", str(song)])
    assert result.exit_code == 0, result.output
    assert "moo_redfarn.wav" in result.output
    text = " ".join(result.output.split())
    for word in ("tempo", "120 BPM", "measured", "estimated", "danceability", "not Spotify's"):
        assert word in text, word


def test_analyze_json_and_parquet(tmp_path: Path, song: Path, speech: Path) -> None:
    result = runner.invoke(app, ["analyze", str(song), str(speech), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [Path(d["file"]).name for d in data] == ["moo_redfarn.wav", "speech-en.wav"]
    assert data[0]["features"]["energy"]["source"] == "estimated"
    assert data[0]["features"]["tempo"]["source"] == "measured"
    assert "mod4hz" in data[0]["features"]["instrumentalness"]["basis"]
    out = tmp_path / "features.parquet"
    result = runner.invoke(app, ["analyze", str(song), str(speech), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert list(table["file"].map(lambda f: Path(f).name)) == ["moo_redfarn.wav", "speech-en.wav"]
    assert (table["energy_source"] == "estimated").all()
    assert table.loc[1, "speechiness"] > table.loc[0, "speechiness"]
    assert str(table["key"].dtype) == "Int64"


def test_a_bad_file_among_good_ones_is_reported_and_the_rest_analysed(
    tmp_path: Path, song: Path
) -> None:
    bad = tmp_path / "lyrics.mp3"
    bad.write_text("not audio at all\n" * 20)
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["analyze", str(bad), str(song), "--out", str(out)])
    assert result.exit_code == 1
    assert "lyrics.mp3: not audio" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert len(pd.read_csv(out)) == 1
    only_bad = runner.invoke(app, ["analyze", str(bad)])
    assert only_bad.exit_code == 2


def test_predict_an_audio_file_shows_the_range(model_dir: Path, song: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict", str(song), "--model", str(model_dir), "--explain"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # Rich wraps at the terminal's width
    assert "range over the estimates" in text
    assert "estimated or default (varied for the range)" in text
    assert "estimated" in text.split("Why")[1]  # the explanation marks the source
    out = tmp_path / "p.json"
    result = runner.invoke(
        app, ["predict", str(song), "--model", str(model_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    [p] = json.loads(out.read_text())
    assert set(p["range"]) == set(p["probabilities"])
    for cls, (lo, hi) in p["range"].items():
        assert lo <= p["probabilities"][cls] <= hi
    assert p["sources"]["tempo"] == "measured" and p["sources"]["energy"] == "estimated"
    assert p["scenarios"] >= 20


def test_predict_refuses_a_non_audio_name(model_dir: Path, tmp_path: Path) -> None:
    table = tmp_path / "songs.csv"
    table.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["predict", str(table), "--model", str(model_dir)])
    assert result.exit_code == 2
    stderr = " ".join(result.stderr.split())
    assert "not an audio file name" in stderr and "--csv" in stderr


def test_range_moves_with_the_estimates(model_dir: Path, song: Path) -> None:
    """The range is wider than a point: the model's reference songs disagree on the estimated
    features, and the model's probabilities follow them."""
    from songpop.audio import analyze
    from songpop.bundle import load_bundle
    from songpop.inference.inputs.audio import predict_audio

    result = predict_audio(analyze(song), load_bundle(model_dir))
    widths = [hi - lo for lo, hi in result.range.values()]
    assert max(widths) > 0.01
    assert set(result.band) == set(result.uncertain)


# --- the API --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(model_dir: Path):
    with TestClient(create_app([model_dir], max_upload_bytes=20 * 1024 * 1024)) as c:
        yield c


@pytest.fixture(scope="module")
def flac(song: Path) -> Path:
    """The song as FLAC: half the bytes of the WAV, under the test app's 20 MiB limit."""
    return A.convert(song, "moo_redfarn.flac", format="FLAC")


@pytest.fixture(autouse=True)
def _private_tmp(tmp_path: Path, monkeypatch) -> None:
    """Uploads land in this test's own temporary folder, so that what is left there is this
    test's doing, whatever other tests run at the same time."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))


def _uploads() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("songpop-upload-*")}


def test_api_analyze_and_predict_an_upload(client, flac: Path) -> None:
    before = _uploads()
    r = client.post("/analyze", files={"file": ("my song.flac", flac.read_bytes(), "audio/flac")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["file"] == "my song.flac"
    assert body["features"]["tempo"]["value"] == pytest.approx(120, rel=0.02)
    assert body["features"]["valence"]["source"] == "estimated"
    r = client.post(
        "/predict?explain=true", files={"file": ("song.flac", flac.read_bytes(), "audio/flac")}
    )
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["level"] in p["probabilities"] and set(p["range"]) == set(p["classes"])
    assert p["sources"]["duration_ms"] == "measured"
    assert p["explanation"] and p["analysis"]["file"] == "song.flac"
    assert _uploads() == before  # the temporary copies are gone


def test_api_refuses_what_is_not_audio_or_too_big(client, tmp_path: Path) -> None:
    before = _uploads()
    r = client.post("/analyze", files={"file": ("a.mp3", b"just text\n" * 100, "audio/mpeg")})
    assert r.status_code == 415
    assert r.json()["detail"].startswith("a.mp3: not audio")
    assert "songpop-upload" not in r.text  # the server's temporary path is never shown
    blip = tmp_path / "blip.wav"
    sf.write(str(blip), np.zeros(2205, np.float32), 44_100)
    r = client.post("/predict", files={"file": ("blip.wav", blip.read_bytes(), "audio/wav")})
    assert r.status_code == 422 and "at least 2 s" in r.json()["detail"]
    big = b"RIFF" + b"\x00" * (21 * 1024 * 1024)
    r = client.post("/analyze", files={"file": ("big.wav", big, "audio/wav")})
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = client.post("/predict", content=b"x=1", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
    assert _uploads() == before


def test_api_upload_name_cannot_choose_where_it_is_written(client, flac: Path) -> None:
    name = "../../../../tmp/evil.flac"
    r = client.post("/analyze", files={"file": (name, flac.read_bytes(), "audio/flac")})
    assert r.status_code == 200
    assert r.json()["file"] == "evil.flac"
    assert not Path("/tmp/evil.flac").exists()


def test_a_file_tagged_as_a_known_song_is_predicted_from_its_real_features(
    data_dir: Path, model_dir: Path, flac: Path, tmp_path: Path
) -> None:
    import shutil

    from mutagen.flac import FLAC

    tagged = tmp_path / "tagged.flac"
    shutil.copy(flac, tagged)
    tags = FLAC(str(tagged))
    tags["title"], tags["artist"], tags["date"] = "Hey Jude", "Wilson Pickett", "1969"
    tags.save()
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["predict", str(tagged), "--model", str(model_dir), "--out",
                                 str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "its tags name" in " ".join(result.output.split())
    [p] = json.loads(out.read_text())
    assert p["known_song"]["artist"].lower() == "wilson pickett" and p["range"] is None
    assert all(s.startswith("catalogue:") for s in p["sources"].values())
    analysed = tmp_path / "a.json"
    result = runner.invoke(app, ["predict", str(tagged), "--model", str(model_dir),
                                 "--no-lookup", "--out", str(analysed)])  # fmt: skip
    [q] = json.loads(analysed.read_text())
    assert q["known_song"] is None and q["sources"]["energy"] == "estimated"

"""`songpop calibrate`: rendered songs, tagged and paired through a small catalogue with values
this test computes from known mappings of songpop's own descriptors; the calibration must
recover them on held-out folds, refuse too few pairs, and never write a file `analyze` cannot
read."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import audio_support as A
from songpop.audio import analyze
from songpop.audio.calibrate import (
    MIN_PAIRS,
    CalibrationError,
    Pair,
    fit_calibration,
    load_calibration,
    song_inputs,
    write_calibration,
)
from songpop.cli import app

runner = CliRunner()
missing = A.missing_tools()
pytestmark = pytest.mark.skipif(bool(missing), reason=f"audio renderers missing: {missing}")
N_SONGS = 30
PROGRAMS = (0, 24, 81, 30, 48, 56, 19, 25, 4, 29, 40, 73, 65, 11, 33)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def known_values(descriptors: list[dict[str, float]], seed: int = 0) -> pd.DataFrame:
    """The "real" values: energy a logistic curve of the spectral flux, acousticness a line
    of the spectral centroid, loudness 0.9 × LUFS + 4 dB; valence and the others noise."""
    rng = np.random.default_rng(seed)
    flux = np.array([d["spectral_flux"] for d in descriptors])
    centroid = np.array([d["centroid_hz"] for d in descriptors])
    lufs = np.array([d["loudness_lufs"] for d in descriptors])
    n = len(descriptors)
    return pd.DataFrame({
        "energy": _sigmoid((flux - np.median(flux)) / (flux.std() + 1e-9) * 2),
        "acousticness": np.clip(1 - centroid / (centroid.max() * 1.2), 0, 1),
        "loudness": 0.9 * lufs + 4.0,
        "valence": rng.uniform(0, 1, n), "danceability": rng.uniform(0, 1, n),
        "instrumentalness": rng.uniform(0, 1, n), "speechiness": rng.uniform(0, 0.3, n),
        "liveness": rng.uniform(0, 1, n),
    })  # fmt: skip


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> dict:
    """30 rendered songs as tagged FLAC files, and a data folder whose catalogue holds each
    song with values computed from its descriptors."""
    from mutagen.flac import FLAC

    root = tmp_path_factory.mktemp("library")
    songs = root / "songs"
    songs.mkdir()
    files, descriptors, analysed = [], [], {}
    for i in range(N_SONGS):
        wav, _ = A.song(
            f"calib{i}", tempo=70 + 4 * i, tonic=i % 12, mode=i % 2,
            program=PROGRAMS[i % len(PROGRAMS)], drums=i % 3 != 0, bars=12, seed=100 + i,
        )  # fmt: skip
        data, rate = A.read(wav)
        gain = 10 ** (-(i % 5) * 4 / 20)  # 0 to 16 dB quieter: the loudness varies
        flac = A.write(songs / f"song{i:02d}.flac", data * gain, rate, format="FLAC")
        tags = FLAC(str(flac))
        tags["title"], tags["artist"] = f"Calibration Song {i}", "The Test Band"
        tags.save()
        files.append(flac)
        analysed[str(flac.resolve())] = song = analyze(flac)
        descriptors.append(song.descriptors)
    truth = known_values(descriptors)
    data_dir = root / "data"
    (data_dir / "tracks").mkdir(parents=True)
    table = truth.assign(
        track_id=[f"{i:02d}CalibrationSongIdxxxx"[:22] for i in range(N_SONGS)],
        track_name=[f"Calibration Song {i}" for i in range(N_SONGS)],
        track_artist="The Test Band", track_popularity=50, track_album_release_date="2020-01-01",
        playlist_genre="pop", mode=1, key=0, tempo=120.0, duration_ms=30_000,
    )  # fmt: skip
    table.to_csv(data_dir / "tracks" / "tidytuesday_spotify_songs_2020.csv", index=False)
    return {"songs": songs, "files": files, "truth": truth, "data": data_dir,
            "descriptors": descriptors, "analysed": analysed}  # fmt: skip


@pytest.fixture()
def env(library, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SONGPOP_DATA_DIR", str(library["data"]))
    monkeypatch.setenv("SONGPOP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SONGPOP_CALIBRATION", raising=False)


@pytest.fixture(scope="module")
def calibrated(library, tmp_path_factory) -> tuple[Any, Path]:
    """`songpop calibrate` on the library, once: its result and the file it wrote.

    Each song's analysis is the one `library` made of the same file (`analyze` is
    deterministic; the FLAC files are not changed after it): the command pairs, fits and writes
    as always, without analysing thirty songs a second time. `test_too_few_pairs_...` runs the
    command with its own analysis, and the test below analyses a song again for real."""
    import songpop.audio.calibrate as calibrate_module

    out = tmp_path_factory.mktemp("calibrated") / "c.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SONGPOP_DATA_DIR", str(library["data"]))
        mp.setenv("SONGPOP_CACHE_DIR", str(out.parent / "cache"))
        mp.delenv("SONGPOP_CALIBRATION", raising=False)
        analysed = library["analysed"]
        mp.setattr(calibrate_module, "analyze",
                   lambda path: copy.deepcopy(analysed[str(Path(path).resolve())]))  # fmt: skip
        result = runner.invoke(app, ["calibrate", str(library["songs"]), "--out", str(out)])
    return result, out


def test_calibrate_recovers_known_mappings_and_analyze_uses_them(library, calibrated, env) -> None:
    result, out = calibrated
    assert result.exit_code == 0, result.output
    assert f"{N_SONGS} pairs of {N_SONGS} files" in " ".join(result.output.split())
    doc = json.loads(out.read_text())
    assert doc["format"] == "songpop-calibration" and doc["version"] == 1
    assert doc["pairs"] == N_SONGS and doc["source"] == "catalogue"
    assert "spectral_flux" in doc["descriptor_set"] and "scikit-learn" in doc["libraries"]
    held = {k: v["held_out"] for k, v in doc["features"].items()}
    for name in ("energy", "acousticness", "loudness"):
        assert held[name]["r2"] >= 0.9, (name, held[name])
        assert doc["features"][name]["applied"] is True
    assert held["loudness"]["mae"] < 0.5  # dB
    assert held["valence"]["r2"] < 0.2 and doc["features"]["valence"]["applied"] is False

    analysed = runner.invoke(app, ["analyze", str(library["files"][3]), "--calibration",
                                   str(out), "--json"])  # fmt: skip
    assert analysed.exit_code == 0, analysed.output
    [song] = json.loads(analysed.stdout)
    energy, loudness = song["features"]["energy"], song["features"]["loudness"]
    assert energy["source"] == "calibrated" and energy["error"] == held["energy"]["mae"]
    assert abs(energy["value"] - library["truth"]["energy"][3]) < 0.2
    assert loudness["source"] == "calibrated"
    assert loudness["value"] == pytest.approx(library["truth"]["loudness"][3], abs=1.0)
    valence = song["features"]["valence"]
    assert valence["source"] == "estimated" and "not applied" in valence["note"]
    assert song["calibration"]["pairs"] == N_SONGS


@pytest.fixture(scope="module")
def written(calibrated) -> Path:
    """The calibration `songpop calibrate` wrote (fitting is the slow part: the tests share
    it, and change copies)."""
    result, out = calibrated
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def fitted(library, written) -> tuple[list[Pair], Any]:
    """The pairs, and the shared calibration as `analyze` reads it."""
    return _pairs(library), load_calibration(written)


def test_the_environment_names_the_calibration(library, written, env, monkeypatch) -> None:
    out = written
    monkeypatch.setenv("SONGPOP_CALIBRATION", str(out))
    result = runner.invoke(app, ["analyze", str(library["files"][0])])
    assert result.exit_code == 0, result.output
    assert "calibrated" in result.output and out.name in " ".join(result.output.split())


def _pairs(library: dict, n: int = N_SONGS) -> list[Pair]:
    truth = library["truth"]
    return [
        Pair(str(f), song_inputs(d), {k: float(truth[k][i]) for k in truth}, "catalogue:test")
        for i, (f, d) in enumerate(zip(library["files"][:n], library["descriptors"][:n],
                                       strict=True))
    ]  # fmt: skip


def test_too_few_pairs_are_refused_saying_how_many(library, env, tmp_path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, f in enumerate(library["files"][: MIN_PAIRS + 1]):
        if i < 5:  # only five keep their tags
            shutil.copy(f, folder / f.name)
        else:  # the others: their first four seconds, written without tags (quicker to analyse)
            data, rate = A.read(f)
            A.write(folder / f.name, data[: 4 * rate], rate, format="FLAC")
    out = tmp_path / "c.json"
    result = runner.invoke(app, ["calibrate", str(folder), "--out", str(out)])
    assert result.exit_code != 0 and not out.exists()
    text = " ".join(result.output.split())
    assert f"5 pair(s) found among {MIN_PAIRS + 1} audio file(s)" in text
    assert "16 no title and artist tags" in text and f"at least {MIN_PAIRS}" in text
    few = tmp_path / "few"
    few.mkdir()
    shutil.copy(library["files"][0], few)
    result = runner.invoke(app, ["calibrate", str(few), "--out", str(out)])
    assert result.exit_code != 0 and "1 audio file(s)" in result.output
    with pytest.raises(CalibrationError, match=f"3 pairs found; .* at least {MIN_PAIRS}"):
        fit_calibration(_pairs(library, 3), "catalogue")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d.update(version=99), "version: expected 1"),
        (lambda d: d.update(format="other"), "format: expected"),
        (lambda d: d["features"]["energy"]["model"].update(kind="pickle"), "energy.model.kind"),
        (
            lambda d: d["features"]["loudness"]["model"].update(input="os.system"),
            "loudness.model.input",
        ),
        (lambda d: d["features"].update(popularity=d["features"]["energy"]), "features.popularity"),
        (lambda d: d["features"]["energy"]["held_out"].update(r2="high"), "energy.held_out"),
        (
            lambda d: d["features"]["energy"].update(model=_tree_model(left=[5, -1, -1])),
            "children after their parent",
        ),
    ],
)
def test_a_damaged_file_is_one_line_naming_the_field(
    library, written, env, tmp_path, change, said: str
) -> None:
    doc = json.loads(written.read_text())
    good = tmp_path / "good.json"  # the same file with a tree mapping reads well
    good.write_text(json.dumps(doc | {"features": doc["features"] | {
        "energy": doc["features"]["energy"] | {"model": _tree_model()}}}))  # fmt: skip
    assert load_calibration(good).mappings["energy"].model["kind"] == "trees"
    change(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match=said):
        load_calibration(bad)
    result = runner.invoke(app, ["analyze", str(library["files"][0]), "--calibration", str(bad)])
    assert (
        result.exit_code != 0
        and str(bad) in result.output
        and said.split(":")[0] in (result.output.replace("\n", ""))
    )


def _tree_model(left: list[int] | None = None) -> dict:
    tree = {"left": left or [1, -1, -1], "right": [2, -1, -1], "feature": [0, -2, -2],
            "threshold": [1.0, 0, 0], "value": [0.0, -0.1, 0.1]}  # fmt: skip
    return {"kind": "trees", "inputs": ["spectral_flux"], "fill": [1.0], "init": 0.5,
            "learning_rate": 0.1, "trees": [tree]}  # fmt: skip


def test_tree_mappings_read_back_as_fitted(library) -> None:
    """The gradient-boosted mapping, written out node by node, predicts what scikit-learn's
    fitted model predicts."""
    from sklearn.ensemble import GradientBoostingRegressor

    from songpop.audio.calibrate import TREES, _fit, _tree_inputs, predict

    pairs = _pairs(library)
    names = sorted({n for p in pairs for n in p.inputs})
    X = {n: np.array([p.inputs.get(n, math.nan) for p in pairs]) for n in names}
    y = np.array([p.truth["energy"] for p in pairs])
    model = _fit({"kind": "trees"}, X, y, "energy")
    M = np.column_stack([X[n] for n in _tree_inputs("energy")])
    M = np.where(np.isfinite(M), M, np.asarray(model["fill"]))
    reference = GradientBoostingRegressor(**TREES, random_state=0).fit(M, y).predict(M)
    assert np.allclose(predict(model, X), reference, atol=1e-9)


def test_nothing_is_written_when_the_file_would_not_read_back(fitted, tmp_path) -> None:
    pairs, calibration = fitted
    fitted = copy.deepcopy(calibration)
    fitted.mappings["energy"].model = {**fitted.mappings["energy"].model, "kind": "unknown"}
    out = tmp_path / "c.json"
    with pytest.raises(CalibrationError):
        write_calibration(fitted, pairs, out)
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))
    fitted = copy.deepcopy(calibration)
    fitted.mappings["loudness"].model = {"kind": "linear", "input": "loudness_lufs",
                                         "slope": math.nan, "intercept": 0.0}  # fmt: skip
    with pytest.raises(CalibrationError):
        write_calibration(fitted, pairs, out)
    assert not out.exists()

"""Behaviour of the audio analysis on real rendered music and speech: what must move which way.

The songs are rendered by fluidsynth from the MIDI of openttd-openmsx and from songs written
with pretty_midi (tests/audio_support.py); speech is espeak-ng's.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

import audio_support as A
from songpop.audio import analyze

missing = A.missing_tools()
pytestmark = pytest.mark.skipif(bool(missing), reason=f"audio renderers missing: {missing}")

MUSIC = ("moo_redfarn", "city_blues_redfarn", "harp_harmony", "relax_song")


@functools.cache
def features(path: Path) -> dict:
    """The analysis's features of one file, once per test process: several tests compare the
    same rendered songs (analysis is deterministic, and the tests only read the values)."""
    return analyze(path).features


def value(path: Path, name: str) -> float:
    return features(path)[name].value


@pytest.fixture(scope="module")
def music() -> dict[str, object]:
    return {m: A.render_midi(A.OPENMSX / f"{m}.mid") for m in MUSIC}


def test_speech_is_wordier_than_any_rendered_music(music) -> None:
    speech = value(A.speak(A.SPEECH, "speech-en.wav"), "speechiness")
    programs = [A.song(f"prog{p}", program=p, drums=False, tempo=100)[0] for p in (0, 24, 81, 30)]
    for path in [*music.values(), *programs]:
        assert speech > value(path, "speechiness"), path


def test_acoustic_programs_are_more_acoustic_than_synth_and_distortion() -> None:
    # the same notes on four General MIDI programs
    acoustic = [A.song(f"prog{p}", program=p, drums=False, tempo=100)[0] for p in (0, 24)]
    electric = [A.song(f"prog{p}", program=p, drums=False, tempo=100)[0] for p in (81, 30)]
    lowest_acoustic = min(value(p, "acousticness") for p in acoustic)
    highest_electric = max(value(p, "acousticness") for p in electric)
    assert lowest_acoustic > highest_electric


def test_four_on_the_floor_is_more_danceable_than_rubato() -> None:
    four, _ = A.song("four", tempo=120, drums=True, program=0)
    rubato, _ = A.song("rubato", tempo=90, drums=False, rubato=True, program=0)
    assert value(four, "danceability") > value(rubato, "danceability")


def test_twenty_db_quieter_is_quieter_and_less_energetic(music) -> None:
    loud = features(music["moo_redfarn"])
    quiet = features(A.scaled(music["moo_redfarn"], -20.0, "moo-20.wav"))
    assert quiet["loudness"].value == pytest.approx(loud["loudness"].value - 20.0, abs=0.2)
    assert quiet["energy"].value < loud["energy"].value
    # nothing else about the song changed
    assert quiet["tempo"].value == loud["tempo"].value and quiet["key"].value == loud["key"].value


@pytest.mark.parametrize("name", MUSIC)
def test_a_voice_over_the_music_lowers_instrumentalness(music, name: str) -> None:
    plain = value(music[name], "instrumentalness")
    sung = value(A.with_voice(music[name], f"{name}-voice.wav"), "instrumentalness")
    assert plain > sung


def test_a_generated_song_s_tempo_and_key_are_found() -> None:
    path, truth = A.song("gen-e-minor", tempo=110, tonic=4, mode=0, program=48, seed=5)
    f = analyze(path).features
    assert f["tempo"].value == pytest.approx(truth.tempo, rel=0.02)
    assert (f["key"].value, f["mode"].value) == (truth.tonic, truth.mode)


def test_analysis_does_not_depend_on_the_container(tmp_path, music) -> None:
    """The same song as WAV and as FLAC gives the same measured features."""
    flac = A.convert(music["relax_song"], "relax_song.flac", format="FLAC")
    a, b = features(music["relax_song"]), features(flac)
    for name in ("tempo", "key", "mode", "duration_ms"):
        assert a[name].value == b[name].value, name
    assert a["loudness"].value == pytest.approx(b["loudness"].value, abs=0.05)

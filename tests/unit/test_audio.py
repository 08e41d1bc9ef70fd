"""Audio analysis on small synthetic signals: decoding every format, rate, channel layout and
sample type; the loudness scale; tags in every encoding; the estimate mappings; bad files."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songpop import vocabulary
from songpop.audio import analyze, is_audio_path
from songpop.audio.decode import RATE, decode
from songpop.audio.estimate import ESTIMATES, Term, estimate_one
from songpop.audio.tags import read_tags
from songpop.errors import AudioError, NotAudioError


def tone(seconds: float, rate: int, db: float = -20.0, hz: float = 997.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (10 ** (db / 20) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def clicks(bpm: float, seconds: float, rate: int = 44_100) -> np.ndarray:
    """A click track: a 10 ms decaying noise burst on every beat."""
    rng = np.random.default_rng(0)
    out = np.zeros(int(seconds * rate), np.float32)
    burst = rng.normal(0, 0.5, int(0.01 * rate)) * np.exp(-np.linspace(0, 6, int(0.01 * rate)))
    step = 60.0 / bpm * rate
    for k in range(int(len(out) / step)):
        start = int(round(k * step))
        out[start : start + len(burst)] += burst[: len(out) - start]
    return out


@pytest.mark.parametrize(
    ("name", "fmt", "subtype", "rate", "channels"),
    [
        ("a.wav", "WAV", "PCM_U8", 8_000, 1),
        ("b.wav", "WAV", "PCM_24", 96_000, 2),
        ("c.wav", "WAV", "FLOAT", 192_000, 1),
        ("d.flac", "FLAC", "PCM_16", 44_100, 2),
        ("e.ogg", "OGG", "VORBIS", 48_000, 2),
        ("f.opus", "OGG", "OPUS", 48_000, 1),
        ("g.mp3", "MP3", "MPEG_LAYER_III", 44_100, 2),
        ("h.wav", "WAV", "PCM_32", 22_050, 6),
    ],
)
def test_decode_reads_every_format_rate_and_layout(
    tmp_path: Path, name: str, fmt: str, subtype: str, rate: int, channels: int
) -> None:
    signal = np.repeat(tone(3.0, rate)[:, None], channels, axis=1)
    path = tmp_path / name
    sf.write(str(path), signal, rate, format=fmt, subtype=subtype)
    decoded = decode(path)
    assert decoded.rate == RATE and decoded.samples.shape[1] == 2
    assert decoded.source_rate == rate and decoded.channels == channels
    # lossy codecs pad a little at the ends
    assert decoded.seconds == pytest.approx(3.0, abs=0.08)
    assert decoded.samples.dtype == np.float32


def test_five_one_is_folded_to_stereo_without_the_lfe(tmp_path: Path) -> None:
    rate = 48_000
    signal = np.zeros((rate * 3, 6), np.float32)
    signal[:, 3] = tone(3.0, rate, db=-6)  # LFE only
    signal[:, 0] = tone(3.0, rate, db=-20)  # left only
    path = tmp_path / "surround.wav"
    sf.write(str(path), signal, rate)
    decoded = decode(path)
    left, right = np.abs(decoded.samples).max(axis=0)
    assert left == pytest.approx(0.1, rel=0.05) and right < 1e-3


def test_loudness_is_integrated_lufs_on_spotify_s_db_scale(tmp_path: Path) -> None:
    # a 997 Hz sine at -20 dBFS peak in one channel is -23.0 LUFS (ITU-R BS.1770: -3.01 + -20)
    path = tmp_path / "sine.flac"
    sf.write(str(path), tone(10.0, 48_000), 48_000)
    song = analyze(path)
    loud = song.features["loudness"]
    assert loud.source == "measured" and loud.value == pytest.approx(-23.0, abs=0.3)
    assert "BS.1770" in loud.note
    # the same signal 10 dB quieter is 10 dB lower
    sf.write(str(path), tone(10.0, 48_000, db=-30), 48_000)
    assert analyze(path).features["loudness"].value == pytest.approx(-33.0, abs=0.3)


@pytest.mark.parametrize("bpm", [90.0, 128.0, 150.0])
def test_tempo_of_a_click_track(tmp_path: Path, bpm: float) -> None:
    path = tmp_path / "clicks.wav"
    sf.write(str(path), clicks(bpm, 30.0), 44_100)
    tempo = analyze(path).features["tempo"]
    assert tempo.source == "measured"
    assert tempo.value == pytest.approx(bpm, rel=0.02)


def test_digital_silence_reports_unknown_not_invented(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(44_100 * 5, np.float32), 44_100)
    song = analyze(path)
    f = song.features
    assert song.audio["silent"] is True
    assert f["tempo"].value is None and f["tempo"].source == "unknown"
    assert f["key"].value == -1  # Spotify's "no key detected"
    assert f["mode"].value is None and f["loudness"].value is None
    assert f["time_signature"].source == "default" and f["time_signature"].value == 4
    assert all(f[n].value is None for n in vocabulary.ESTIMATED_FEATURES)
    assert f["duration_ms"].value == 5000


def test_every_estimate_is_marked_and_names_its_descriptors(tmp_path: Path) -> None:
    path = tmp_path / "clicks.wav"
    sf.write(str(path), clicks(120.0, 20.0), 44_100)
    song = analyze(path)
    for name in vocabulary.ESTIMATED_FEATURES:
        value = song.features[name]
        assert value.source == "estimated", name
        assert value.basis and set(value.basis) <= set(song.descriptors), name
        assert 0.0 <= value.value <= 1.0
    for name in ("duration_ms", "loudness", "tempo"):
        assert song.features[name].source == "measured"
    assert set(song.features) == {
        n for n, f in vocabulary.FEATURES.items() if f.from_audio is not None
    }


def test_estimate_mapping_is_the_documented_formula() -> None:
    mapping = ESTIMATES["energy"]
    at_centre = {t.descriptor: t.centre for t in mapping.terms}
    assert estimate_one(mapping, at_centre).value == pytest.approx(mapping.at_centre, abs=1e-3)
    # one scale up on the loudness term moves the log-odds by exactly its weight
    term = next(t for t in mapping.terms if t.descriptor == "loudness_lufs")
    up = dict(at_centre, loudness_lufs=term.centre + term.scale)
    p0, p1 = mapping.at_centre, estimate_one(mapping, up).value
    assert math.log(p1 / (1 - p1)) - math.log(p0 / (1 - p0)) == pytest.approx(term.weight, 1e-3)
    # a missing descriptor drops its term; none at all gives no estimate
    partial = estimate_one(mapping, {"loudness_lufs": term.centre})
    assert partial.basis == ("loudness_lufs",)
    assert estimate_one(mapping, {}).value is None
    assert isinstance(mapping.terms[0], Term)


# --- bad input: each names the file and what was expected ----------------------------------


def _refused(path: Path, kind: type[AudioError], *words: str) -> str:
    with pytest.raises(kind) as info:
        analyze(path)
    message = str(info.value)
    assert str(path) in message
    for w in words:
        assert w in message, message
    return message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    _refused(path, NotAudioError, "empty", "expected an audio file")


def test_text_file_named_mp3(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("these are my lyrics, not a song\n" * 50)
    _refused(path, NotAudioError, "not audio", "expected an audio file")


def test_truncated_mp3_is_refused_or_read_as_far_as_it_goes(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp3"
    sf.write(str(whole), np.repeat(clicks(120, 20.0)[:, None], 2, axis=1), 44_100, format="MP3")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    try:
        song = analyze(cut)
    except AudioError as exc:  # a decoder that gives up must say so, naming the file
        assert str(cut) in str(exc)
    else:  # libsndfile's mpg123 reads the frames that are there: about half the song
        assert 7_000 < song.features["duration_ms"].value < 13_000


def test_fifty_milliseconds_is_too_short(tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    sf.write(str(path), tone(0.05, 44_100), 44_100)
    _refused(path, AudioError, "0.05 s", "at least 2 s")


def test_over_the_length_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.flac"
    sf.write(str(path), tone(12.0, 8_000), 8_000)
    with pytest.raises(AudioError, match=r"long\.flac: 0\.2 minutes long; songpop analyses at"):
        analyze(path, max_seconds=10.0)


def test_missing_path_and_folder(tmp_path: Path) -> None:
    _refused(tmp_path / "nowhere.wav", AudioError, "file not found")
    folder = tmp_path / "songs.wav"
    folder.mkdir()
    _refused(folder, AudioError, "not a file")


def test_non_ascii_file_name(tmp_path: Path) -> None:
    path = tmp_path / "Beyoncé – 夜に駆ける (ライブ).flac"
    sf.write(str(path), clicks(100, 6.0), 44_100)
    assert analyze(path).path == str(path)


def test_m4a_without_ffmpeg_says_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 64)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _refused(path, AudioError, "need ffmpeg", "apt-get install ffmpeg")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_m4a_through_ffmpeg(tmp_path: Path) -> None:
    import subprocess

    wav = tmp_path / "src.wav"
    sf.write(str(wav), clicks(110, 8.0), 44_100)
    m4a = tmp_path / "song.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    song = analyze(m4a)
    assert song.audio["format"] == "ffmpeg m4a"
    assert song.features["duration_ms"].value == pytest.approx(8000, abs=100)


# --- tags ----------------------------------------------------------------------------------


def _mp3(tmp_path: Path, name: str = "tagged.mp3") -> Path:
    path = tmp_path / name
    sf.write(str(path), np.repeat(clicks(120, 4.0)[:, None], 2, axis=1), 44_100, format="MP3")
    return path


@pytest.mark.parametrize("encoding", [0, 1, 3])  # latin-1, UTF-16, UTF-8
def test_id3_tags_in_every_encoding(tmp_path: Path, encoding: int) -> None:
    from mutagen.id3 import ID3, TALB, TDRC, TIT2, TPE1, TSRC

    path = _mp3(tmp_path)
    tags = ID3()
    title = "Café del Mar" if encoding == 0 else "夜に駆ける"
    tags.add(TIT2(encoding=encoding, text=title))
    tags.add(TPE1(encoding=encoding, text="Señor Ñandú"))
    tags.add(TALB(encoding=encoding, text="Álbum"))
    tags.add(TDRC(encoding=encoding, text="2019-05-03"))
    tags.add(TSRC(encoding=encoding, text="USRC11900001"))
    tags.save(str(path))
    read = read_tags(path)
    assert (read.title, read.artist, read.album) == (title, "Señor Ñandú", "Álbum")
    assert read.year == 2019 and read.isrc == "USRC11900001"
    song = analyze(path)
    assert song.features["year"].value == 2019 and song.features["year"].source == "tags"
    assert song.features["decade"].value == 2010
    assert song.record()["title"] == title


def test_vorbis_comments_and_missing_tags(tmp_path: Path) -> None:
    path = tmp_path / "song.flac"
    sf.write(str(path), clicks(100, 4.0), 44_100)
    bare = read_tags(path)
    assert bare.title is None and bare.year is None and bare.duration_s == pytest.approx(4.0)
    assert analyze(path).features["year"].source == "unknown"
    from mutagen.flac import FLAC

    f = FLAC(str(path))
    f["title"], f["artist"], f["date"] = "Ünïcödé", "Band", "1987"
    f.save()
    read = read_tags(path)
    assert (read.title, read.artist, read.year) == ("Ünïcödé", "Band", 1987)


def test_is_audio_path() -> None:
    assert is_audio_path("a/Song.MP3") and is_audio_path("x.opus") and is_audio_path("y.m4a")
    assert not is_audio_path("tracks.csv") and not is_audio_path("model.pkl")


def test_streamed_loudness_equals_pyloudnorm(tmp_path: Path) -> None:
    """songpop streams pyloudnorm's K-weighting filters and gates the blocks itself (to keep a
    long file's memory flat): the answer must be pyloudnorm's own."""
    import pyloudnorm

    from songpop.audio.describe import integrated_loudness

    rng = np.random.default_rng(3)
    rate = 22_050
    quiet_then_loud = np.concatenate([tone(20.0, rate, db=-45), tone(40.0, rate, db=-12)])
    noise = rng.normal(0, 0.05, (rate * 50, 2)).astype(np.float32)
    for signal in (np.stack([quiet_then_loud, 0.5 * quiet_then_loud], axis=1), noise):
        expected = pyloudnorm.Meter(rate).integrated_loudness(signal.astype(np.float64))
        assert integrated_loudness(signal, rate, chunk_seconds=7) == pytest.approx(
            expected, abs=0.01
        )


def test_chunked_tempogram_equals_librosa_s_whole_one() -> None:
    import librosa

    from songpop.audio.describe import mean_tempogram

    env = np.abs(np.random.default_rng(0).normal(size=9_000))
    whole = librosa.feature.tempogram(onset_envelope=env, sr=RATE, win_length=344).mean(axis=1)
    assert np.allclose(mean_tempogram(env, block=1_000)[:, 0], whole, atol=1e-12)

"""Excerpts of a song for an analysis service: up to three 30 s pieces as mono 16-bit WAV.

ReccoBeats' upload analysis hears only the first 30 s of a file of at most 5 MB (44.1 kHz
recommended), so a whole song is heard as excerpts from the start, the middle and two thirds
in (`plan`), each read again from the file at its own rate (the analysis signal is 22,050 Hz
and would lose the top octave), folded to mono, resampled to 44.1 kHz by soxr and written as
16-bit PCM WAV in memory: 30 s is 2.6 MB. A song shorter than those three places allow gets
fewer excerpts (never overlapping), and one shorter than 30 s is sent whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songpop.errors import AudioError

SECONDS = 30.0
"""What the service analyses of a file (its first 30 s)."""
RATE = 44_100
PLACES = (0.0, 1 / 2, 2 / 3)
"""Where excerpts start, as shares of the song: the start, the middle, two thirds in."""
MAX_BYTES = 5 * 1024 * 1024
"""The service's limit on one upload."""


@dataclass(frozen=True)
class Excerpt:
    """One piece of a song, ready to upload.

    Attributes:
        start: where it starts in the song, seconds.
        seconds: how long it is.
        wav: the mono 16-bit 44.1 kHz WAV file's bytes.
    """

    start: float
    seconds: float
    wav: bytes

    @property
    def digest(self) -> str:
        """sha256 of the WAV bytes: the cache key of the service's answer."""
        return hashlib.sha256(self.wav).hexdigest()


def plan(duration: float, seconds: float = SECONDS) -> list[tuple[float, float]]:
    """(start, length) of each excerpt of a song `duration` seconds long.

    Starts at `PLACES` of the song, moved earlier so that each fits, dropped when it would
    overlap one already kept: three for a song of 3 minutes or more, two from 1 minute, one
    (the whole song when shorter than `seconds`) below.
    """
    if duration <= seconds:
        return [(0.0, round(duration, 3))]
    kept: list[float] = []
    for share in PLACES:
        start = round(min(share * duration, duration - seconds), 3)
        if all(abs(start - k) >= seconds - 1e-6 for k in kept):
            kept.append(start)
    return [(s, seconds) for s in kept]


def cut(path: str | os.PathLike[str], duration: float) -> list[Excerpt]:
    """The excerpts of an audio file (see `plan`), as WAV bytes each under `MAX_BYTES`.

    Args:
        path: the audio file (already analysed, so known to be readable).
        duration: its length in seconds (`SongFeatures.audio["seconds"]`).

    Raises:
        AudioError: the file cannot be read again, or an excerpt would exceed the limit.
    """
    out = []
    for start, length in plan(duration):
        mono = _read_mono(Path(path), start, length)
        wav = _wav(mono)
        if len(wav) >= MAX_BYTES:  # cannot happen at 30 s (2.6 MB); a guard, not a rule
            raise AudioError(f"{path}: an excerpt of {length:g} s is {len(wav)} bytes, over the "
                             f"service's {MAX_BYTES} bytes")  # fmt: skip
        out.append(Excerpt(start, round(len(mono) / RATE, 3), wav))
    return out


def _read_mono(p: Path, start: float, length: float) -> np.ndarray:
    """`length` seconds of the file from `start`, mono float32 at `RATE`."""
    import soundfile as sf

    try:
        handle = sf.SoundFile(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _read_ffmpeg(p, start, length)
    with handle:
        rate = int(handle.samplerate)
        try:
            handle.seek(int(start * rate))
            data = handle.read(int(round(length * rate)), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{p}: cannot read the excerpt at {start:.1f} s ({exc})") from None
    mono = data.mean(axis=1, dtype=np.float32)
    if rate != RATE:
        import soxr

        mono = soxr.resample(mono, rate, RATE).astype(np.float32)
    return mono


def _read_ffmpeg(p: Path, start: float, length: float) -> np.ndarray:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(f"{p}: {p.suffix} files need ffmpeg, which is not installed")
    cmd = [
        ffmpeg, "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-t", f"{length:.3f}",
        "-i", str(p), "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    if done.returncode != 0 or not done.stdout:
        raise AudioError(f"{p}: ffmpeg could not cut the excerpt at {start:.1f} s")
    return np.frombuffer(done.stdout, dtype="<f4").copy()


def _wav(mono: np.ndarray) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(mono, -1.0, 1.0), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()

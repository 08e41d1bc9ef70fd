"""Decode an audio file into the signal songpop analyses: stereo float32 at 22,050 Hz.

libsndfile (through soundfile) reads WAV, FLAC, MP3, Ogg Vorbis and Opus, AIFF and more without
ffmpeg; m4a/AAC (and anything libsndfile refuses whose name says it is audio) goes through
Debian's `ffmpeg` when it is installed. Any sample rate and sample format is accepted; more than
two channels are folded to stereo (5.1 by the ITU-R BS.775 downmix), then everything is
resampled by soxr as it is read, block by block, so a long or high-rate file never sits in
memory at its original rate.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songpop.errors import AudioError, NotAudioError

RATE = 22_050
"""The analysis sample rate (Hz): librosa's default; 11 kHz of bandwidth is ample here."""
MIN_SECONDS = 2.0
"""Shorter files are refused: a tempo, a key or a loudness needs a few seconds of sound."""
MAX_SECONDS = 20 * 60.0
"""Longer files are refused (override with `max_seconds`): songs, not DJ mixes or albums."""
BLOCK_SECONDS = 10
FFMPEG_SUFFIXES = frozenset({".m4a", ".aac", ".mp4", ".m4b", ".alac", ".wma", ".webm", ".mka"})
"""Containers libsndfile does not read; decoded by ffmpeg when it is installed."""
AUDIO_SUFFIXES = (
    frozenset({".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc"})
    | FFMPEG_SUFFIXES
)
"""What songpop takes as an audio file by its name (the content is checked when read)."""
EXPECTED = "an audio file (mp3, wav, flac, ogg/opus; m4a/aac with ffmpeg installed)"
_DOWNMIX_51 = np.array(
    # L, R, C, LFE, Ls, Rs → L', R' (ITU-R BS.775; the LFE channel is left out)
    [[1.0, 0.0], [0.0, 1.0], [0.7071, 0.7071], [0.0, 0.0], [0.7071, 0.0], [0.0, 0.7071]],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Decoded:
    """A decoded file.

    Attributes:
        samples: (n, 2) float32 at `RATE` (a mono file is the same signal twice).
        rate: always `RATE`.
        source_rate: the file's sample rate (Hz).
        channels: the file's channel count.
        seconds: the file's duration.
        format: what read it and how it is stored ("FLAC PCM_16", "ffmpeg aac").
        mono_source: the file had one channel (loudness is then counted once, not twice).
    """

    samples: np.ndarray
    rate: int
    source_rate: int
    channels: int
    seconds: float
    format: str
    mono_source: bool

    @property
    def mono(self) -> np.ndarray:
        """The mid signal (mean of the two channels), float32."""
        return self.samples.mean(axis=1, dtype=np.float32)


def is_audio_path(path: str | os.PathLike[str]) -> bool:
    """Whether a path names an audio file by its suffix (its content is checked when read)."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def check_path(path: str | os.PathLike[str]) -> Path:
    """The path as a Path when it is a readable, non-empty file; an AudioError naming it else."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioError(f"{p}: file not found; expected {EXPECTED}") from None
    except OSError as exc:
        raise AudioError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if not p.is_file():
        raise AudioError(f"{p}: not a file; expected {EXPECTED}")
    if st.st_size == 0:
        raise NotAudioError(f"{p}: the file is empty (0 bytes); expected {EXPECTED}")
    if not os.access(p, os.R_OK):
        raise AudioError(f"{p}: permission denied (the file is not readable)")
    return p


def decode(
    path: str | os.PathLike[str],
    *,
    max_seconds: float = MAX_SECONDS,
    min_seconds: float = MIN_SECONDS,
) -> Decoded:
    """Read an audio file as stereo float32 at `RATE`.

    Args:
        path: the file.
        max_seconds: refuse longer files (checked before decoding when the header says).
        min_seconds: refuse shorter files.

    Returns:
        The decoded signal with what the file was.

    Raises:
        AudioError: naming the file and what was expected: missing, empty, not audio, damaged,
            too short or too long, or an m4a without ffmpeg.
    """
    p = check_path(path)
    import soundfile as sf

    try:
        handle = sf.SoundFile(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if p.suffix.lower() in FFMPEG_SUFFIXES:
            return _decode_ffmpeg(p, max_seconds=max_seconds, min_seconds=min_seconds)
        raise NotAudioError(
            f"{p}: not audio, or in a format libsndfile cannot read ({_reason(exc)}); "
            f"expected {EXPECTED}"
        ) from None
    with handle:
        rate, channels = int(handle.samplerate), int(handle.channels)
        frames = int(handle.frames) if handle.frames and handle.frames > 0 else 0
        if frames and frames / rate > max_seconds:
            raise AudioError(
                f"{p}: {frames / rate / 60:.1f} minutes long; songpop analyses at most "
                f"{max_seconds / 60:g} minutes"
            )
        fmt = f"{handle.format} {handle.subtype}"
        samples = _read_blocks(handle, p, rate, channels, max_seconds, frames)
    return _finish(p, samples, rate, channels, fmt, min_seconds)


def _read_blocks(
    handle: object, p: Path, rate: int, channels: int, max_seconds: float, frames: int
) -> np.ndarray:
    """Decode block by block, folding to stereo and resampling each block as it comes, into
    one array sized from the header (grown if the header was short)."""
    import soundfile as sf
    import soxr

    stream = soxr.ResampleStream(rate, RATE, 2, dtype="float32")
    out = np.empty((int(frames * RATE / rate) + RATE, 2), np.float32)
    filled = 0
    read = 0
    block = rate * BLOCK_SECONDS
    while True:
        try:
            data = handle.read(block, dtype="float32", always_2d=True)  # type: ignore[attr-defined]
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(
                f"{p}: damaged after {read / rate:.1f} s of audio ({_reason(exc)}); "
                f"expected {EXPECTED}"
            ) from None
        last = len(data) < block
        read += len(data)
        if read / rate > max_seconds:
            raise AudioError(
                f"{p}: longer than {max_seconds / 60:g} minutes; songpop analyses at most "
                f"{max_seconds / 60:g} minutes"
            )
        chunk = stream.resample_chunk(_stereo(data, channels), last=last)
        if filled + len(chunk) > len(out):
            out = np.concatenate([out[:filled], np.empty((len(chunk) + RATE * 60, 2), np.float32)])
        out[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
        if last:
            break
    return out[:filled]


def _stereo(data: np.ndarray, channels: int) -> np.ndarray:
    """(n, channels) → (n, 2) float32."""
    if channels == 1:
        return np.repeat(data, 2, axis=1)
    if channels == 2:
        return np.ascontiguousarray(data, dtype=np.float32)
    if channels == 6:
        return data @ _DOWNMIX_51
    mean = data.mean(axis=1, keepdims=True, dtype=np.float32)
    return np.repeat(mean, 2, axis=1)


def _decode_ffmpeg(p: Path, *, max_seconds: float, min_seconds: float) -> Decoded:
    """Decode through ffmpeg (m4a/AAC): it writes stereo float32 at `RATE` to a pipe."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            f"{p}: {p.suffix} files need ffmpeg, which is not installed "
            "(Debian/Ubuntu: apt-get install ffmpeg); or convert the file to wav, flac or mp3"
        )
    cmd = [
        ffmpeg, "-nostdin", "-v", "error", "-i", str(p), "-t", str(max_seconds + 1),
        "-vn", "-ac", "2", "-ar", str(RATE), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(f"{p}: ffmpeg took more than 10 minutes to decode it") from None
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioError(
            f"{p}: ffmpeg could not decode it ({reason[-1] if reason else 'no audio stream'}); "
            f"expected {EXPECTED}"
        )
    samples = np.frombuffer(done.stdout, dtype="<f4").reshape(-1, 2).copy()
    if len(samples) / RATE > max_seconds:
        raise AudioError(
            f"{p}: longer than {max_seconds / 60:g} minutes; songpop analyses at most "
            f"{max_seconds / 60:g} minutes"
        )
    return _finish(p, samples, RATE, 2, "ffmpeg " + p.suffix.lstrip("."), min_seconds)


def _finish(
    p: Path, samples: np.ndarray, rate: int, channels: int, fmt: str, min_seconds: float
) -> Decoded:
    seconds = len(samples) / RATE
    if seconds < min_seconds:
        raise AudioError(
            f"{p}: only {seconds:.2f} s of audio; songpop needs at least {min_seconds:g} s"
        )
    if not np.isfinite(samples).all():
        raise AudioError(f"{p}: the samples hold NaN or infinite values; expected {EXPECTED}")
    return Decoded(samples, RATE, rate, channels, seconds, fmt, channels == 1)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # libsndfile messages start with "Error opening '<path>': "; the path is said already
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    if "does not exist or is not a regular file" in text:
        return "no audio stream found in it"  # what libsndfile says when its decoders give up
    return text.rstrip(".")

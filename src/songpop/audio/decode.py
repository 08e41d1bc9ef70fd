"""Decode an audio file into the signal songpop analyses: stereo float32 at 22,050 Hz.

libsndfile (through soundfile) reads WAV, FLAC, MP3, Ogg Vorbis and Opus, AIFF and more without
ffmpeg; m4a/AAC (and anything libsndfile refuses whose name says it is audio) goes through
Debian's `ffmpeg` when it is installed. Any sample rate and sample format is accepted; more than
two channels are folded to stereo (5.1 by the ITU-R BS.775 downmix), then everything is
resampled by soxr as it is read, block by block, so a long or high-rate file never sits in
memory at its original rate.

A file is untrusted input: its header may claim any rate, channel count or length. Sample rates
outside `MIN_RATE`..`MAX_RATE` and more than `MAX_CHANNELS` channels are refused, and a file
never decodes to more than `DECODED_BYTES_PER_BYTE` bytes of signal per byte of file (whatever
its header says; a file whose header does not give its length is decoded until that limit), so
what an analysis costs stays in proportion to what was uploaded. Decoding stops between blocks
when the event in `CANCEL` is set (the API sets it when the client hangs up).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from contextvars import ContextVar
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
BLOCK_BYTES = 64 * 1024 * 1024
"""Largest block read at once (samples × channels × 4 bytes), whatever the header says."""
MIN_RATE = 8_000
"""Lower sample rates are refused: no music is stored below telephone quality, and a header
saying 1 Hz made 1,194 bytes of samples into a 20-minute song."""
MAX_RATE = 768_000
"""Higher sample rates are refused (studio files go up to 384 kHz, a few to 768 kHz)."""
MAX_CHANNELS = 32
DECODED_BYTES_PER_BYTE = 256
"""The most signal a file may decode to, per byte of file: the analysis signal takes 176,400
bytes a second (stereo float32 at 22,050 Hz), so this admits any file of at least 5.5 kbit/s
(Opus at 6 kbit/s, mp3 at 8 kbit/s; CD audio in FLAC is ~700 kbit/s) and bounds what an
upload of N bytes can cost to 256 × N bytes of signal."""
SIGNAL_BYTES_PER_SECOND = RATE * 2 * 4
CANCEL: ContextVar[threading.Event | None] = ContextVar("songpop_decode_cancel", default=None)
"""Set to an event in the thread that decodes: decoding stops (an AudioError) once it is set."""
_UNKNOWN_FRAMES = (1 << 63) - 1  # what libsndfile reports for a FLAC whose header has no length
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
        _check_header(p, rate, channels)
        frames = int(handle.frames) if handle.frames and handle.frames > 0 else 0
        frames = 0 if frames >= _UNKNOWN_FRAMES else frames  # no length in the header
        budget = budget_seconds(p.stat().st_size)
        if frames and frames / rate > max_seconds:
            raise AudioError(
                f"{p}: {frames / rate / 60:.1f} minutes long; songpop analyses at most "
                f"{max_seconds / 60:g} minutes"
            )
        if frames and frames / rate > budget:
            raise AudioError(
                f"{p}: its header says {_duration(frames / rate)} of audio in "
                f"{p.stat().st_size:,} bytes, more than the {DECODED_BYTES_PER_BYTE} decoded "
                "bytes per file byte songpop allows (a damaged or crafted header?)"
            )
        fmt = f"{handle.format} {handle.subtype}"
        samples = _read_blocks(handle, p, rate, channels, max_seconds, frames, budget)
    return _finish(p, samples, rate, channels, fmt, min_seconds)


def budget_seconds(size: int) -> float:
    """The longest signal a file of `size` bytes may decode to (`DECODED_BYTES_PER_BYTE`)."""
    return size * DECODED_BYTES_PER_BYTE / SIGNAL_BYTES_PER_SECOND


def _check_header(p: Path, rate: int, channels: int) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(
            f"{p}: sample rate {rate:,} Hz; songpop reads {MIN_RATE:,} to {MAX_RATE:,} Hz "
            "(a damaged or crafted header?)"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{p}: {channels} channels; songpop reads 1 to {MAX_CHANNELS}")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 90 else f"{seconds:.1f} s"


def _check_cancel(p: Path) -> None:
    event = CANCEL.get()
    if event is not None and event.is_set():
        raise AudioError(f"{p}: analysis cancelled")


def _read_blocks(
    handle: object,
    p: Path,
    rate: int,
    channels: int,
    max_seconds: float,
    frames: int,
    budget: float = float("inf"),
) -> np.ndarray:
    """Decode block by block, folding to stereo and resampling each block as it comes, into
    one array sized from the header (grown if the header was short), until the file ends,
    `max_seconds` or the file's decoding budget (`budget` seconds) is passed."""
    import soundfile as sf
    import soxr

    stream = soxr.ResampleStream(rate, RATE, 2, dtype="float32")
    out = np.empty((int(min(frames / rate, budget, max_seconds) * RATE) + RATE, 2), np.float32)
    filled = 0
    read = 0
    block = max(1, min(rate * BLOCK_SECONDS, BLOCK_BYTES // (4 * channels)))
    while True:
        _check_cancel(p)
        try:
            if frames:
                data = handle.read(block, dtype="float32", always_2d=True)  # type: ignore[attr-defined]
            else:
                data = _read_unknown_length(handle, block, channels)
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
        if read / rate > budget:
            raise AudioError(
                f"{p}: decodes to more than {_duration(budget)} of audio from "
                f"{p.stat().st_size:,} bytes, past the {DECODED_BYTES_PER_BYTE} decoded bytes "
                "per file byte songpop allows"
            )
        chunk = stream.resample_chunk(_stereo(data, channels), last=last)
        if filled + len(chunk) > len(out):
            out = np.concatenate([out[:filled], np.empty((len(chunk) + RATE * 60, 2), np.float32)])
        out[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
        if last:
            break
    return out[:filled]


def _read_unknown_length(handle: object, block: int, channels: int) -> np.ndarray:
    """The next `block` frames of a file whose header gives no length (a streamed FLAC).

    soundfile's `read` seeks after each block to keep its position, and libsndfile cannot
    seek in such a file; libsndfile's own read needs no seek.
    """
    import soundfile as sf

    out = np.empty((block, channels), np.float32)
    pointer = sf._ffi.cast("float *", out.__array_interface__["data"][0])
    got = sf._snd.sf_readf_float(handle._file, pointer, block)  # type: ignore[attr-defined]
    if got < 0:
        raise RuntimeError("libsndfile could not read a block")
    return out[:got]


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

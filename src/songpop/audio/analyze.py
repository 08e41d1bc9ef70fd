"""`analyze(path) -> SongFeatures`: an audio file's features, each with where it came from.

Measured (defined quantities, comparable to Spotify's): duration, tempo, key, mode, loudness and
time signature. Estimated (uncalibrated, `songpop.audio.estimate`): energy, danceability,
acousticness, instrumentalness, speechiness, liveness and valence. From the tags: year and
decade. Whatever cannot be known is None with a note (a silent file has no tempo or key), and a
time signature without a clear accent pattern is reported as the default 4, marked `default`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from songpop import vocabulary
from songpop.audio.decode import MAX_SECONDS, decode
from songpop.audio.describe import DESCRIPTORS, Description, describe, loudness_lufs
from songpop.audio.estimate import estimate
from songpop.audio.tags import Tags, read_tags
from songpop.audio.tempo import Level

if TYPE_CHECKING:
    from songpop.audio.calibrate import Calibration
    from songpop.audio.online import OnlineAnalysis

Source = Literal["measured", "estimated", "calibrated", "reccobeats", "tags", "default", "unknown"]
"""Where a value came from: measured (a defined quantity), estimated (songpop's uncalibrated
mapping), calibrated (a mapping fitted to real values, `songpop.audio.calibrate`), reccobeats
(the service's analysis of uploaded excerpts, `songpop.audio.online`), tags, default, unknown."""

METER_CONFIDENCE = 0.6
"""A bar length other than 4 is reported only above this accent-pattern margin; below it the
time signature is the default 4 (most popular music is in 4/4), marked as a default."""
KEY_CLARITY = 0.5
"""Below this correlation with the best key profile, no key is reported (Spotify's −1)."""
LOUDNESS_METHOD = (
    "integrated loudness per ITU-R BS.1770-4 (K-weighted, gated, via pyloudnorm) in LUFS, "
    "on the same dB-below-full-scale scale as Spotify's loudness (whose exact method is "
    "unpublished)"
)


@dataclass(frozen=True)
class Value:
    """One feature of a song from audio.

    Attributes:
        value: the number (None when it could not be known).
        source: "measured", "estimated", "tags", "default" (a stand-in, not a measurement) or
            "unknown".
        basis: the descriptors (or tag) it was made from.
        confidence: for key and time signature, how clear the evidence was (0-1).
        note: why a value is missing or a default, or how it was computed.
        spread: for a value averaged over excerpts (reccobeats), their standard deviation.
        error: for a calibrated value, the calibration's held-out mean absolute error.
    """

    value: float | None
    source: Source
    basis: tuple[str, ...] = ()
    confidence: float | None = None
    note: str | None = None
    spread: float | None = None
    error: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out: dict[str, Any] = {"value": self.value, "source": self.source}
        if self.basis:
            out["basis"] = list(self.basis)
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if self.note:
            out["note"] = self.note
        if self.spread is not None:
            out["spread"] = self.spread
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class SongFeatures:
    """What `analyze` found in one file.

    Attributes:
        path: the file analysed.
        features: feature name → Value, for every feature songpop can get from audio.
        descriptors: the raw descriptors (`songpop.audio.describe.DESCRIPTORS`).
        tags: the file's tags.
        audio: how the file was stored: format, sample rate, channels, seconds.
        online: what ReccoBeats said of the uploaded excerpts (`songpop.audio.online`), when
            asked and answered.
        calibration: the calibration file applied, and its pairs' count, when one was.
        notes: one line each about what did not go as asked (an upload that failed).
        tempo_levels: the tracked tempo's metrical candidates, scored by beat alignment and the
            catalogue's tempo prior (`songpop.audio.tempo`); the tempo is the best one's.
        tracked_tempo: the beat tracker's own tempo before the level was chosen, or None.
    """

    path: str
    features: dict[str, Value] = field(default_factory=dict)
    descriptors: dict[str, float] = field(default_factory=dict)
    tags: Tags = field(default_factory=Tags)
    audio: dict[str, Any] = field(default_factory=dict)
    online: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    tempo_levels: list[Level] = field(default_factory=list)
    tracked_tempo: float | None = None

    def record(self) -> dict[str, Any]:
        """The feature values as a prediction record (None where unknown), with the tags'
        title and artist as ids."""
        out: dict[str, Any] = {k: v.value for k, v in self.features.items()}
        if self.tags.title:
            out["title"] = self.tags.title
        if self.tags.artist:
            out["artist"] = self.tags.artist
        return out

    def sources(self) -> dict[str, str]:
        """Feature name → where its value came from."""
        return {k: v.source for k, v in self.features.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: file, audio, tags, features with their sources, descriptors, and what
        ReccoBeats said, the calibration and the notes when there are any."""
        out = {
            "file": self.path,
            "audio": self.audio,
            "tags": self.tags.to_dict(),
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "descriptors": {
                k: (round(v, 6) if math.isfinite(v) else None) for k, v in self.descriptors.items()
            },
        }
        if self.online is not None:
            out["reccobeats"] = self.online
        if self.calibration is not None:
            out["calibration"] = self.calibration
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def analyze(
    path: str | os.PathLike[str],
    *,
    max_seconds: float = MAX_SECONDS,
    calibration: Calibration | None = None,
    online: OnlineAnalysis | None = None,
) -> SongFeatures:
    """Analyse an audio file.

    Args:
        path: mp3, wav, flac, ogg/opus (libsndfile), or m4a/aac with ffmpeg installed.
        max_seconds: refuse files longer than this.
        calibration: fitted mappings (`songpop.audio.calibrate`) that replace the estimates
            (and map the loudness) where their held-out R² is high enough.
        online: ReccoBeats' upload analysis (`songpop.audio.online`), whose values replace
            the estimates; any failure leaves the local analysis with a note.

    Returns:
        Every feature songpop can get from audio, each with its source.

    Raises:
        AudioError: the file is missing, empty, not audio, damaged, too short or too long.
    """
    decoded = decode(path, max_seconds=max_seconds)
    audio = {
        "format": decoded.format,
        "sample_rate": decoded.source_rate,
        "channels": decoded.channels,
        "seconds": round(decoded.seconds, 3),
    }
    loudness, mono = loudness_lufs(decoded), decoded.mono
    del decoded  # the stereo signal is not needed past the loudness: half the memory
    description = describe(mono, loudness)
    audio["silent"] = description.silent
    tags = read_tags(path)
    song = SongFeatures(str(Path(path)), descriptors=dict(description.values), tags=tags,
                        audio=audio, tempo_levels=description.tempo_levels,
                        tracked_tempo=description.tracked_tempo)  # fmt: skip
    song.features = features_of(audio["seconds"], description, tags)
    if calibration is not None and not description.silent:
        calibration.apply(song)
    if online is not None and not description.silent:
        online.hear(song)
    return song


def features_of(seconds: float, d: Description, tags: Tags) -> dict[str, Value]:
    """The features, in vocabulary order, from the signal's duration, description and tags."""
    found = {**_measured(seconds, d), **_estimated(d), **_from_tags(tags)}
    order = [n for n, f in vocabulary.FEATURES.items() if f.from_audio is not None]
    return {n: found[n] for n in order}


def _measured(seconds: float, d: Description) -> dict[str, Value]:
    v = d.values
    silent = "the file is silent" if d.silent else None
    out = {
        "duration_ms": Value(round(seconds * 1000.0), "measured", ("decoded samples",)),
        "loudness": _loudness(v["loudness_lufs"], silent),
    }
    if d.tempo is None:
        out["tempo"] = Value(None, "unknown", note=silent or "no steady beat found")
    else:
        out["tempo"] = Value(round(d.tempo, 2), "measured", ("tempo_bpm",))
    clarity = v["key_clarity"]
    if d.key is None or not clarity >= KEY_CLARITY:
        why = silent or f"no clear key (profile correlation {_fmt(clarity)} < {KEY_CLARITY})"
        out["key"] = Value(-1, "measured", ("key_clarity",), _conf(clarity), why)
        out["mode"] = Value(None, "unknown", note=silent or "no key, so no mode")
    else:
        conf = _conf(v["key_margin"] * 10)
        out["key"] = Value(d.key[0], "measured", ("key_clarity", "key_margin"), conf)
        out["mode"] = Value(d.key[1], "measured", ("major_clarity",), conf)
    out["time_signature"] = _meter(d, silent)
    return out


def _loudness(lufs: float, silent: str | None) -> Value:
    low, high = vocabulary.FEATURES["loudness"].bounds
    if not math.isfinite(lufs):
        return Value(None, "unknown", note=silent or "too quiet to measure (below the gate)")
    value = round(min(max(lufs, low), high), 2)
    return Value(value, "measured", ("loudness_lufs",), note=LOUDNESS_METHOD)


def _meter(d: Description, silent: str | None) -> Value:
    conf = d.values["meter_confidence"]
    if d.meter is None:
        note = silent or "too few beats to hear a bar; 4/4 assumed"
        return Value(4, "default", note=note)
    if d.meter != 4 and not conf >= METER_CONFIDENCE:
        return Value(
            4, "default", ("meter_confidence",), _conf(conf),
            f"accents suggest {d.meter} beats a bar, but weakly ({_fmt(conf)} < "
            f"{METER_CONFIDENCE}); 4/4 assumed",
        )  # fmt: skip
    return Value(d.meter, "measured", ("meter_confidence",), _conf(conf))


def _estimated(d: Description) -> dict[str, Value]:
    out = {}
    for name, est in estimate(d.values).items():
        if est.value is None:
            why = "the file is silent" if d.silent else "no descriptor available"
            out[name] = Value(None, "unknown", note=why)
        else:
            out[name] = Value(est.value, "estimated", est.basis, note="uncalibrated estimate")
    return out


def _from_tags(tags: Tags) -> dict[str, Value]:
    if tags.year is None:
        note = "no date tag" if tags.problem is None else tags.problem
        return {
            "year": Value(None, "unknown", note=note),
            "decade": Value(None, "unknown", note=note),
        }
    return {
        "year": Value(tags.year, "tags", ("date",)),
        "decade": Value(tags.year // 10 * 10, "tags", ("date",)),
    }


def _conf(x: float) -> float | None:
    return round(min(max(float(x), 0.0), 1.0), 3) if math.isfinite(x) else None


def _fmt(x: float) -> str:
    return f"{x:.2f}" if math.isfinite(x) else "n/a"


__all__ = ["DESCRIPTORS", "SongFeatures", "Value", "analyze", "features_of"]

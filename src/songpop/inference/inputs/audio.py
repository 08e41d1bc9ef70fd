"""The audio input adapter: an analysed file (`songpop.audio.SongFeatures`) → a prediction with
the range its estimated values allow.

The point prediction scores the file's own values: measured ones, estimates, and for what is
unknown (a silent file's tempo, a year without a date tag) the typical value of the songs the
model was trained on, marked `default`. The **range** then asks how much of that answer rests on
estimates: the model's reference songs (`Bundle.reference_sample`, a seeded sample of its
training rows) closest to this file in what was measured (duration, loudness, tempo, and the
year when tagged; standardised) lend their values of every estimated or defaulted feature,
jointly, one neighbour at a time; the file is scored once per neighbour, and each level's range
is the 10th to 90th percentile of its probability over those scenarios. The band of each varied
feature is reported the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from songpop import vocabulary
from songpop.audio import analyze
from songpop.errors import SongpopError
from songpop.inference.core import predict
from songpop.inference.history import HISTORY, fill_history, needs_history
from songpop.inference.inputs.find import tagged_song
from songpop.inference.results import Prediction
from songpop.inference.scoring import predict_proba

if TYPE_CHECKING:
    from songpop.audio import SongFeatures
    from songpop.bundle import Bundle

NEIGHBOURS = 0.25
"""Share of the reference songs (at least `MIN_NEIGHBOURS`) that lend their estimated values."""
MIN_NEIGHBOURS = 20
QUANTILES = (0.10, 0.90)
CERTAIN = frozenset({"measured", "tags", "reccobeats"})
"""Sources that are not varied for the range (a `catalogue:<file>` value is real too, and so is
ReccoBeats' analysis of the file's excerpts, on Spotify's scale)."""


@dataclass
class AudioPrediction:
    """A prediction from an audio file.

    Attributes:
        prediction: the point prediction from the file's own values.
        sources: model feature → where its value came from (measured, estimated, tags,
            default).
        values: the values scored, model features only.
        range: level → (low, high) probability as the uncertain features move over their band;
            None when the model has no reference songs or nothing was uncertain.
        band: uncertain feature → (low, high) of the values tried.
        levels: level → share of the scenarios in which it is the most probable.
        scenarios: how many neighbour scenarios were scored.
        song: the analysis itself.
        known: the catalogue song the file's tags name, when there is one: the prediction then
            uses its real features (sources `catalogue:<file>`) and has no range.
    """

    prediction: Prediction
    sources: dict[str, str]
    values: dict[str, Any]
    range: dict[str, tuple[float, float]] | None = None
    band: dict[str, tuple[float, float]] = field(default_factory=dict)
    levels: dict[str, float] = field(default_factory=dict)
    scenarios: int = 0
    song: SongFeatures | None = None
    known: Any = None

    @property
    def uncertain(self) -> list[str]:
        """The model features whose values were estimated or stood in for."""
        return [
            k
            for k, s in self.sources.items()
            if s not in CERTAIN and not s.startswith("catalogue:")
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the prediction, the sources and values, the range, the analysis."""
        out = self.prediction.to_dict()
        out["sources"] = self.sources
        out["values"] = self.values
        out["range"] = (
            {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in self.range.items()}
            if self.range is not None
            else None
        )
        out["band"] = {k: [lo, hi] for k, (lo, hi) in self.band.items()}
        out["levels_over_range"] = self.levels
        out["scenarios"] = self.scenarios
        if self.song is not None:
            out["analysis"] = self.song.to_dict()
        out["known_song"] = self.known.to_dict() if self.known is not None else None
        return out


def model_values(song: SongFeatures, bundle: Bundle) -> tuple[dict[str, Any], dict[str, str]]:
    """The file's values of the model's features, and their sources; an unknown value becomes
    the training songs' median (or most common code), marked `default`."""
    reference = bundle.reference_sample()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in bundle.feature_names:
        found = song.features.get(name)
        if found is not None and found.value is not None:
            values[name] = found.value
            sources[name] = found.source
            continue
        values[name] = _typical(name, reference)
        sources[name] = "default"
    return values, sources


def _typical(name: str, reference: pd.DataFrame | None) -> float:
    spec = vocabulary.FEATURES.get(name)
    if reference is not None and name in reference.columns and reference[name].notna().any():
        col = reference[name].dropna()
        value = col.mode().iloc[0] if spec is not None and spec.integer else col.median()
        return int(value) if spec is not None and spec.integer else float(value)
    return spec.typical if spec is not None else 0.0


def predict_audio(
    song: SongFeatures,
    bundle: Bundle,
    *,
    explain: bool = False,
    catalogue: Any = None,
    similar: int = 0,
) -> AudioPrediction:
    """Predict from an analysed audio file, with the range its uncertain values allow.

    When `catalogue` is given and the file's tags name a song it holds, that song's real
    features are used instead (marked `catalogue:<file>`; no range: nothing was estimated).

    Args:
        song: `songpop.audio.analyze(path)`.
        bundle: the model.
        explain: also explain the point prediction.
        catalogue: the local catalogue (`inputs.lookup.load_catalogue`), or None to use the
            analysis only.
        similar: also give this many of the nearest training songs (`inference.predict`).

    Returns:
        The point prediction, the sources, and the range over the neighbours' values.
    """
    known = tagged_song(song.tags.title, song.tags.artist, catalogue)
    if known is not None:
        point = predict(known.record(), bundle, explain=explain, similar=similar)[0]
        values = {k: known.features.get(k) for k in bundle.feature_names}
        sources = {k: known.source for k in bundle.feature_names}
        return AudioPrediction(point, sources, values, song=song, known=known)
    values, sources = model_values(song, bundle)
    record = {**values, **{k: v for k, v in song.record().items() if k in ("title", "artist")}}
    if needs_history(bundle):  # the tagged artist's chart record before the year, not a default
        history = [k for k in bundle.feature_names if k in HISTORY]
        filled = fill_history([{k: v for k, v in record.items() if k not in history}], bundle)[0]
        for k in history:
            if filled.get(k) is not None:
                values[k] = record[k] = filled[k]
                sources[k] = "charts"
    point = predict(record, bundle, explain=explain, similar=similar)[0]
    out = AudioPrediction(point, sources, values, song=song)
    uncertain = out.uncertain
    reference = bundle.reference_sample()
    if not uncertain or reference is None or len(reference) == 0:
        return out
    lenders = _neighbours(values, sources, reference, bundle.feature_names)
    X = np.tile(
        np.array([float(values[k]) for k in bundle.feature_names], dtype=float),
        (len(lenders), 1),
    )
    for k in uncertain:
        if k in lenders.columns:
            X[:, bundle.feature_names.index(k)] = lenders[k].to_numpy(dtype=float)
    proba = predict_proba(bundle, X)
    lo, hi = QUANTILES
    column = {str(c): i for i, c in enumerate(bundle.classes)}
    out.range = {
        c: (
            float(np.quantile(proba[:, column[c]], lo)),
            float(np.quantile(proba[:, column[c]], hi)),
        )
        for c in bundle.levels
    }
    for c in bundle.levels:  # the point itself always lies inside its range
        p = point.probabilities[c]
        out.range[c] = (min(out.range[c][0], p), max(out.range[c][1], p))
    out.band = {
        k: (_round(k, lenders[k].quantile(lo)), _round(k, lenders[k].quantile(hi)))
        for k in uncertain
        if k in lenders.columns
    }
    top = proba.argmax(axis=1)
    out.levels = {c: round(float((top == column[c]).mean()), 3) for c in bundle.levels}
    out.scenarios = len(lenders)
    return out


def _neighbours(
    values: dict[str, Any],
    sources: dict[str, str],
    reference: pd.DataFrame,
    names: list[str],
) -> pd.DataFrame:
    """The reference songs nearest to the file in its certain, numeric features."""
    k = max(MIN_NEIGHBOURS, int(math.ceil(NEIGHBOURS * len(reference))))
    keys = [
        n
        for n in names
        if sources[n] in CERTAIN and n in reference.columns and not vocabulary.is_categorical(n)
    ]
    if not keys or k >= len(reference):
        return reference.reset_index(drop=True)
    ref = reference[keys].to_numpy(dtype=float)
    scale = np.nanstd(ref, axis=0)
    scale[~(scale > 0)] = 1.0
    here = np.array([float(values[n]) for n in keys])
    dist = np.sqrt(np.nansum(((ref - here) / scale) ** 2, axis=1))
    nearest = np.argsort(dist, kind="stable")[:k]
    return reference.iloc[nearest].reset_index(drop=True)


def _round(name: str, value: float) -> float:
    spec = vocabulary.FEATURES.get(name)
    if spec is not None and spec.integer:
        return int(round(value))
    return round(float(value), 4)


@dataclass(frozen=True)
class Failure:
    """A file that could not be analysed, with the reason (the batch goes on without it)."""

    file: str
    error: str


def analyze_files(
    paths: list[str], *, progress: Any = None, online: Any = None, calibration: Any = None
) -> tuple[list[SongFeatures], list[Failure]]:
    """Analyse several files; a file that fails is recorded, never stops the others.

    Args:
        paths: audio files.
        progress: called with (done, total, path) after each file, for a progress bar.
        online: `songpop.audio.online.OnlineAnalysis` to ask ReccoBeats (None: local only).
        calibration: `songpop.audio.calibrate.Calibration` to apply (None: the estimates).

    Returns:
        The analyses of the good files, in order, and the failures with their reasons.
    """

    songs: list[SongFeatures] = []
    failures: list[Failure] = []
    for i, path in enumerate(paths):
        try:
            songs.append(analyze(path, online=online, calibration=calibration))
        except SongpopError as exc:
            failures.append(Failure(str(path), str(exc)))
        if progress is not None:
            progress(i + 1, len(paths), path)
    return songs, failures


def analysis_table(songs: list[SongFeatures]) -> pd.DataFrame:
    """One row per file: the file, its tags, each feature's value and `<feature>_source`."""
    rows = []
    for song in songs:
        row: dict[str, Any] = {"file": song.path}
        for key in ("title", "artist", "album", "year", "isrc"):
            row[f"tag_{key}"] = getattr(song.tags, key)
        for name, value in song.features.items():
            row[name] = value.value
            row[f"{name}_source"] = value.source
        row["seconds"] = song.audio.get("seconds")
        rows.append(row)
    table = pd.DataFrame(rows)
    for name in vocabulary.KNOWN_FEATURES:
        if name in table.columns:
            table[name] = pd.to_numeric(table[name], errors="coerce")
            if vocabulary.is_integer(name):
                table[name] = table[name].astype("Int64")
    return table

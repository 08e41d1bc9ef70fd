"""Estimates of Spotify's unpublished audio features, from named descriptors.

Spotify never published how energy, danceability, acousticness, instrumentalness, speechiness,
liveness and valence are computed, and no public data pairs audio with Spotify's values: these
mappings are therefore **uncalibrated**. Each is declared below as a few terms, one per
descriptor of `songpop.audio.describe.DESCRIPTORS`:

    estimate = 1 / (1 + exp(-(logit(typical) + sum(weight * (descriptor - centre) / scale))))

A song whose descriptors sit at the centres gets the catalogue's typical value
(`songpop.vocabulary`: the median of the seed's charted tracks); each weight says which way a
descriptor moves the estimate and how strongly. The centres and scales are fixed constants,
read off songpop's rendered test audio (MIDI renders, speech, mixes of the two), not fitted to
Spotify's numbers. A descriptor that cannot be computed (no beat found) drops its term.
Predictions from audio vary these estimates over a plausible band (`songpop.inference.audio`),
so the uncertainty they carry is shown, not hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from songpop import vocabulary


@dataclass(frozen=True)
class Term:
    """One descriptor's push on an estimate: `weight * (value - centre) / scale`."""

    descriptor: str
    centre: float
    scale: float
    weight: float


@dataclass(frozen=True)
class Mapping:
    """How one feature is estimated: its terms, and the value at the centres."""

    feature: str
    terms: tuple[Term, ...]
    at_centre: float

    @property
    def descriptors(self) -> tuple[str, ...]:
        """The descriptors this estimate rests on."""
        return tuple(t.descriptor for t in self.terms)


# Voice evidence: a voice adds syllable-rate (2-8 Hz) modulation to the voice band and does not
# follow the beat, so the beat's share of the onsets falls. Speechiness and instrumentalness
# both read it, with opposite signs.
_VOICE = (
    Term("mod4hz", 0.60, 0.10, 1.0),
    Term("pulse_clarity", 0.40, 0.20, -0.8),
    Term("beat_strength", 5.0, 3.0, -0.8),
)

ESTIMATES: dict[str, Mapping] = {
    m.feature: m
    for m in (
        Mapping("energy", (
            Term("loudness_lufs", -14.0, 6.0, 1.2),
            Term("spectral_flux", 1.3, 0.5, 0.6),
            Term("onset_rate", 3.0, 2.0, 0.4),
            Term("flatness", 0.10, 0.10, 0.3),
        ), vocabulary.FEATURES["energy"].typical),
        Mapping("danceability", (
            Term("pulse_clarity", 0.40, 0.20, 1.0),
            Term("beat_strength", 5.0, 3.0, 0.4),
            Term("beat_regularity", 0.95, 0.03, 0.4),
            Term("tempo_distance_oct", 0.25, 0.20, -0.5),
        ), vocabulary.FEATURES["danceability"].typical),
        Mapping("acousticness", (
            Term("centroid_hz", 1000.0, 500.0, -1.0),
            Term("high_band_ratio", 0.01, 0.01, -0.7),
            Term("flatness", 0.10, 0.08, -0.5),
        ), vocabulary.FEATURES["acousticness"].typical),
        Mapping("instrumentalness", tuple(
            Term(t.descriptor, t.centre, t.scale, -t.weight) for t in _VOICE
        ), 0.5),
        Mapping("speechiness", (
            Term("key_clarity", 0.75, 0.15, -1.5),
            Term("low_energy_share", 0.20, 0.10, 0.5),
            *(Term(t.descriptor, t.centre, t.scale, 0.5 * t.weight) for t in _VOICE),
        ), vocabulary.FEATURES["speechiness"].typical),
        Mapping("liveness", (
            Term("noise_floor_flatness", 0.30, 0.15, 0.8),
            Term("dynamic_range_db", 12.0, 5.0, -0.3),
        ), vocabulary.FEATURES["liveness"].typical),
        Mapping("valence", (
            Term("major_clarity", 0.0, 0.15, 0.8),
            Term("tempo_bpm", 120.0, 30.0, 0.3),
            Term("centroid_hz", 1000.0, 600.0, 0.2),
            Term("spectral_flux", 1.3, 0.5, 0.3),
        ), vocabulary.FEATURES["valence"].typical),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """An estimated feature value with the descriptors it rests on (None: none was available)."""

    value: float | None
    basis: tuple[str, ...]


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


def estimate_one(mapping: Mapping, descriptors: dict[str, float]) -> Estimate:
    """One feature's estimate from the descriptors (NaN descriptors drop their terms)."""
    used = [t for t in mapping.terms if math.isfinite(descriptors.get(t.descriptor, math.nan))]
    if not used:
        return Estimate(None, ())
    score = _logit(mapping.at_centre) + sum(
        t.weight * (descriptors[t.descriptor] - t.centre) / t.scale for t in used
    )
    return Estimate(round(1 / (1 + math.exp(-score)), 4), tuple(t.descriptor for t in used))


def estimate(descriptors: dict[str, float]) -> dict[str, Estimate]:
    """Every estimated feature (`vocabulary.ESTIMATED_FEATURES`) from the descriptors."""
    return {name: estimate_one(ESTIMATES[name], descriptors) for name in ESTIMATES}

"""Every feature songpop knows, declared once.

A `Feature` says what a valid value is (kind and inclusive range), its unit, how people name it
and describe it, how a slider moves over it, how a higher or lower value is said in words, and a
typical value. Everything else reads this table: the source schemas and the clean step (ranges),
record and table validation (`songpop.inference.validate`), the API's song model, the CLI's
options, the web page's sliders, the explanation sentences and the report's axis labels.
`songpop.config` derives its feature tuples and range maps from here.

Importing this module does no work beyond building the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

Kind = Literal["number", "whole", "category"]
Group = Literal["audio", "context", "history"]
FromAudio = Literal["measured", "estimated", "tags"]

KEY_NAMES: tuple[str, ...] = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")


@dataclass(frozen=True)
class Feature:
    """One model input.

    Attributes:
        name: the column name (Spotify's where Spotify has one).
        kind: "number" (a quantity), "whole" (a whole-number quantity: years) or "category"
            (integer codes without an order: key, mode, time signature, explicit).
        low: the smallest valid value (inclusive).
        high: the largest valid value (inclusive).
        group: "audio" (the report's inputs), "context" (what a source may know besides) or
            "history" (the artist's Hot 100 record before the song's release year, filled from
            the weekly charts, never from the song's own chart run).
        label: the name people read ("Duration", "Time signature").
        description: one sentence on what the value means.
        unit: the unit of measure ("dB", "BPM", "ms"), or None.
        step: a slider's step on the web page.
        more: how a higher value is said ("louder"), None for categories.
        less: how a lower value is said ("quieter"), None for categories.
        typical: a typical song's value: the median of the seed's 13,659 charted Spotify tracks
            (rounded); for categories the most common code.
        from_audio: how songpop gets the value from an audio file (`songpop.audio`):
            "measured" (a defined quantity: duration, tempo, key, mode, loudness, metre),
            "estimated" (Spotify never published how it is made: an uncalibrated estimate from
            named audio descriptors), "tags" (the file's release date), None (not from audio).
    """

    name: str
    kind: Kind
    low: float
    high: float
    group: Group
    label: str
    description: str
    unit: str | None = None
    step: float = 0.01
    more: str | None = None
    less: str | None = None
    typical: float = 0.0
    from_audio: FromAudio | None = None

    @property
    def integer(self) -> bool:
        """Whether only whole numbers are valid (categories and whole-number quantities)."""
        return self.kind != "number"

    @property
    def categorical(self) -> bool:
        """Whether the values are codes without an order (one-hot encoded for models)."""
        return self.kind == "category"

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) as ints for integer features, floats otherwise."""
        if self.integer:
            return int(self.low), int(self.high)
        return float(self.low), float(self.high)

    def allowed(self) -> str:
        """The valid values with a unit of measure: "a number from -60 to 5 dB"."""
        kind = "an integer" if self.integer else "a number"
        text = f"{kind} from {number(self.low)} to {number(self.high)}"
        if self.unit and self.kind == "number":
            text += f" {self.unit}"
        return text

    def expected(self) -> str:
        """What a valid value is, in words, with what a code means: "an integer from -1 to 11
        (pitch class (0 = C, -1 = none))"."""
        if self.categorical and self.unit:
            return f"{self.allowed()} ({self.unit})"
        return self.allowed()

    def axis_label(self) -> str:
        """A chart axis label with the unit: "loudness (dB)", "key (pitch class)"."""
        if self.name == "key":
            return "key (pitch class)"
        if self.name == "duration_ms":
            return "duration (ms)"
        name = self.name.replace("_", " ")
        unit = self.unit if self.unit and self.unit != "year" else None
        if unit is None and self.kind == "number" and (self.low, self.high) == (0.0, 1.0):
            unit = "0-1"
        return f"{name} ({unit})" if unit else name

    def format(self, value: float) -> str:
        """A value for people: "3:25" for a duration, "-6.0 dB", "120 BPM", "the 1990s", "C♯"
        for key 1, "minor" for mode 0, "3/4" for a time signature of 3."""
        if math.isnan(value):
            return "unknown"
        if self.name == "duration_ms":
            seconds = int(round(value / 1000))
            return f"{seconds // 60}:{seconds % 60:02d}"
        if self.name == "loudness":
            return f"{value:.1f} dB"
        if self.name == "tempo":
            return f"{value:.0f} BPM"
        if self.name == "decade":
            return f"the {int(value)}s"
        if self.name == "artist_prior_best":
            return "none" if value > 100 else f"#{int(value)}"
        if self.name == "key":
            return key_name(value)
        if self.name == "mode":
            return "major" if int(value) == 1 else "minor"
        if self.name == "time_signature":
            return f"{int(value)}/4"
        if self.integer:
            return f"{int(value)}"
        return f"{value:.2f}"

    def category_words(self, value: float) -> str:
        """A category code in words: "in the key of D", "in a minor key", "in 3/4 time"."""
        v = int(value)
        if self.name == "key":
            return "no key detected" if v == -1 else f"in the key of {KEY_NAMES[v % 12]}"
        if self.name == "mode":
            return "in a major key" if v == 1 else "in a minor key"
        if self.name == "explicit":
            return "explicit lyrics" if v == 1 else "no explicit lyrics"
        if self.name == "time_signature":
            return f"in {v}/4 time"
        return f"{self.name} = {v}"


def key_name(key: float, mode: float | None = None) -> str:
    """A key as musicians name it: "C major", "F♯ minor", "C♯" without a mode, "no key" for
    Spotify's -1 (none detected)."""
    k = int(key)
    if k == -1:
        return "no key"
    name = KEY_NAMES[k % 12]
    if mode is None or (isinstance(mode, float) and math.isnan(mode)):
        return name
    return f"{name} {'major' if int(mode) == 1 else 'minor'}"


def number(value: float) -> str:
    """A bound as people write it: 0, 1, -60, 3600000, 0.5 (no exponent, no trailing .0)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _unit(name: str, low: float, high: float, **kw: object) -> Feature:
    """A 0-1 audio descriptor of Spotify's."""
    return Feature(name, "number", low, high, "audio", **kw)  # type: ignore[arg-type]


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        # --- audio: the report's ten numbers and key -------------------------------------------
        _unit(
            "acousticness", 0.0, 1.0, label="Acousticness",
            description="Confidence that the track is acoustic",
            more="more acoustic", less="less acoustic", typical=0.16, from_audio="estimated",
        ),
        _unit(
            "danceability", 0.0, 1.0, label="Danceability",
            description="How suitable the track is for dancing",
            more="more danceable", less="less danceable", typical=0.60, from_audio="estimated",
        ),
        _unit(
            "duration_ms", 1.0, 3_600_000.0, label="Duration", description="Length of the track",
            unit="ms", step=1000, more="longer", less="shorter", typical=225_000,
            from_audio="measured",
        ),
        _unit(
            "energy", 0.0, 1.0, label="Energy", description="Perceived intensity and activity",
            more="more energetic", less="less energetic", typical=0.64, from_audio="estimated",
        ),
        _unit(
            "instrumentalness", 0.0, 1.0, label="Instrumentalness",
            description="Likelihood that the track has no vocals",
            more="more instrumental", less="less instrumental", typical=0.0, from_audio="estimated",
        ),
        _unit(
            "liveness", 0.0, 1.0, label="Liveness",
            description="Likelihood that the track was recorded live",
            more="more live-sounding", less="less live-sounding", typical=0.13,
            from_audio="estimated",
        ),
        _unit(
            "loudness", -60.0, 5.0, label="Loudness", description="Average loudness", unit="dB",
            step=0.1, more="louder", less="quieter", typical=-8.2, from_audio="measured",
        ),
        _unit(
            "speechiness", 0.0, 1.0, label="Speechiness", description="Presence of spoken words",
            more="wordier", less="less wordy", typical=0.04, from_audio="estimated",
        ),
        _unit(
            "tempo", 0.0, 300.0, label="Tempo", description="Estimated tempo", unit="BPM",
            step=0.5, more="faster", less="slower", typical=119.0, from_audio="measured",
        ),
        _unit(
            "valence", 0.0, 1.0, label="Valence",
            description="Musical positiveness (happy, cheerful)",
            more="happier-sounding", less="sadder-sounding", typical=0.62, from_audio="estimated",
        ),
        Feature(
            "key", "category", -1, 11, "audio", label="Key",
            description="Pitch class of the key (0 = C, 1 = C♯ … 11 = B; −1 = no key detected)",
            unit="pitch class (0 = C, -1 = none)", step=1, typical=0,
            from_audio="measured",
        ),
        # --- context ----------------------------------------------------------------------------
        Feature(
            "year", "whole", 1900, 2100, "context", label="Year", description="Release year",
            unit="year", step=1, more="newer", less="older", typical=1992,
            from_audio="tags",
        ),
        Feature(
            "decade", "whole", 1900, 2100, "context", label="Decade",
            description="Release decade, as its first year (1990 = the 1990s)",
            unit="year", step=10, more="newer", less="older", typical=1990,
            from_audio="tags",
        ),
        Feature(
            "mode", "category", 0, 1, "context", label="Mode",
            description="Modality: 1 = major, 0 = minor", step=1, typical=1,
            from_audio="measured",
        ),
        Feature(
            "time_signature", "category", 0, 7, "context", label="Time signature",
            description="Estimated beats per bar", step=1, typical=4,
            from_audio="measured",
        ),
        Feature(
            "explicit", "category", 0, 1, "context", label="Explicit",
            description="Explicit lyrics: 1 = yes, 0 = no", step=1, typical=0,
        ),
        # --- the artist's chart history before the release year (chart-chance task) -----------
        Feature(
            "artist_prior_entries", "whole", 0, 5000, "history", label="Earlier Hot 100 entries",
            description="The primary artist's songs on the Hot 100 before the release year",
            unit="songs", step=1, more="more earlier hits", less="fewer earlier hits", typical=0,
        ),
        Feature(
            "artist_prior_weeks", "whole", 0, 100000, "history",
            label="Earlier weeks on the Hot 100",
            description="Weeks the primary artist's songs spent on the Hot 100 before the release "
            "year", unit="weeks", step=1, more="more earlier chart weeks",
            less="fewer earlier chart weeks", typical=0,
        ),
        Feature(
            "artist_prior_best", "whole", 1, 101, "history", label="Best earlier peak",
            description="The primary artist's best Hot 100 position before the release year "
            "(1 = a number one; 101 = no earlier entry)", unit="position", step=1,
            more="a lower best earlier peak", less="a higher best earlier peak", typical=101,
        ),
    )
}  # fmt: skip

AUDIO_FEATURES: tuple[str, ...] = tuple(n for n, f in FEATURES.items() if f.group == "audio")
CONTEXT_FEATURES: tuple[str, ...] = tuple(n for n, f in FEATURES.items() if f.group == "context")
HISTORY_FEATURES: tuple[str, ...] = tuple(n for n, f in FEATURES.items() if f.group == "history")
"""The artist's Hot 100 record strictly before the song's release year: knowable on release day,
so a feature (unlike the song's own chart columns); filled from the weekly charts by name."""
KNOWN_FEATURES: tuple[str, ...] = AUDIO_FEATURES + CONTEXT_FEATURES
"""A song's own features: what a track table, a lookup or an audio file can give."""
TIME_FEATURES: tuple[str, ...] = tuple(n for n, f in FEATURES.items() if f.unit == "year")
"""Context features that are calendar years: whole numbers, in years."""
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(n for n, f in FEATURES.items() if f.categorical)
MEASURED_FEATURES: tuple[str, ...] = tuple(
    n for n, f in FEATURES.items() if f.from_audio == "measured"
)
"""What songpop measures in an audio file: defined quantities, comparable to Spotify's."""
ESTIMATED_FEATURES: tuple[str, ...] = tuple(
    n for n, f in FEATURES.items() if f.from_audio == "estimated"
)
"""What songpop can only estimate from audio (uncalibrated against Spotify's values)."""


def feature(name: str) -> Feature | None:
    """The declaration of `name`, or None for a name songpop does not know."""
    return FEATURES.get(name)


def is_categorical(name: str) -> bool:
    """Whether `name` is a category code (key, mode, time signature, explicit)."""
    f = FEATURES.get(name)
    return f is not None and f.categorical


def is_integer(name: str) -> bool:
    """Whether only whole numbers are valid for `name` (categories, years, decades)."""
    f = FEATURES.get(name)
    return f is not None and f.integer


def expected(name: str) -> str:
    """What a valid value of `name` is, in words ("a number" for an unknown name)."""
    f = FEATURES.get(name)
    return f.expected() if f is not None else "a number"


def format_value(name: str, value: float) -> str:
    """A value of `name` for people, with its unit."""
    f = FEATURES.get(name)
    if f is None:
        return "unknown" if math.isnan(value) else f"{value:.2f}"
    return f.format(value)


def check_values(name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one range check of songpop: which known (non-NaN) values of `name` are invalid.

    Args:
        name: the feature (a name the vocabulary does not know has no range: only infinite
            values are out).
        values: float64 values; NaN marks a value judged elsewhere (missing, not a number).

    Returns:
        (out: outside the inclusive range; fraction: not a whole number where one is needed).
    """
    import numpy as np  # here, not at import: importing the vocabulary (and config) stays cheap

    known = ~np.isnan(values)
    spec = FEATURES.get(name)
    frac = np.zeros(len(values), dtype=bool)
    if spec is None:
        return known & np.isinf(values), frac
    with np.errstate(invalid="ignore"):
        out = known & ((values < spec.low) | (values > spec.high))
        if spec.integer:
            frac = known & ~out & (values != np.round(values))
    return out, frac


def axis_label(column: str) -> str:
    """A chart axis label for a feature or another column ("duration_mins" → "duration (min)")."""
    f = FEATURES.get(column)
    if f is not None:
        return f.axis_label()
    extra = {"duration_mins": "duration (min)", "popularity": "popularity (0-100)"}
    return extra.get(column, column.replace("_", " "))

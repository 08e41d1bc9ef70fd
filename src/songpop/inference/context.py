"""Where a prediction sits: similar songs, unusual values, and what the numbers mean.

Everything here reads what the bundle recorded about its training songs when it was saved
(`songpop.bundle.store`): nothing is fitted at prediction time.

- `similar_songs(bundle, X, k)`: the k training songs nearest to each row, in the bundle's
  standardised space: every numeric feature the model uses, in standard units of the training
  songs (z = (x − mean) / standard deviation); the categories (key, mode, time signature,
  explicit) are left out, since their codes have no distance. Euclidean distance. Each comes
  with what happened to it: peak position and weeks on the Billboard Hot 100, Spotify
  popularity, its class.
- `unusual(bundle, X)`: per row, the reasons to doubt the prediction: a value outside the range
  of the training songs, or a nearest training song farther away than 99% of training songs
  are from their own nearest neighbour (`bundle.store.NEAREST_QUANTILE`).
- `about(bundle)`: what each class means (which songs, years, score range), the accuracy
  measured on the held-out songs with its 95% interval, the dummy baseline and the majority
  rate, and the calibration table; `confidence_note(bundle, p)`: how often a prediction made
  with probability p was right on the held-out songs.
- `positions_svg(bundle, values)`: one small chart per numeric feature: each class's
  distribution among the training songs (box: middle half, whiskers: 5th to 95th percentile,
  tick: median) with the song's value marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from songpop import config, vocabulary
from songpop.bundle.store import standardise
from songpop.prepare.label import class_words

if TYPE_CHECKING:
    from songpop.bundle import Bundle

FEATURE_PREFIX = "f_"
"""The prefix of the feature columns in a bundle's songs table."""
MAX_SIMILAR = 50
RANGE_MARGIN = 0.01
"""How far past the training range (as a share of it) a value may go before it is called
outside: a rounding's worth is not a warning."""


@dataclass(frozen=True)
class SimilarSong:
    """A training song near the one predicted, and what happened to it.

    Attributes:
        title, artist: as the source spells them.
        year: its release year, or the first year of its decade (`decade` True), or None.
        peak: its best position on the Billboard Hot 100, None if it never charted.
        weeks: its weeks on the chart (0 if it never charted), None when unknown.
        popularity: its Spotify popularity (0-100), None when unknown.
        level: its class ("high", "hit", ...) and `words`, the same in plain words.
        distance: how far it is, in standard units (`similar_songs`).
    """

    title: str
    artist: str
    year: int | None
    decade: bool
    peak: int | None
    weeks: int | None
    popularity: float | None
    level: str
    words: str
    distance: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return asdict(self)

    def when(self) -> str:
        """ "1999", "the 1990s" or "year unknown"."""
        if self.year is None:
            return "year unknown"
        return f"the {self.year}s" if self.decade else str(self.year)

    def history(self) -> str:
        """What happened to it, e.g. "peak #5, 20 weeks on the Hot 100, popularity 71"."""
        parts = []
        if self.peak is not None:
            weeks = f", {self.weeks} weeks" if self.weeks is not None else ""
            parts.append(f"peak #{self.peak}{weeks} on the Hot 100")
        elif self.weeks is not None or self.level in ("hit", "not_hit"):
            parts.append("never on the Hot 100")
        if self.popularity is not None:
            parts.append(f"Spotify popularity {self.popularity:.0f}")
        parts.append(self.words)
        return ", ".join(parts)

    def line(self) -> str:
        """One line: title, artist, year and history."""
        return f"{self.title} by {self.artist} ({self.when()}): {self.history()}"


# --- the neighbour index ------------------------------------------------------------------------


@dataclass
class _Index:
    songs: pd.DataFrame
    names: list[str]
    tree: Any


def _index(bundle: Bundle) -> _Index | None:
    """The bundle's training songs and a k-d tree over their standardised features (cached)."""

    def make() -> _Index | None:
        songs = bundle.songs()
        scale = (bundle.reference or {}).get("scale") or {}
        if songs is None or not scale:
            return None
        names = [
            n for n in bundle.feature_names if n in scale and FEATURE_PREFIX + n in songs.columns
        ]
        if not names:
            return None
        from sklearn.neighbors import KDTree

        stored = songs[[FEATURE_PREFIX + n for n in names]].set_axis(names, axis=1)
        return _Index(songs, names, KDTree(standardise(stored, scale, names)))

    return bundle.derived("neighbours", make)


def _columns(bundle: Bundle, names: Sequence[str]) -> list[int]:
    return [list(bundle.feature_names).index(n) for n in names]


def _standard(bundle: Bundle, index: _Index, X: np.ndarray) -> np.ndarray:
    scale = bundle.reference["scale"]
    return standardise(np.asarray(X)[:, _columns(bundle, index.names)], scale, index.names)


def similar_songs(bundle: Bundle, X: np.ndarray, k: int) -> list[list[SimilarSong]]:
    """The `k` training songs nearest to each row of `X`, nearest first.

    Args:
        bundle: the model (saved with its training songs).
        X: valid rows, columns in `bundle.feature_names` order.
        k: how many songs per row (at most `MAX_SIMILAR`).

    Returns:
        One list per row; empty lists when the bundle has no songs table or k is 0.
    """
    index = _index(bundle)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    k = max(0, min(int(k), MAX_SIMILAR, len(index.songs) if index else 0))
    if index is None or k == 0:
        return [[] for _ in range(len(X))]
    distance, rows = index.tree.query(_standard(bundle, index, X), k=k)
    return [
        [_similar(index.songs, int(r), float(d)) for r, d in zip(rr, dd, strict=True)]
        for rr, dd in zip(rows, distance, strict=True)
    ]


def _similar(songs: pd.DataFrame, row: int, distance: float) -> SimilarSong:
    song = songs.iloc[row]

    def get(name: str) -> Any:
        value = song.get(name)
        return None if value is None or pd.isna(value) else value

    year, decade = get("year"), False
    if year is None and get("decade") is not None:
        year, decade = get("decade"), True
    peak = get("best_position")
    weeks = get("weeks_on_chart")
    popularity = get("popularity")
    level = str(song.get("level", ""))
    return SimilarSong(
        title=str(get("title") or "untitled"),
        artist=str(get("artist") or "unknown artist"),
        year=None if year is None else int(year),
        decade=decade,
        peak=None if peak is None else int(peak),
        weeks=None if weeks is None else int(weeks),
        popularity=None if popularity is None else float(popularity),
        level=level,
        words=class_words(level),
        distance=round(distance, 3),
    )


# --- unusual songs ------------------------------------------------------------------------------


def unusual(bundle: Bundle, X: np.ndarray) -> list[list[str]]:
    """Why each row may lie outside what the model learned from, in plain words.

    Two checks, both against the training songs: a numeric value below the smallest or above
    the largest training value (by more than `RANGE_MARGIN` of that range), and a nearest
    training song farther away (standard units) than the 99th percentile of the training
    songs' own nearest-neighbour distances.

    Returns:
        One list of warnings per row (empty: nothing unusual).
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    reference = bundle.reference or {}
    overall = (reference.get("percentiles") or {}).get("overall") or {}
    out: list[list[str]] = [[] for _ in range(len(X))]
    for j, name in enumerate(bundle.feature_names):
        values = overall.get(name)
        if not values:
            continue
        low, high = float(values[0]), float(values[-1])
        margin = RANGE_MARGIN * (high - low)
        spec = vocabulary.feature(name)
        label = spec.label.lower() if spec else name
        for i in np.flatnonzero((X[:, j] < low - margin) | (X[:, j] > high + margin)):
            out[i].append(
                f"{label} {vocabulary.format_value(name, X[i, j])} is outside the range of "
                f"the training songs ({vocabulary.format_value(name, low)} to "
                f"{vocabulary.format_value(name, high)})"
            )
    nearest = reference.get("nearest")
    index = _index(bundle)
    if nearest and index is not None and len(X):
        distance, _ = index.tree.query(_standard(bundle, index, X), k=1)
        limit = float(nearest["distance"])
        for i in np.flatnonzero(distance[:, 0] > limit):
            out[i].append(
                f"no training song is close: the nearest is {distance[i, 0]:.1f} standard "
                f"units away, farther than {nearest['quantile']:.0f}% of training songs are "
                f"from their own nearest neighbour ({limit:.1f})"
            )
    return out


# --- what the numbers mean ----------------------------------------------------------------------


def level_lines(bundle: Bundle) -> list[str]:
    """What each class means, one sentence each, e.g. "high popularity: the top third of the
    7,604 training songs by Spotify popularity (0-100), 62 to 94; released 1958-2020"."""
    meaning = bundle.meaning
    if not meaning:
        return [f"{class_words(c)} ({c})" for c in bundle.levels]
    n = len(meaning.get("classes", []))
    lines = []
    for position, entry in enumerate(meaning.get("classes", [])):
        share = f"{100 * entry['share']:.0f}% of the {meaning['n']:,} training songs"
        if meaning.get("score") and "score_min" in entry:
            part = _part(position, n)
            text = (
                f"{entry['words']}: the {part} by {meaning['score']}, "
                f"{_number(entry['score_min'])} to {_number(entry['score_max'])} ({share})"
            )
        else:
            text = f"{entry['words']}: {share} ({meaning['how']})"
        if entry.get("years"):
            first, last = entry["years"]
            text += f"; released {first}-{last}"
        lines.append(text)
    return lines


def _part(position: int, n: int) -> str:
    if n == 3:
        return ("bottom third", "middle third", "top third")[position]
    return f"{['first', 'second', 'third', 'fourth', 'fifth'][position]} of {n} equal parts"


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 10 else f"{value:.2f}"


def accuracy_line(bundle: Bundle) -> str | None:
    """The model's accuracy on its held-out songs, with the 95% interval, the dummy baseline
    and the majority rate, in one sentence; None when the bundle has no metrics."""
    m = bundle.metrics
    if m.get("accuracy") is None:
        return None
    text = f"right on {100 * m['accuracy']:.1f}% of held-out songs"
    low, high = m.get("accuracy_low"), m.get("accuracy_high")
    if low is None and m.get("accuracy_ci"):
        low, high = m["accuracy_ci"]
    if low is not None and high is not None:
        text += f" (95% interval {100 * low:.1f}-{100 * high:.1f}%)"
    baselines = []
    if m.get("dummy_accuracy") is not None:
        baselines.append(f"a guess that ignores the song: {100 * m['dummy_accuracy']:.1f}%")
    if m.get("majority_rate") is not None:
        baselines.append(f"the most common level alone: {100 * m['majority_rate']:.1f}%")
    if baselines:
        text += "; " + ", ".join(baselines)
    if m.get("macro_f1") is not None:
        text += f"; macro-F1 {m['macro_f1']:.3f}"
    return text


def confidence_note(bundle: Bundle, probability: float) -> str | None:
    """How often the model was right on held-out songs when it was about this sure, e.g.
    "when this model said 40-50%, it was right 47% of the time (312 held-out songs)"."""
    for b in bundle.metrics.get("calibration") or []:
        lower, upper = float(b["lower"]), float(b["upper"])
        inside = lower < probability <= upper or (lower == 0 and probability == 0)
        if inside and b.get("accuracy") is not None:
            return (
                f"when this model said {100 * lower:.0f}-{100 * upper:.0f}%, it was right "
                f"{100 * b['accuracy']:.0f}% of the time ({b['count']:,} held-out songs)"
            )
    return None


def model_title(bundle: Bundle) -> str:
    """The model in plain words, e.g. "Hit or not (Hit Predictor songs) · audio only · lgbm"."""
    task = config.TASK_TITLES.get(bundle.task or "", bundle.task or "model")
    features = config.FEATURE_SET_LABELS.get(bundle.feature_set, bundle.feature_set)
    return f"{task} · {features} · {bundle.model_id.rsplit('/', 1)[-1]}"


def about(bundle: Bundle) -> dict[str, Any]:
    """What a reader needs beside a prediction: the classes in plain words and what they mean,
    the measured accuracy, and the calibration table (JSON-safe)."""
    m = bundle.metrics
    return {
        "classes": {c: class_words(c) for c in bundle.levels},
        "levels": level_lines(bundle),
        "accuracy": accuracy_line(bundle),
        "calibration": [
            {
                "from": float(b["lower"]),
                "to": float(b["upper"]),
                "songs": int(b["count"]),
                "right": b.get("accuracy"),
            }
            for b in m.get("calibration") or []
        ],
    }


# --- where the song sits ------------------------------------------------------------------------

_W, _LEFT, _RIGHT, _ROW, _HEAD, _AXIS = 340, 118, 22, 16, 22, 16
_COLOURS = ("#8aa4c8", "#c8b48a", "#d0736b", "#6b9bd0", "#8ac896")
SONG_COLOUR = "#7b2cbf"
"""The song's line: a purple that no level's colour (`_COLOURS`) comes near."""


def positions_svg(bundle: Bundle, values: Mapping[str, Any]) -> str:
    """One small chart per numeric feature of the model, stacked in one SVG document.

    Each chart has one row per class: the middle half of that class's training songs (a box),
    the 5th to 95th percentile (a line) and the median (a tick); the song's value (from
    `values`, a record: feature → number; anything else is ignored) is the purple line across
    the rows (`SONG_COLOUR`, a colour no level uses); under the rows, an axis with its values
    in the feature's unit. Empty string when the bundle has no per-class statistics.
    """
    by_class = (bundle.reference or {}).get("by_class") or {}
    q = by_class.get("q")
    per_class = by_class.get("classes") or {}
    era = era_by_class(bundle, values.get("year"), q)
    if era is not None:  # the song among the training songs of its own era
        per_class = era
    classes = [c for c in bundle.levels if c in per_class]
    names = [
        n
        for n in bundle.feature_names
        if not vocabulary.is_categorical(n) and all(n in per_class[c] for c in classes)
    ]
    if not q or not classes or not names:
        return ""
    height_one = _HEAD + _ROW * len(classes) + _AXIS + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="positions" width="{_W}" '
        f'height="{height_one * len(names)}" viewBox="0 0 {_W} {height_one * len(names)}" '
        'font-family="system-ui, sans-serif" font-size="11" role="img" '
        'aria-label="Where the song sits among the training songs of each level">'
    ]
    for i, name in enumerate(names):
        parts.append(_feature_chart(name, values.get(name), classes, per_class, q, i * height_one))
    parts.append("</svg>")
    return "".join(parts)


ERA_WINDOW = 5
ERA_MIN_PER_CLASS = 20


def era_by_class(
    bundle: Bundle, year: Any, q: Sequence[int] | None
) -> dict[str, dict[str, list[float]]] | None:
    """Per class and numeric feature, the percentiles `q` of the training songs released within
    `ERA_WINDOW` years of `year` (the bundle's `songs.parquet`); None when the year or the songs
    are unknown, or a class has fewer than `ERA_MIN_PER_CLASS` songs in that window."""
    year_value = _number_or_none(year)
    songs = bundle.songs() if year_value is not None and q else None
    if songs is None or "year" not in songs or "level" not in songs:
        return None
    years = pd.to_numeric(songs["year"], errors="coerce")
    if years.notna().sum() == 0:
        return None
    centre = min(max(year_value, float(years.min())), float(years.max()))
    window = songs[(years - centre).abs() <= ERA_WINDOW]
    out: dict[str, dict[str, list[float]]] = {}
    for cls in bundle.levels:
        part = window[window["level"].astype(str) == str(cls)]
        if len(part) < ERA_MIN_PER_CLASS:
            return None
        out[str(cls)] = {
            c.removeprefix("f_"): np.nanpercentile(part[c].to_numpy(dtype=float), q).tolist()
            for c in part.columns
            if c.startswith("f_")
        }
    return out


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    return float(value) if math.isfinite(float(value)) else None


def _feature_chart(
    name: str,
    value: float | None,
    classes: Sequence[str],
    per_class: Mapping[str, Mapping[str, Sequence[float]]],
    q: Sequence[int],
    top: float,
) -> str:
    at = {p: i for i, p in enumerate(q)}

    def pct(cls: str, p: int) -> float:
        return float(per_class[cls][name][at[p]])

    low = min(pct(c, 5) for c in classes)
    high = max(pct(c, 95) for c in classes)
    if value is not None and math.isfinite(value):
        low, high = min(low, value), max(high, value)
    if high <= low:
        high = low + 1.0
    span = _W - _LEFT - _RIGHT

    def x(v: float) -> float:
        return round(_LEFT + span * (v - low) / (high - low), 1)

    spec = vocabulary.feature(name)
    label = spec.label if spec else name
    shown = "" if value is None else f": {vocabulary.format_value(name, value)}"
    out = [
        f'<g transform="translate(0,{top})" data-position="{escape(name)}">',
        f'<text x="0" y="13" font-weight="600">{escape(label + shown)}</text>',
    ]
    for r, cls in enumerate(classes):
        y = _HEAD + r * _ROW
        colour = _COLOURS[r % len(_COLOURS)]
        out.append(
            f'<text x="{_LEFT - 6}" y="{y + 11}" text-anchor="end">'
            f"{escape(class_words(cls))}</text>"
            f'<line x1="{x(pct(cls, 5))}" x2="{x(pct(cls, 95))}" y1="{y + 7}" y2="{y + 7}" '
            f'stroke="{colour}" stroke-width="1.5"/>'
            f'<rect x="{x(pct(cls, 25))}" y="{y + 2}" '
            f'width="{max(1.0, x(pct(cls, 75)) - x(pct(cls, 25))):.1f}" height="10" '
            f'fill="{colour}" fill-opacity="0.55" stroke="{colour}"/>'
            f'<line x1="{x(pct(cls, 50))}" x2="{x(pct(cls, 50))}" y1="{y + 1}" y2="{y + 13}" '
            'stroke="#333" stroke-width="1.5"/>'
        )
    bottom = _HEAD + _ROW * len(classes)
    axis_y = bottom + 1
    out.append(
        f'<g class="axis" font-size="10" fill="#444"><line x1="{_LEFT}" x2="{_W - _RIGHT}" '
        f'y1="{axis_y}" y2="{axis_y}" stroke="#999"/>'
    )
    for tick, anchor in ((low, "start"), ((low + high) / 2, "middle"), (high, "end")):
        out.append(
            f'<line x1="{x(tick)}" x2="{x(tick)}" y1="{bottom + 1}" y2="{bottom + 4}" '
            f'stroke="#999"/><text x="{x(tick)}" y="{bottom + 14}" text-anchor="{anchor}">'
            f"{escape(vocabulary.format_value(name, tick))}</text>"
        )
    out.append("</g>")
    if value is not None and math.isfinite(value):
        out.append(
            f'<line class="song" x1="{x(value)}" x2="{x(value)}" y1="{_HEAD - 4}" '
            f'y2="{bottom}" stroke="{SONG_COLOUR}" stroke-width="2.5"><title>this song'
            f"{escape(shown)}</title></line>"
        )
    out.append("</g>")
    return "".join(out)

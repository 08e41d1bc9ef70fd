"""The answer for a new song: its chance to reach the Hot 100 among the releases of its year,
and beside it its level within its release era.

Every interface that is not given a model (the CLI, the API, the page, an audio upload) leads
with this answer when the last run made one (`index.json` "new_song", chosen by forward-in-time
skill, `pipeline.choose_new_song_default`):

* the chance comes from the chart-chance bundle, fed the song's features, its release year (from
  the request or the file's tags; else the current year, and the answer says so) and, where the
  model reads it, the artist's Hot 100 record before that year, filled from the weekly charts by
  the artist's name (`inference.history.fill_history`; with no artist, "no earlier Hot 100
  entry", and the figure quoted is the one measured on new artists);
* beside it, the level within its era, from the era-relative seed bundle;
* each with its forward-in-time figure (trained on older releases, tested on the latest
  five years) and the base rate of the release year.

The song's own features go through the one prediction path (`core.predict`) of each bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from songpop import config, vocabulary
from songpop.bundle import load_bundle, new_song_parts, read_index
from songpop.bundle.models_index import _latest_models_dir
from songpop.errors import InputError
from songpop.inference.core import predict
from songpop.inference.history import HISTORY, fill_history, record_year
from songpop.inference.validate import ID_FIELDS
from songpop.prepare.history import describe_history
from songpop.prepare.label import class_words

if TYPE_CHECKING:
    from songpop.bundle import Bundle
    from songpop.inference.results import Prediction


@dataclass
class NewSongParts:
    """What the answer needs, loaded once: the chance bundle, the era bundle (or None) and the
    run's `new_song` record (forward figures, base rates, the rule)."""

    chance: Bundle
    era: Bundle | None
    info: dict[str, Any]
    folder: Path | None = None
    """The run's models folder."""

    def audio_only(self) -> Path | None:
        """The chart-chance task's best audio-only bundle (for a table without a year)."""

        if self.folder is None:
            return None
        best = ((read_index(self.folder).get("tasks") or {}).get("chart_chance") or {}).get(
            "best", {}
        )
        return self.folder / best["audio"] if best.get("audio") else None


def load_new_song(models_dir: str | Path | None = None) -> NewSongParts | None:
    """The last run's new-song answer (or that of `models_dir`), or None for a run without one.

    Raises:
        BundleError: a bundle it names is missing or invalid.
    """

    folder = Path(models_dir) if models_dir is not None else _latest_models_dir()
    if folder is None:
        return None
    info = new_song_parts(folder)
    if not info or not info.get("chance"):
        return None
    chance = load_bundle(folder / info["chance"]["bundle"])
    era = None
    if info.get("era"):
        era = load_bundle(folder / info["era"]["bundle"])
    return NewSongParts(chance, era, info, folder)


@dataclass
class NewSongAnswer:
    """The answer for one song.

    Attributes:
        chance: the probability of reaching the Hot 100.
        year: the release year the answer used; `year_source` says where it came from.
        base_rate: the share of that year's releases (in the training data) that charted, and
            `base_year`, the year it is of (the latest the data knows, for a later year).
        history: the artist's record before the year; `history_words` in words; `artist`.
        forward: the chance model's forward-in-time figure: `roc_auc`, the `origin` and `last`
            test years, the test years' `base_rate`; for a song without an artist history the
            figure measured on new artists (`for_new_artists`).
        era_level / era_words / era_probabilities: the level within its era, when the run has
            an era model; `era_forward`: its forward accuracy and the test years' majority rate.
        notes: what was assumed or filled, in words.
    """

    chance: float
    year: int
    year_source: str
    base_rate: float | None
    base_year: int | None
    artist: str | None
    history: dict[str, float]
    history_words: str
    forward: dict[str, Any]
    era_level: str | None = None
    era_words: str | None = None
    era_probabilities: dict[str, float] = field(default_factory=dict)
    era_forward: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    chance_model: str = ""
    era_model: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    """The values the chance model scored (year, context and history filled)."""
    era_told: bool = False
    """Whether the era level is worth saying: its forward accuracy beat the test years'
    majority and dummy rates."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict, with `headline` and `lines` (the answer in words)."""
        out = asdict(self)
        out["headline"] = self.headline()
        out["lines"] = self.lines()
        return out

    def headline(self) -> str:
        """ "12% chance to reach the Hot 100 among 2026 releases (base rate 3.3% for 2020)"."""
        base = ""
        if self.base_rate is not None and self.base_year is None:
            base = f" (the base rate: {self.base_rate:.1%} of the training releases charted)"
        elif self.base_rate is not None:
            if self.base_year == self.year:
                which = f"of {self.year} releases"
            elif self.base_year < self.year:
                which = f"of {self.base_year} releases, the latest year the data knows"
            else:
                which = f"of {self.base_year} releases, the nearest year with enough songs"
            base = f" (the base rate: {self.base_rate:.1%} {which} charted)"
        return (
            f"{self.chance:.0%} chance to reach the Billboard Hot 100 among the releases of "
            f"{self.year}{base}"
        )

    def lines(self) -> list[str]:
        """The answer in plain words, one statement a line, the headline first."""
        f = self.forward
        lines = [self.headline()]
        who = (
            f"{self.history_words} for {self.artist}"
            if self.artist
            else f"no artist given: scored as an artist with {self.history_words}"
            if self.history
            else self.history_words
        )
        lines.append(f"Release year {self.year} ({self.year_source}); {who}.")
        if f.get("roc_auc") is not None:
            who = (
                " for artists with no earlier Hot 100 entry"
                if f.get("for_new_artists")
                else " for artists with earlier Hot 100 entries"
                if f.get("for_known_artists")
                else ""
            )
            lines.append(
                f"How far to trust it: trained on releases before {f['origin']} and tested on "
                f"{f['origin']}-{f['last']}{who}, this model ranked a charting release above a "
                f"non-charting one {f['roc_auc']:.0%} of the time (50% = chance; "
                f"{f['base_rate']:.1%} of those releases charted)."
            )
        e = self.era_forward
        if self.era_level is not None and self.era_told:
            sure = max(self.era_probabilities.values()) if self.era_probabilities else None
            text = f"Within its era: {self.era_words}" + (f" ({sure:.0%})" if sure else "")
            if e.get("accuracy") is not None:
                text += (
                    f"; forward in time this level was right {e['accuracy']:.0%} of the time, "
                    f"against {e['majority_rate']:.0%} for always answering the commonest level"
                )
            lines.append(text + ".")
        elif self.era_level is not None and e.get("accuracy") is not None:
            lines.append(
                "Its popularity level within its release era is not told: forward in time the "
                f"era model was right {e['accuracy']:.0%} of the time, no better than the "
                f"{e['majority_rate']:.0%} of always answering the commonest level."
            )
        lines += self.notes
        return lines


def answer_new_songs(
    records: Sequence[Mapping[str, Any]],
    parts: NewSongParts,
    *,
    year_sources: Sequence[str | None] | None = None,
    today: date | None = None,
) -> list[NewSongAnswer]:
    """The new-song answer for each record.

    Args:
        records: the songs' features, with `artist` (and `title`) where known.
        parts: `load_new_song()`.
        year_sources: per record, where its year came from ("given", "from its tags"...);
            None: "given" where a record has a year.
        today: the date whose year stands in for a missing release year (default: today).

    Returns:
        One answer per record.

    Raises:
        RecordError: a record's features are invalid for one of the models.
    """
    this_year = (today or date.today()).year
    prepared: list[dict[str, Any]] = []
    notes: list[list[str]] = []
    sources: list[str] = []
    for i, record in enumerate(records):
        rec = dict(record)
        said: list[str] = []
        given = year_sources[i] if year_sources is not None else None
        if rec.get("year") is None and rec.get("decade") is not None:
            rec["year"] = int(float(rec["decade"])) + 5
            sources.append(f"the middle of its decade, the {int(float(rec['decade']))}s")
        elif record_year(rec) is None:
            rec["year"] = this_year
            sources.append(f"not given: the current year, {this_year}")
        else:
            sources.append(given or "given")
        if float(rec["year"]) < config.FIRST_CHART_YEAR:
            raise InputError(
                f"year {int(float(rec['year']))}: the Billboard Hot 100 began in August "
                f"{config.FIRST_CHART_YEAR}; a chance to chart is for releases from then on "
                "(use --task seed for the original report's levels)"
            )
        prepared.append(rec)
        notes.append(said)
    chance_records = _with_defaults(prepared, parts.chance, notes)
    chance_records = fill_history(chance_records, parts.chance)
    chances = predict(_only(chance_records, parts.chance), parts.chance)
    eras: list[Prediction | None] = [None] * len(prepared)
    if parts.era is not None:
        era_records = _with_defaults(prepared, parts.era, notes)
        eras = list(predict(_only(era_records, parts.era), parts.era))
    info = parts.info
    top = parts.chance.top_class
    out = []
    for i, rec in enumerate(chance_records):
        year = int(round(float(rec["year"])))
        history = {k: float(rec[k]) for k in HISTORY if rec.get(k) is not None}
        base_rate, base_year = _base_rate(info, year)
        forward = _forward(info.get("chance") or {}, history)
        trained_to = _last_training_year(parts.chance)
        if trained_to is not None and year > trained_to:
            notes[i].append(
                f"The training songs end in {trained_to}: the models read {year} as the "
                f"latest year they know."
            )
        era = eras[i]
        answer = NewSongAnswer(
            chance=float(chances[i].probabilities[top]),
            year=year,
            year_source=sources[i],
            base_rate=base_rate,
            base_year=base_year,
            artist=str(records[i].get("artist")) if records[i].get("artist") else None,
            history=history,
            history_words=describe_history(history) if history else "artist history unused",
            forward=forward,
            notes=notes[i],
            chance_model=parts.chance.model_id,
            record=_only([rec], parts.chance)[0],
        )
        if era is not None and parts.era is not None:
            answer.era_level = str(era.level)
            answer.era_words = _era_words(parts.era, str(era.level), year)
            answer.era_probabilities = dict(era.probabilities)
            answer.era_model = parts.era.model_id
            e = ((info.get("era") or {}).get("forward")) or {}
            answer.era_forward = {
                k: e.get(k) for k in ("accuracy", "majority_rate", "origin", "last")
            }
            answer.era_told = bool((info.get("era") or {}).get("above_majority", False))
        out.append(answer)
    return out


def audio_answer(
    song: Any, result: Any, parts: NewSongParts, artist: str | None = None
) -> NewSongAnswer:
    """The new-song answer for an analysed audio file (`inference.inputs.audio.predict_audio`'s
    result): the values it scored, its year from the tags (else this year, said), its artist
    from `artist` or the tags."""
    record = {k: v for k, v in result.values.items() if v is not None and k not in HISTORY}
    who = artist or song.tags.artist
    if who:
        record["artist"] = who
    if song.tags.title:
        record["title"] = song.tags.title
    tagged = result.sources.get("year") == "tags" or str(result.sources.get("year", "")).startswith(
        "catalogue"
    )
    if not tagged:
        record.pop("year", None)
    year_source = str(result.sources.get("year", ""))
    source = (
        "from its tags"
        if year_source == "tags"
        else "from the local catalogue"
        if year_source.startswith("catalogue")
        else None
    )
    return answer_new_songs([record], parts, year_sources=[source])[0]


def _only(records: list[dict[str, Any]], bundle: Bundle) -> list[dict[str, Any]]:
    """Each record's model features and ids only (the other features are for the other
    model)."""

    keep = set(bundle.feature_names) | set(ID_FIELDS)
    return [{k: v for k, v in r.items() if k in keep} for r in records]


def _with_defaults(
    records: list[dict[str, Any]], bundle: Bundle, notes: list[list[str]]
) -> list[dict[str, Any]]:
    """Context a model reads that a record lacks (mode, time signature, explicit) filled with
    the training songs' commonest value; each filled value is said in the record's notes."""
    typical = (bundle.reference or {}).get("typical", {})
    out = []
    for i, record in enumerate(records):
        rec = dict(record)
        for name in bundle.feature_names:
            spec = vocabulary.feature(name)
            if rec.get(name) is None and spec is not None and spec.group == "context":
                if name in ("year", "decade"):
                    continue
                value = typical.get(name, spec.typical)
                rec[name] = value
                shown = spec.category_words(value) if spec.categorical else value
                note = (
                    f"{spec.label} not given: {bundle.model_id} used the training songs' "
                    f"commonest value ({shown})."
                )
                if note not in notes[i]:
                    notes[i].append(note)
        out.append(rec)
    return out


def _base_rate(info: Mapping[str, Any], year: int) -> tuple[float | None, int | None]:
    per_year = {int(k): float(v) for k, v in (info.get("base_rate_per_year") or {}).items()}
    if not per_year:
        rate = info.get("base_rate")
        return (None, None) if rate is None else (float(rate), None)
    if year in per_year:
        return per_year[year], year
    known = max(per_year) if year > max(per_year) else min(per_year, key=lambda y: abs(y - year))
    return per_year[known], known


def _forward(chance: Mapping[str, Any], history: Mapping[str, float]) -> dict[str, Any]:
    row = chance.get("forward") or {}
    out = {
        "roc_auc": row.get("roc_auc"),
        "origin": row.get("origin"),
        "last": row.get("last"),
        "base_rate": row.get("base_rate"),
        "for_new_artists": False,
    }
    new = chance.get("new_artists") or {}
    known = chance.get("established_artists") or {}
    entries = history.get("artist_prior_entries")
    if entries == 0 and new.get("roc_auc") is not None:
        out.update(roc_auc=new["roc_auc"], base_rate=new["base_rate"], for_new_artists=True)
    elif entries is not None and entries > 0 and known.get("roc_auc") is not None:
        out.update(roc_auc=known["roc_auc"], base_rate=known["base_rate"], for_known_artists=True)
    return out


def _last_training_year(bundle: Bundle) -> int | None:
    classes = (bundle.meaning or {}).get("classes") or []
    years = [c["years"][1] for c in classes if c.get("years")]
    return max(years) if years else None


def _era_words(bundle: Bundle, level: str, year: int) -> str:
    """ "high popularity: the top third of the songs released 2015-2019"."""

    meaning = bundle.meaning or {}
    width = meaning.get("era_years")
    words = class_words(level)
    if not width:
        return words
    third = {"low": "the bottom third", "medium": "the middle third", "high": "the top third"}
    start = (year // width) * width
    latest = meaning.get("latest_era")
    if latest and start > latest[0]:
        start = latest[0]
    return f"{words}: {third.get(level, level)} of the songs released {start}-{start + width - 1}"

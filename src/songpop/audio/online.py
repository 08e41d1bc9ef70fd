"""ReccoBeats hears the song: its upload analysis of excerpts, in place of songpop's estimates.

Asked for only (`--online`, `songpop serve --online`). `OnlineAnalysis.hear(song)` cuts up to
three 30 s excerpts of the analysed file (`songpop.audio.excerpts`), says what leaves the
machine before the first upload (`announce`), sends each to ReccoBeats
(`songpop.providers.reccobeats.ReccoBeats.analyse_excerpt`: cached by the excerpt's sha256,
429 waited out within the deadline) and takes the mean of each feature over the excerpts, with
their standard deviation kept as the value's spread. The seven 0-1 features become those
means, marked `reccobeats`; duration, key, mode and time signature stay measured; the
service's tempo and loudness are shown beside songpop's (a tempo off by a metrical factor is
said in words), never in their place: songpop measures the whole song, the service 90 s of it.
Any failure leaves the local analysis as it was, with one note that says so.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from songpop import vocabulary
from songpop.audio import excerpts as cut
from songpop.audio.analyze import Value
from songpop.errors import SongpopError
from songpop.providers.cache import AnswerCache

if TYPE_CHECKING:
    from songpop.audio.analyze import SongFeatures
    from songpop.audio.excerpts import Excerpt
    from songpop.providers.reccobeats import ReccoBeats

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 120.0
"""The most one song's uploads may take, retries and Retry-After waits included."""
METRICAL = {"1/2": 0.5, "2/3": 2 / 3, "3/2": 1.5, "2": 2.0}
"""Tempo ratios (service / songpop) that mean the same pulse heard at another metrical level."""
TEMPO_TOLERANCE = 0.04
"""Relative distance within which two tempi (or a ratio and a metrical factor) agree."""


def announcement(path: str | os.PathLike[str], excerpts: list[tuple[float, float]]) -> str:
    """What leaves the machine, in one line: "3 excerpts of 30 s of song.mp3 go to ReccoBeats"."""
    name = Path(path).name
    n = len(excerpts)
    lengths = {round(length) for _, length in excerpts}
    length = f"{lengths.pop()} s" if len(lengths) == 1 else "up to 30 s"
    pieces = f"{n} excerpt{'s' if n != 1 else ''} of {length}"
    return f"{pieces} of {name} go{'es' if n == 1 else ''} to ReccoBeats for analysis"


def tempo_relation(service: float, measured: float) -> str | None:
    """How the service's tempo relates to songpop's: "agrees", a metrical factor ("2/3": the
    service hears two thirds of songpop's tempo), or None when neither."""
    if not (service > 0 and measured > 0):
        return None
    ratio = service / measured
    if abs(ratio - 1) <= TEMPO_TOLERANCE:
        return "agrees"
    for name, factor in METRICAL.items():
        if abs(ratio / factor - 1) <= TEMPO_TOLERANCE:
            return name
    return None


@dataclass
class OnlineAnalysis:
    """ReccoBeats' upload analysis, ready to hear songs.

    Attributes:
        service: the ReccoBeats client (with its answer cache).
        announce: called with one line before a file's first upload (the CLI prints it).
        deadline: seconds one song's uploads may take in all.
    """

    service: ReccoBeats
    announce: Callable[[str], None] | None = None
    deadline: float = DEADLINE_SECONDS
    owns_cache: bool = False

    @classmethod
    def from_environment(
        cls, announce: Callable[[str], None] | None = None, cache: Any = None
    ) -> OnlineAnalysis:
        """ReccoBeats at `$SONGPOP_RECCOBEATS_URL` (default: the public service), with the
        provider answer cache."""
        # late: loads httpx, pyarrow, pandas (start-up)
        from songpop.providers.reccobeats import BASE_URL, ReccoBeats

        url = os.environ.get("SONGPOP_RECCOBEATS_URL", BASE_URL)
        own = cache is None
        service = ReccoBeats(url, AnswerCache() if own else cache)
        return cls(service, announce, owns_cache=own)

    def close(self) -> None:
        """Close the service's clients (and the answer cache when it opened it)."""
        self.service.close()
        if self.owns_cache and self.service.cache is not None:
            self.service.cache.close()

    def hear(self, song: SongFeatures) -> SongFeatures:
        """Replace the song's estimates by the service's analysis of its excerpts, in place;
        on any failure keep the local analysis and add one note saying why."""

        name = Path(song.path).name
        try:
            pieces = cut.cut(song.path, float(song.audio["seconds"]))
            if self.announce is not None:
                self.announce(announcement(song.path, [(e.start, e.seconds) for e in pieces]))
            until = time.monotonic() + self.deadline
            answers = [self.service.analyse_excerpt(e.wav, until) for e in pieces]
        except (SongpopError, OSError, ValueError) as exc:
            note = f"ReccoBeats did not analyse {name} ({exc}); songpop's local analysis is used"
            log.info(note)
            song.notes.append(note)
            return song
        apply(song, pieces, answers)
        return song


def apply(song: SongFeatures, pieces: list[Excerpt], answers: list[dict[str, float]]) -> None:
    """Put the service's mean values (with their spread) in place of the song's estimates, and
    its tempo and loudness beside songpop's, in `song.online`."""
    # late: loads httpx, pyarrow, pandas (start-up)
    from songpop.providers.reccobeats import UPLOAD_FEATURES

    n = len(answers)
    where = ", ".join(f"{e.start:.0f}-{e.start + e.seconds:.0f} s" for e in pieces)
    summary: dict[str, dict[str, float]] = {}
    for name in (*UPLOAD_FEATURES, "tempo", "loudness"):
        values = [a[name] for a in answers if name in a]
        if values:
            summary[name] = {
                "mean": round(statistics.fmean(values), 4),
                "spread": round(statistics.pstdev(values), 4) if len(values) > 1 else 0.0,
                "values": [round(v, 4) for v in values],
            }
    for name in UPLOAD_FEATURES:
        if name not in song.features or name not in summary:
            continue
        low, high = vocabulary.FEATURES[name].bounds
        mean = min(max(summary[name]["mean"], low), high)
        song.features[name] = Value(
            round(mean, 4), "reccobeats", ("reccobeats upload analysis",),
            note=f"ReccoBeats' mean over {n} excerpt{'s' if n != 1 else ''} ({where})",
            spread=summary[name]["spread"],
        )  # fmt: skip
    online: dict[str, Any] = {
        "excerpts": [
            {"start": e.start, "seconds": e.seconds, "bytes": len(e.wav), "sha256": e.digest}
            for e in pieces
        ],
        "features": summary,
    }
    measured = song.features.get("tempo")
    if "tempo" in summary:
        ours = measured.value if measured is not None else None
        theirs = summary["tempo"]["mean"]
        relation = tempo_relation(theirs, float(ours)) if ours is not None else None
        online["tempo"] = {"reccobeats": theirs, "songpop": ours, "relation": relation,
                           "said": tempo_words(theirs, ours, relation)}  # fmt: skip
    if "loudness" in summary:
        ours = song.features["loudness"].value if "loudness" in song.features else None
        online["loudness"] = {"reccobeats_db": summary["loudness"]["mean"], "songpop_lufs": ours}
    song.online = online


def tempo_words(theirs: float, ours: float | None, relation: str | None) -> str:
    """The two tempi side by side in words."""
    if ours is None:
        return f"ReccoBeats hears {theirs:.1f} BPM; songpop found no steady beat"
    pair = f"ReccoBeats {theirs:.1f} BPM, songpop {ours:.1f} BPM"
    if relation == "agrees":
        return f"{pair}: they agree"
    if relation is not None:
        return f"{pair}: the same pulse at another metrical level (ReccoBeats hears {relation} " \
            "of songpop's tempo)"  # fmt: skip
    ratio = theirs / ours if ours else math.nan
    return f"{pair}: they disagree (ratio {ratio:.2f}, not a metrical factor)"

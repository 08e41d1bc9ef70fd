"""Is this one of the model's own songs? A known song told as known.

A song looked up by title (or link) may be one the model learned from (a training song) or one
it was measured on (a held-out test song). Then its prediction is not a forecast, and the answer
says so beside it, with what really happened: its real level and its chart history.

- The training songs are the bundle's songs table (`Bundle.songs()`, aligned with the training
  rows).
- The test songs are the run's song table for the bundle's task (`<run>/data/<task>/songs.parquet`)
  less the training songs: the build's songs are split into exactly those two parts.

Songs are matched on the build's normalised title and primary artist (`add_keys`), the same
keys the build matches charts to tracks with.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from songpop.prepare.label import class_words
from songpop.prepare.normalize import add_keys

if TYPE_CHECKING:
    from songpop.bundle import Bundle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownSong:
    """The model's own song.

    Attributes:
        role: "training" (the model learned from it) or "test" (held out, measured on).
        model_id: the model it belongs to.
        level: its real class ("high", "charted", ...), None when the table does not give the
            task's own label; `words`, the same in plain words.
        popularity: its Spotify popularity when known.
    """

    role: str
    model_id: str
    level: str | None
    words: str | None
    popularity: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return asdict(self)

    def line(self) -> str:
        """One sentence, e.g. "a training song of seed/audio/lgbm: the model learned from it;
        its real level: high popularity (Spotify popularity 81)"."""
        if self.role == "training":
            head = f"a training song of {self.model_id}: the model learned from it, so this is "
            head += "not a forecast"
        else:
            head = f"a held-out test song of {self.model_id}: the model was measured on it, "
            head += "never trained on it"
        if self.words is None:
            return head
        popularity = f" (Spotify popularity {self.popularity:.0f})" if self.popularity else ""
        return f"{head}; its real level: {self.words}{popularity}"


def _keys(table: pd.DataFrame) -> pd.DataFrame:
    keyed = add_keys(table[["title", "artist"]].astype("string").fillna(""))
    return keyed[["norm_title", "norm_artist"]]


def _run_songs(bundle: Bundle) -> tuple[pd.DataFrame | None, bool]:
    """The run's song table of the bundle's task (title, artist, level, popularity), and
    whether its `level` is the task's own label (False for a task that relabels another's
    songs, e.g. the levels within an era)."""
    task = bundle.meta.get("task")
    path = Path(bundle.path).resolve()
    run = next((p.parent for p in path.parents if p.name == "models"), None)
    if not task or run is None:
        return None, False
    from songpop.pipeline import TASKS  # late: loads pandera (start-up)

    plan = TASKS.get(task)
    data_task = plan.data_task(task) if plan is not None else task
    file = run / "data" / data_task / "songs.parquet"
    if not file.is_file():
        return None, False
    import pyarrow.parquet as pq

    names = set(pq.read_schema(file).names)
    columns = [c for c in ("title", "artist", "level", "popularity") if c in names]
    if not {"title", "artist"} <= set(columns):
        return None, False
    return pd.read_parquet(file, columns=columns), data_task == task


def _find(table: pd.DataFrame, key: tuple[str, str]) -> pd.Series | None:
    keyed = _keys(table)
    hit = (keyed["norm_title"] == key[0]) & (keyed["norm_artist"] == key[1])
    if not hit.any():
        return None
    return table[hit.to_numpy()].iloc[0]


def known_song(bundle: Bundle, title: str, artist: str) -> KnownSong | None:
    """Whether the song `title` by `artist` is one of `bundle`'s training or test songs.

    Args:
        bundle: the model (its songs table, and the run folder it sits in).
        title, artist: the song as found (e.g. by a catalogue lookup).

    Returns:
        A `KnownSong`, or None when it is neither (or the bundle has no songs table).
    """
    query = _keys(pd.DataFrame({"title": [title], "artist": [artist]})).iloc[0]
    key = (str(query["norm_title"]), str(query["norm_artist"]))
    if not key[0] or not key[1]:
        return None
    model_id = str(bundle.model_id)
    training = bundle.songs()
    if training is not None and {"title", "artist"} <= set(training.columns):
        row = _find(training, key)
        if row is not None:
            return _known("training", model_id, row, own_label=True)
    try:
        songs, own_label = _run_songs(bundle)
    except (OSError, ValueError) as exc:  # a run folder moved or damaged: no test-song note
        log.warning("the run's song table could not be read (%s)", exc)
        return None
    if songs is None:
        return None
    row = _find(songs, key)
    return None if row is None else _known("test", model_id, row, own_label=own_label)


def _known(role: str, model_id: str, row: pd.Series, *, own_label: bool) -> KnownSong:
    level = row.get("level")
    level = None if not own_label or level is None or pd.isna(level) else str(level)
    popularity = row.get("popularity")
    popularity = None if popularity is None or pd.isna(popularity) else float(popularity)
    words = class_words(level) if level is not None else None
    return KnownSong(role, model_id, level, words, popularity)


def _loose(artist: Any) -> str:
    """An artist with everything but letters and digits dropped: the seed source's spellings,
    stripped of punctuation, compared with the charts'."""
    from unidecode import unidecode

    return re.sub(r"[^a-z0-9]", "", unidecode(str(artist)).lower())


def as_charted(similar: list[Any], catalogue: Any) -> list[Any]:
    """Similar songs restated in the one chart history songpop shows everywhere and with
    their display spelling: `weeks` = the distinct weekly Hot 100 charts the song appeared on
    and `peak` = its best position, both from the catalogue's chart aggregation
    (`songpop.prepare.charts.aggregate_chart_songs`, as a title lookup reports them), and the
    title and artist as a source spells them in mixed case ("Booker T. & the M.G.'s", not
    "booker t  the mgs"). A song the catalogue does not hold is kept as it is.

    Args:
        similar: `SimilarSong`s (`songpop.inference.context.similar_songs`).
        catalogue: the data folder's `Catalogue` (`songpop.inference.inputs.lookup`).

    Returns:
        New `SimilarSong`s, in the same order.
    """
    from dataclasses import replace

    if not similar:
        return []
    index = catalogue.index
    keyed = _keys(pd.DataFrame({"title": [s.title for s in similar],
                                "artist": [s.artist for s in similar]}))  # fmt: skip
    out = []
    for s, (_, key) in zip(similar, keyed.iterrows(), strict=True):
        by_title = getattr(catalogue, "_rows_by_title", None)  # the catalogue's title index
        if by_title is not None:
            same = index.iloc[by_title.get(str(key["norm_title"]), [])]
        else:
            same = index[index["norm_title"] == key["norm_title"]]
        # the seed source's "booker t  the mgs" is the charts' "Booker T. & the M.G.'s"
        loose = same["artist"].map(_loose) == _loose(s.artist)
        rows = same[(same["norm_artist"] == key["norm_artist"]) | loose]
        if rows.empty:
            out.append(s)
            continue
        spelled = rows[rows["title"].astype(str) != rows["title"].astype(str).str.lower()]
        shown = (spelled if not spelled.empty else rows).iloc[0]
        charted = rows[rows["charted"].fillna(False).astype(bool)]
        if not charted.empty:
            peak, weeks = int(charted["best_position"].min()), int(charted["weeks_on_chart"].max())
        else:
            peak, weeks = s.peak, s.weeks
        out.append(
            replace(
                s, title=str(shown["title"]), artist=str(shown["artist"]), peak=peak, weeks=weeks
            )  # fmt: skip
        )
    return out

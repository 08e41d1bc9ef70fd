"""The lookup input adapter: a song's name or Spotify link → candidates with real features.

The local catalogue (`songpop.prepare.catalogue`) indexes every track table of the data folder.
It is built once and cached as Parquet (next to the data when that folder is writable, else in
the user cache), keyed by the files' names, sizes and modification times. A search normalises
the query with the build's own rules and matches as the build matches charts to tracks: the
exact key first, then rapidfuzz's `ratio` on the title at `DEFAULT_THRESHOLD` or above, the
numbers in the titles equal, and the artist (when given) scored by `token_set_ratio` at the
same threshold; a song's score is the lower of the two. Nothing below the threshold is offered:
a song that is not there gives no candidate, never a guess.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from songpop import config, vocabulary
from songpop.config import cache_dir
from songpop.errors import DataNotFoundError, InputError, SongpopError
from songpop.inference.core import _unbox as _value  # NA/NaN → None, numpy scalars → Python
from songpop.io import write_parquet_atomic
from songpop.prepare.catalogue import catalogue_index
from songpop.prepare.charts import aggregate_chart_songs
from songpop.prepare.normalize import normalize_text, parse_artists

log = logging.getLogger(__name__)

CATALOGUE_VERSION = 3
"""Bumped whenever the index's making changes: a cache of another version is rebuilt."""
CATALOGUE_FILE = "catalogue.parquet"
_ID = r"[0-9A-Za-z]{22}"
_LINK = re.compile(
    r"^https?://open\.spotify\.com/(?:intl-[a-z]{2}(?:-[a-z]{2})?/)?(?P<kind>[a-z]+)/"
    r"(?P<id>[^/?#]+)/?(?:\?[^#]*)?(?:#.*)?$",
    re.IGNORECASE,
)
_URI = re.compile(r"^spotify:(?P<kind>[a-z]+):(?P<id>[^:]+)$", re.IGNORECASE)
SPOTIFY_EXPECTED = (
    "a Spotify track link (https://open.spotify.com/track/<id>), URI (spotify:track:<id>) or "
    "a 22-character track id"
)


def parse_spotify(text: str) -> str:
    """A Spotify track id from a link, URI or bare id, strictly.

    Args:
        text: `https://open.spotify.com/track/<id>` (with `?si=...`, `/intl-xx/`),
            `spotify:track:<id>`, or the 22-character base62 id itself.

    Returns:
        The 22-character id.

    Raises:
        InputError: an album, playlist or artist link, a wrong length, anything else; the
            message says what was given and what is expected.
    """
    given = text.strip()
    found = _LINK.match(given) or _URI.match(given)
    if found is None:
        if re.fullmatch(_ID, given):
            return given
        raise InputError(f"{given!r}: not {SPOTIFY_EXPECTED}")
    kind, ident = found.group("kind").lower(), found.group("id")
    if kind != "track":
        raise InputError(f"{given!r} is a Spotify {kind} link, not a track; expected "
                         f"{SPOTIFY_EXPECTED}")  # fmt: skip
    if not re.fullmatch(_ID, ident):
        raise InputError(f"{given!r}: the track id {ident!r} is not 22 letters and digits; "
                         f"expected {SPOTIFY_EXPECTED}")  # fmt: skip
    return ident


def looks_like_spotify(text: str) -> bool:
    """Whether a command-line argument is meant as a Spotify link, URI or id."""
    t = text.strip().lower()
    return t.startswith(("spotify:", "http://open.spotify", "https://open.spotify")) or bool(
        re.fullmatch(_ID, text.strip())
    )


@dataclass
class Candidate:
    """A catalogue song that matches a query.

    Attributes:
        title, artist, year: as the source file spells them.
        source_file: the data folder file it comes from (relative to the folder).
        track_id: its Spotify id, when the source has one.
        score: match score, 0-100 (100: the normalised title and artist are equal).
        how: "id", "exact" or "fuzzy".
        features: its feature values (feature name → value; only those the source holds).
        charted: on the Hot 100 (None: no chart file was read).
        best_position, weeks_on_chart: its chart history when it charted.
        popularity: Spotify popularity when the source has it.
        provider: the feature API that answered, for a song found online ("reccobeats",
            "spotify"); None for a catalogue song.
    """

    title: str
    artist: str
    year: int | None
    source_file: str
    track_id: str | None
    score: float
    how: str
    features: dict[str, Any] = field(default_factory=dict)
    charted: bool | None = None
    best_position: int | None = None
    weeks_on_chart: int | None = None
    popularity: float | None = None
    provider: str | None = None

    @property
    def when(self) -> str:
        """Its year, else its decade ("the 2000s"), in words."""
        if self.year is not None:
            return str(self.year)
        decade = self.features.get("decade")
        return f"the {decade}s" if decade is not None else "year unknown"

    @property
    def source(self) -> str:
        """Where its features came from, as predictions name it: `catalogue:<file>`, or the
        provider's name."""
        return self.provider or f"catalogue:{self.source_file}"

    def record(self) -> dict[str, Any]:
        """Its features as a prediction record, with title and artist as ids."""
        return {**self.features, "title": self.title, "artist": self.artist}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = dict(self.__dict__)
        out["source"] = self.source
        return out


class Catalogue:
    """The searchable index of one data folder (load with `load_catalogue`)."""

    def __init__(self, index: pd.DataFrame, folder: Path) -> None:
        self.index = index.reset_index(drop=True)
        self.folder = folder
        titles = self.index["norm_title"].astype(str)
        self._rows_by_title = titles.groupby(titles, sort=False).indices
        self._titles = list(self._rows_by_title)
        self._artists = self.index["norm_artist"].astype(str).to_numpy()
        self._leads = self.index["norm_lead"].astype(str).to_numpy()
        self._sorted_titles = sorted(self._titles)
        ids = self.index["track_id"].astype("string")
        present = ids.notna().to_numpy()
        where = np.flatnonzero(present)
        groups = pd.Series(where).groupby(ids[present].to_numpy(), sort=False).indices
        self._rows_by_id = {k: where[v] for k, v in groups.items()}

    def __len__(self) -> int:
        return len(self.index)

    def search(self, title: str, artist: str | None = None, limit: int = 5) -> list[Candidate]:
        """The catalogue songs matching a title (and artist), best first; [] when none does.

        Args:
            title: the song's title, as people write it.
            artist: its artist (any layout: "A feat. B", "A & B"); None to match titles only.
            limit: how many candidates at most.

        A title without any letter or digit matches nothing.
        """
        from rapidfuzz import fuzz, process

        # late: loads rapidfuzz, tqdm (start-up)
        from songpop.prepare.match import DEFAULT_THRESHOLD, title_numbers

        q_title = normalize_text(str(title))
        if not q_title:  # no letter or digit: nothing can match
            return []
        q_artists: list[str] = []
        if artist and artist.strip():
            parsed = parse_artists(artist)
            q_artists = [a for a in {normalize_text(parsed.primary), normalize_text(parsed.lead)}
                         if a]  # fmt: skip
        hits = process.extract(
            q_title, self._titles, scorer=fuzz.ratio, score_cutoff=DEFAULT_THRESHOLD,
            limit=200,
        )  # fmt: skip
        found: dict[int, tuple[float, str]] = {}
        for choice, title_score, _ in hits:
            if title_numbers(choice) != title_numbers(q_title):
                continue
            for row in self._rows_by_title[choice]:
                score = float(title_score)
                if q_artists:
                    names = [self._artists[row], self._leads[row]]
                    artist_score = max(fuzz.token_set_ratio(q, n) for q in q_artists for n in names)
                    score = min(score, float(artist_score))
                    if score < DEFAULT_THRESHOLD:
                        continue
                how = "exact" if score >= 100.0 else "fuzzy"
                found[int(row)] = (score, how)
        return self._candidates(found, limit)

    def suggest(self, prefix: str, limit: int = 8) -> list[Candidate]:
        """Songs whose normalised title starts with the normalised `prefix` (suggestions as a
        user types), one per song (title and artist), charted and popular ones first."""
        import bisect

        start = normalize_text(str(prefix))
        if not start:
            return []
        lo = bisect.bisect_left(self._sorted_titles, start)
        hi = bisect.bisect_left(self._sorted_titles, start + "\uffff")
        rows = [int(r) for t in self._sorted_titles[lo:hi] for r in self._rows_by_title[t]]
        if not rows:
            return []
        table = self.index.iloc[rows]
        order = table.assign(
            _charted=table["charted"].fillna(False).astype(bool),
            _pop=pd.to_numeric(table["popularity"], errors="coerce").fillna(-1),
            _len=table["norm_title"].str.len(),
        ).sort_values(["_charted", "_pop", "_len"], ascending=[False, False, True], kind="stable")
        order = order.drop_duplicates(subset=["norm_title", "norm_artist"]).head(limit)
        scored = order.assign(_score=100.0, _how="prefix")
        return [_candidate(r) for _, r in scored.iterrows()]

    def by_id(self, track_id: str) -> list[Candidate]:
        """The catalogue rows with this Spotify track id (every file that holds it)."""
        rows = self._rows_by_id.get(track_id, [])
        return self._candidates({int(r): (100.0, "id") for r in rows}, len(rows) or 1)

    def _candidates(self, found: dict[int, tuple[float, str]], limit: int) -> list[Candidate]:
        if not found:
            return []
        rows = self.index.iloc[list(found)].copy()
        rows["_score"] = [found[r][0] for r in found]
        rows["_how"] = [found[r][1] for r in found]
        rows["_charted"] = rows["charted"].fillna(False).astype(bool)
        rows["_pop"] = pd.to_numeric(rows["popularity"], errors="coerce").fillna(-1)
        rows = rows.sort_values(["_score", "_charted", "_pop"], ascending=False, kind="stable")
        # the same song in two files is two candidates; the same row twice is one
        rows = rows.drop_duplicates(subset=["source_file", "norm_title", "norm_artist", "year"])
        return [_candidate(r) for _, r in rows.head(limit).iterrows()]


def _candidate(r: pd.Series) -> Candidate:
    features = {}
    for name in vocabulary.KNOWN_FEATURES:
        v = _value(r[name])
        if v is not None:
            features[name] = int(v) if vocabulary.is_integer(name) else float(v)
    year = _value(r["year"])
    charted = _value(r["charted"])
    return Candidate(  # shown as a person reads them (`prepare.catalogue.shown_spelling`)
        title=str(r["shown_title"]),
        artist=str(r["shown_artist"]),
        year=int(year) if year is not None else None,
        source_file=str(r["source_file"]),
        track_id=_value(r["track_id"]),
        score=round(float(r["_score"]), 1),
        how=str(r["_how"]),
        features=features,
        charted=None if charted is None else bool(charted),
        best_position=_int(r["best_position"]),
        weeks_on_chart=_int(r["weeks_on_chart"]),
        popularity=_value(r["popularity"]),
    )


def _int(v: Any) -> int | None:
    v = _value(v)
    return None if v is None else int(v)


# --- building and caching -------------------------------------------------------------------


def source_files(folder: Path) -> tuple[list[Path], Path | None]:
    """The track tables of a data folder (`tracks/` and saved API answers under `seed/`), and
    its Hot 100 weeks file when there is one."""
    tracks = sorted(
        p for p in (folder / "tracks").rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    saved = folder / "seed" / "extracted_features_to_predict.csv"
    if saved.is_file():
        tracks.append(saved)
    charts = folder / "charts" / "hot100_weekly_1958-2026.csv.gz"
    return tracks, charts if charts.is_file() else None


def _key(files: list[Path]) -> str:
    digest = hashlib.sha256(f"v{CATALOGUE_VERSION}".encode())
    for p in files:
        st = p.stat()
        digest.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def cache_folder(folder: Path) -> Path:
    """Where the catalogue index of a data folder is cached: a folder per data folder under
    songpop's cache (`$SONGPOP_CACHE_DIR`, else the user cache), never inside the data folder,
    which may be shared or read-only."""

    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    out = cache_dir() / f"catalogue-{digest}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def build_index(folder: Path) -> pd.DataFrame:
    """Read every track table of the folder (files of no known layout are skipped, with a log
    line) and the Hot 100, and make the index."""
    from songpop.sources.charts import read_charts  # late: loads pandera (start-up)
    from songpop.sources.tracks import read_tracks  # late: loads pandera (start-up)

    track_files, chart_file = source_files(folder)
    tables = []
    for path in track_files:
        try:
            table = read_tracks(path)
        except SongpopError as exc:
            log.warning("catalogue: %s skipped (%s)", path, exc)
            continue
        tables.append(table.assign(source_file=str(path.relative_to(folder))))
    if not tables:
        raise DataNotFoundError(
            f"{folder}: no track table found under tracks/ (the data folder is --data-dir, else "
            "$SONGPOP_DATA_DIR, else the user cache); run `songpop data fetch` first"
        )
    tracks = pd.concat(tables, ignore_index=True)
    charts = aggregate_chart_songs(read_charts(chart_file)) if chart_file is not None else None
    return catalogue_index(tracks, charts)


_LOADED: dict[tuple[str, str], Catalogue] = {}


def load_catalogue(data_dir: str | os.PathLike[str] | None = None) -> Catalogue:
    """The data folder's catalogue: from this process's memory, else the Parquet cache, else
    built (seconds) and cached.

    Raises:
        DataNotFoundError: the folder holds no track table.
    """
    folder = config.data_dir(data_dir)
    files, charts = source_files(folder)
    key = _key(files + ([charts] if charts else []))
    memo = (str(folder.resolve()), key)
    if memo in _LOADED:
        return _LOADED[memo]
    try:
        cache: Path | None = cache_folder(folder) / f"{key}-{CATALOGUE_FILE}"
    except OSError as exc:  # a read-only home, no cache folder: kept in memory only
        log.warning("catalogue: no cache folder (%s); the index is kept in memory only", exc)
        cache = None
    if cache is not None and cache.is_file():
        index = pd.read_parquet(cache)
    else:
        index = build_index(folder)
        if cache is not None:
            try:
                write_parquet_atomic(index, cache)
                log.info("catalogue: %d rows cached in %s", len(index), cache)
            except OSError as exc:
                log.warning("catalogue: not cached in %s (%s)", cache, exc)
    _LOADED[memo] = Catalogue(index, folder)
    return _LOADED[memo]

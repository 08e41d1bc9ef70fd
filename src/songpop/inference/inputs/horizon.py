"""What the data knows and until when: the catalogue's release years and the charts' last week.

The feature tables (Spotify audio features) end years before the weekly Hot 100 file does, so
a title that is not in the catalogue may still be a song the charts know. Then the answer says
so ("on the Hot 100 from 2024-04; the feature tables end in 2020") instead of "check the
spelling". And a title found in the catalogue without an artist may be an obscure namesake of a
chart hit decades away: then the artist is asked for instead of picking one silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from songpop.inference.inputs.lookup import source_files
from songpop.prepare.charts import aggregate_chart_songs
from songpop.prepare.normalize import add_keys

log = logging.getLogger(__name__)

NAMESAKE_YEARS = 10
"""A same-titled chart song this many years or more from the catalogue's match is another song:
the artist is asked for."""

_CHARTS: dict[str, tuple[pd.DataFrame | None, pd.Timestamp | None]] = {}


@dataclass(frozen=True)
class Horizon:
    """The data's time span: the feature tables' release years and the charts' last week."""

    first_year: int | None
    last_year: int | None
    last_chart_week: pd.Timestamp | None

    def words(self) -> str:
        """E.g. "the feature tables hold songs released 1942-2020; the charts run to 2026-08"."""
        parts = []
        if self.last_year is not None:
            parts.append(
                f"the feature tables hold songs released {self.first_year}-{self.last_year}"
            )
        if self.last_chart_week is not None:
            parts.append(f"the charts run to {self.last_chart_week:%Y-%m}")
        return "; ".join(parts)


def _charts(folder: Path) -> tuple[pd.DataFrame | None, pd.Timestamp | None]:
    """The data folder's Hot 100 aggregated per song and its last chart week, once per
    process; (None, None) without a chart file."""

    key = str(Path(folder).resolve())
    if key not in _CHARTS:
        from songpop.sources.charts import read_charts  # late: loads pandera (start-up)

        _, chart_file = source_files(Path(folder))
        if chart_file is None:
            _CHARTS[key] = (None, None)
        else:
            weeks = read_charts(chart_file)
            last = pd.Timestamp(weeks["chart_date"].max()) if len(weeks) else None
            _CHARTS[key] = (aggregate_chart_songs(weeks), last)
    return _CHARTS[key]


def chart_songs(folder: Path) -> pd.DataFrame | None:
    """The data folder's Hot 100 aggregated per song (`aggregate_chart_songs`, the one
    definition of weeks and best position); None without a chart file."""
    return _charts(folder)[0]


def horizon(catalogue: Any) -> Horizon:
    """The catalogue's release years and the charts' last week (`catalogue.folder`)."""
    years = pd.to_numeric(catalogue.index["year"], errors="coerce").dropna()
    return Horizon(
        int(years.min()) if len(years) else None,
        int(years.max()) if len(years) else None,
        _charts(catalogue.folder)[1],
    )


def _normalised(title: str, artist: str | None) -> tuple[str, str | None]:

    row = add_keys(pd.DataFrame({"title": [title], "artist": [artist or ""]})).iloc[0]
    return str(row["norm_title"]), (str(row["norm_artist"]) or None) if artist else None


def on_the_charts(catalogue: Any, title: str, artist: str | None = None) -> pd.DataFrame:
    """The chart songs with this title (and artist, matched on its primary or lead artist),
    earliest first; empty when the charts have none."""
    charts = chart_songs(catalogue.folder)
    if charts is None:
        return pd.DataFrame()
    norm_title, norm_artist = _normalised(title, artist)
    rows = charts[charts["norm_title"] == norm_title]
    if norm_artist:
        rows = rows[(rows["norm_artist"] == norm_artist) | (rows["norm_lead"] == norm_artist)]
    return rows.sort_values("debut_date", kind="stable")


def _chart_words(row: pd.Series) -> str:
    return (
        f"{row['chart_title']!r} by {row['chart_artist']}: on the Hot 100 from "
        f"{pd.Timestamp(row['debut_date']):%Y-%m} (best #{int(row['best_position'])}, "
        f"{int(row['weeks_on_chart'])} weeks)"
    )


def beyond_the_tables(catalogue: Any, title: str, artist: str | None = None) -> str | None:
    """For a title the catalogue lacks: the sentence saying the charts know it after the
    feature tables end, or None when they do not.

    Returns:
        E.g. "'Espresso' by Sabrina Carpenter: on the Hot 100 from 2024-04 (best #3, 30
        weeks); the feature tables end in 2020: analyse its audio (`songpop predict FILE`)
        or use --online".
    """
    span = horizon(catalogue)
    if span.last_year is None:
        return None
    rows = on_the_charts(catalogue, title, artist)
    later = rows[pd.to_datetime(rows["debut_date"]).dt.year > span.last_year] if len(rows) else rows
    if later.empty:
        return None
    return f"{_chart_words(later.iloc[-1])}; the feature tables end in {span.last_year}"


def namesake(catalogue: Any, title: str, found: Any) -> str | None:
    """For a title found without an artist: the sentence asking for the artist when the found
    song never charted and the charts hold a same-titled song by another artist
    `NAMESAKE_YEARS` or more away from it, or None.

    Args:
        catalogue: the `Catalogue`.
        title: the title asked for.
        found: the catalogue's match (`Candidate`: title, artist, year, features["decade"]).
    """
    if found.charted:  # the match is itself a chart song: a namesake is a cover, not a doubt
        return None
    year = found.year if found.year is not None else found.features.get("decade")
    if year is None:
        return None
    year = int(year) + (5 if found.year is None else 0)  # a decade's middle
    rows = on_the_charts(catalogue, title)
    if rows.empty:
        return None
    _, found_artist = _normalised(found.title, found.artist)
    others = rows[(rows["norm_artist"] != found_artist) & (rows["norm_lead"] != found_artist)]
    debut = pd.to_datetime(others["debut_date"]).dt.year
    far = others[(debut - year).abs() >= NAMESAKE_YEARS]
    if far.empty:
        return None
    hits = "; ".join(_chart_words(r) for _, r in far.tail(3).iterrows())
    return (
        f"{title!r}: the catalogue's best match is by {found.artist} ({found.when}), but {hits}; "
        "give --artist to say which song you mean"
    )

"""The local catalogue: every track table of the data folder in one searchable index.

`catalogue_index(tracks, chart_songs)` is a pure step: the canonical track rows (any mix of
sources) with the build's match keys (`prepare.normalize.add_keys`: accents transliterated,
version tags dropped, "feat." and co-billed artists parsed) and, joined on those keys, what
happened to each song on the Hot 100 (weeks, best position), when it charted. The lookup
(`songpop.inference.inputs.lookup`) searches it; nothing here reads or writes files.
"""

from __future__ import annotations

import pandas as pd

from songpop import vocabulary
from songpop.prepare.normalize import add_keys

CHART_FIELDS: tuple[str, ...] = ("weeks_on_chart", "best_position", "debut_date")
_DESCRIBING: tuple[str, ...] = (
    "source_file", "source", "track_id", "title", "artist", "popularity", "hit_target",
    "norm_title", "norm_artist", "norm_lead", "charted", *CHART_FIELDS, "shown_title",
    "shown_artist",
)  # fmt: skip
INDEX_COLUMNS: tuple[str, ...] = (*_DESCRIBING, *vocabulary.KNOWN_FEATURES)
"""What the index holds: the song's description and chart history, then every feature (year and
decade among them)."""


def catalogue_index(tracks: pd.DataFrame, chart_songs: pd.DataFrame | None) -> pd.DataFrame:
    """One row per track row of the inputs, keyed for search, with its chart history.

    Args:
        tracks: canonical track rows (`sources.tracks.read_tracks`), with a `source_file`
            column naming the file each came from.
        chart_songs: `prepare.charts.aggregate_chart_songs` of the Hot 100 weeks, or None when
            the data folder holds no chart file (then `charted` is unknown).

    Returns:
        `INDEX_COLUMNS`: the text columns as strings, `charted` a nullable boolean (True: the
        normalised title and primary or lead artist are on the chart; False: not found on a
        chart that was read; NA: no chart read).
    """
    keyed = add_keys(tracks)
    # a row is findable by its title, or by its id (a saved API answer has no title)
    findable = keyed["norm_title"].fillna("").ne("") | keyed["track_id"].notna()
    keyed = keyed[findable.to_numpy(dtype=bool)].reset_index(drop=True)
    for name in vocabulary.KNOWN_FEATURES:
        if name not in keyed.columns:
            keyed[name] = pd.NA
    if chart_songs is None or chart_songs.empty:
        keyed["charted"] = pd.array([pd.NA] * len(keyed), dtype="boolean")
        for name in CHART_FIELDS:
            keyed[name] = pd.NA
        return shown_spelling(keyed)[list(INDEX_COLUMNS)]
    history = chart_songs[["norm_title", "norm_artist", *CHART_FIELDS]]
    by_primary = keyed.merge(history, on=["norm_title", "norm_artist"], how="left")
    lead = history.rename(columns={"norm_artist": "norm_lead"})
    by_lead = keyed[["norm_title", "norm_lead"]].merge(lead, on=["norm_title", "norm_lead"],
                                                        how="left")  # fmt: skip
    by_lead = by_lead.drop_duplicates(subset=["norm_title", "norm_lead"])  # one per key
    out = by_primary.reset_index(drop=True)  # chart songs are one row per key: no new rows
    missing = out["weeks_on_chart"].isna()
    if missing.any():
        fill = out.loc[missing, ["norm_title", "norm_lead"]].merge(
            by_lead, on=["norm_title", "norm_lead"], how="left"
        )
        for name in CHART_FIELDS:
            out.loc[missing, name] = fill[name].to_numpy()
    out["charted"] = out["weeks_on_chart"].notna().astype("boolean")
    return shown_spelling(out)[list(INDEX_COLUMNS)]


def shown_spelling(rows: pd.DataFrame) -> pd.DataFrame:
    """`shown_title` and `shown_artist`: the title and artist as shown to a person. A table
    that lowercases them (the seed source's "blinding lights" by "the weeknd") is shown in
    another table's mixed-case spelling of the same text ("Blinding Lights" by "The Weeknd");
    only the case ever changes, so a version ("1973 - Acoustic") never replaces a title, and a
    title with capitals of its own, or without letters, stays as it is."""
    title = rows["title"].astype("string").fillna("")
    artist = rows["artist"].astype("string").fillna("")
    out = rows.copy()
    out["shown_title"] = _recased(
        title, title.str.lower() + "\x1f" + rows["norm_artist"].astype("string").fillna("")
    )
    out["shown_artist"] = _recased(artist, artist.str.lower())
    return out


def _recased(text: pd.Series, key: pd.Series) -> pd.Series:
    """Each all-lowercase value replaced by the first mixed-case value with the same key whose
    lowercase is the value itself."""
    lower = text.str.lower()
    cased = text != lower
    spellings = pd.Series(text[cased].to_numpy(), index=key[cased].to_numpy())
    spellings = spellings[~spellings.index.duplicated()]
    lowercase = ~cased & (text != text.str.upper())  # has letters, all of them lowercase
    found = key[lowercase].map(spellings)
    same = found.str.lower() == text[lowercase]
    out = text.copy()
    out[lowercase] = found.where(same.fillna(False), text[lowercase])
    return out

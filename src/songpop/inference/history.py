"""The artist's Hot 100 record before a song's release year, filled in for a model that reads
it (`config.HISTORY_FEATURES`), from the weekly charts saved in the bundle
(`artist_history.parquet`, made by `songpop.prepare.history`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from songpop import config
from songpop.errors import BundleError
from songpop.prepare.history import history_before

if TYPE_CHECKING:
    from songpop.bundle import Bundle

HISTORY = tuple(config.HISTORY_FEATURES)


def needs_history(bundle: Bundle) -> bool:
    """Whether the model reads the artist's earlier chart record."""
    return any(f in HISTORY for f in bundle.feature_names)


def fill_history(records: list[dict[str, Any]], bundle: Bundle) -> list[dict[str, Any]]:
    """Records with the artist's chart history before their year filled in, for a model that
    reads it; records that give those values themselves keep them.

    A record without an artist is filled as an artist with no earlier entry; one without a
    year is left as it is (the model's own check then asks for the year).

    Args:
        records: mappings of field → value (`artist`, `title` and `year` are read).
        bundle: the model.

    Returns:
        New dicts (the given ones are not changed).
    """
    out = [dict(r) if isinstance(r, Mapping) else r for r in records]
    if not needs_history(bundle):
        return out
    todo = [
        i
        for i, r in enumerate(out)
        if isinstance(r, dict)
        and any(r.get(f) is None for f in HISTORY)
        and record_year(r) is not None
    ]
    if not todo:
        return out
    table = bundle.artist_history()
    if table is None:
        raise BundleError(
            f"{bundle.model_id} reads the artist's chart history but its bundle holds no "
            "artist_history.parquet to fill it from; retrain it with `songpop run` (or "
            "`songpop train` on a chart-chance build), or use a model without history"
        )
    frame = pd.DataFrame(
        {
            "artist": [str(out[i].get("artist") or "") for i in todo],
            "title": [str(out[i].get("title") or "") for i in todo],
            "year": [record_year(out[i]) for i in todo],
        }
    )
    filled = history_before(frame, table)
    for k, i in enumerate(todo):
        for name in HISTORY:
            if out[i].get(name) is None and not math.isnan(filled[name].iloc[k]):
                out[i][name] = float(filled[name].iloc[k])
    return out


def fill_history_frame(frame: pd.DataFrame, bundle: Bundle) -> pd.DataFrame:
    """A batch table with the history columns added (or their gaps filled) for a model that
    reads them, from its `artist`, `title` and `year` columns."""
    if not needs_history(bundle) or "year" not in frame.columns:
        return frame
    table = bundle.artist_history()
    if table is None:
        return frame
    rows = pd.DataFrame(
        {
            "artist": frame["artist"].astype("string").fillna("")
            if "artist" in frame
            else pd.Series("", index=frame.index),
            "title": frame["title"].astype("string").fillna("")
            if "title" in frame
            else pd.Series("", index=frame.index),
            "year": pd.to_numeric(frame["year"], errors="coerce"),
        },
        index=frame.index,
    )
    filled = history_before(rows, table)
    out = frame.copy()
    for name in HISTORY:
        if name in out:
            given = pd.to_numeric(out[name], errors="coerce")
            out[name] = given.where(given.notna(), filled[name])
        else:
            out[name] = filled[name].to_numpy()
    return out


def record_year(record: Mapping[str, Any]) -> float | None:
    """The record's release year as a number: its `year`, else the middle of its `decade`;
    None when it has neither (or the value is not a number)."""
    value = record.get("year")
    if value is None:
        decade = record.get("decade")
        return None if decade is None else float(decade) + 5
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number

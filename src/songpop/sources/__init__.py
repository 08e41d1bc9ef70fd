"""Sources: read each known outside layout into one of the two canonical tables.

- `read_charts(path)`: weekly Hot 100 charts -> chart-weeks table.
- `read_tracks(path)` / `read_tracks_many(paths)` / `canonicalize_tracks(df)`: audio-feature
  tables -> tracks table.
- `detect_layout(path)`: the layout name of a file.
- `range_violations(tracks)`: audio values outside `config.FEATURE_RANGES`, for the clean step.
- `songpop.sources.registry`: the declared upstream files and `locate(name)`.
"""

from __future__ import annotations

from songpop.sources.charts import read_charts
from songpop.sources.layouts import LAYOUTS, detect_layout
from songpop.sources.schemas import range_violations, validate_charts, validate_tracks
from songpop.sources.tracks import (
    canonicalize_tracks,
    canonicalize_tracks_lenient,
    read_tracks,
    read_tracks_many,
)

__all__ = [
    "LAYOUTS",
    "canonicalize_tracks",
    "canonicalize_tracks_lenient",
    "detect_layout",
    "range_violations",
    "read_charts",
    "read_tracks",
    "read_tracks_many",
    "validate_charts",
    "validate_tracks",
]

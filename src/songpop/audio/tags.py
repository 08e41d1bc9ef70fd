"""An audio file's tags, read by mutagen: title, artist, album, year, ISRC, duration.

ID3 (latin-1, UTF-16 and UTF-8 frames), Vorbis comments (FLAC, Ogg, Opus), MP4 atoms and RIFF
INFO chunks all come back as the same `Tags`. Damaged or missing tags are not an error: the
fields are then None and `problem` says why.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any

_YEAR = re.compile(r"(1[89]\d\d|20\d\d|2100)")
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")


@dataclass(frozen=True)
class Tags:
    """What a file's tags say (None where they are silent).

    Attributes:
        title, artist, album: text fields.
        year: the release year, from the date tag ("2019-05-03" → 2019).
        isrc: the recording's ISRC, when well formed (12 characters, CC-XXX-YY-NNNNN).
        duration_s: the duration the container declares.
        problem: why the tags could not be read, when they could not.
    """

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    year: int | None = None
    isrc: str | None = None
    duration_s: float | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def read_tags(path: str | os.PathLike[str]) -> Tags:
    """Read the tags of an audio file.

    Args:
        path: the file.

    Returns:
        Tags; all None (with `problem` set) when mutagen cannot parse the file's tags.
    """
    import mutagen

    try:
        audio = mutagen.File(str(path), easy=True)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        return Tags(problem=f"tags unreadable ({type(exc).__name__}: {exc})")
    if audio is None:
        return Tags(problem="no tag format mutagen knows")
    tags = audio.tags or {}
    length = getattr(getattr(audio, "info", None), "length", None)

    def first(*keys: str) -> str | None:
        for key in keys:
            try:
                values = tags.get(key)
            except (KeyError, ValueError):
                values = None
            if values:
                value = values[0] if isinstance(values, list) else values
                text = str(value).replace("\x00", " ").strip()
                if text:
                    return text
        return None

    isrc = first("isrc", "ISRC", "tsrc")
    isrc = isrc.replace("-", "").upper() if isrc else None
    return Tags(
        title=first("title", "TITLE", "INAM"),
        artist=first("artist", "ARTIST", "albumartist", "IART"),
        album=first("album", "ALBUM", "IPRD"),
        year=_year(first("date", "DATE", "year", "originaldate", "ICRD")),
        isrc=isrc if isrc and _ISRC.match(isrc) else None,
        duration_s=round(float(length), 3) if length else None,
    )


def _year(text: str | None) -> int | None:
    if not text:
        return None
    found = _YEAR.search(text)
    return int(found.group(1)) if found else None

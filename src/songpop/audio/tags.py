"""An audio file's tags, read by mutagen: title, artist, album, year, ISRC, duration.

ID3 (latin-1, UTF-16 and UTF-8 frames), Vorbis comments (FLAC, Ogg, Opus), MP4 atoms and RIFF
INFO chunks all come back as the same `Tags`. Damaged or missing tags are not an error: the
fields are then None and `problem` says why.

Tags are untrusted and cheap to inflate: an ID3 tag of 50,000 frames kept mutagen busy for
seconds, a 5 MB title was echoed whole. A file with more than `MAX_TAG_FRAMES` ID3 frames or
Vorbis comments (counted from their headers, before mutagen parses anything) has its tags
skipped, and each text field is cut to `MAX_TAG_CHARS` characters.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import asdict, dataclass
from typing import Any

MAX_TAG_FRAMES = 1_000
"""More ID3 frames or Vorbis comments than this and the tags are not read (a song has tens)."""
MAX_TAG_CHARS = 200
"""A title, artist or album is cut to this many characters."""

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
        crowded = _count_frames(path)
    except OSError as exc:
        return Tags(problem=f"tags unreadable ({type(exc).__name__})")
    if crowded > MAX_TAG_FRAMES:
        return Tags(problem=f"tags not read: more than {MAX_TAG_FRAMES:,} tag frames")
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
                text = str(value)[: MAX_TAG_CHARS * 4].replace("\x00", " ").strip()
                if text:
                    return text if len(text) <= MAX_TAG_CHARS else text[: MAX_TAG_CHARS - 1] + "…"
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


def _count_frames(path: str | os.PathLike[str]) -> int:
    """How many ID3v2 frames (mp3, an ID3 tag at the start) or Vorbis comments (FLAC) the file
    holds, read from their headers alone; counting stops past `MAX_TAG_FRAMES`."""
    with open(path, "rb") as handle:
        head = handle.read(10)
        if len(head) == 10 and head[:3] == b"ID3":
            return _id3_frames(handle, head)
        if head[:4] == b"fLaC":
            return _vorbis_comments(handle)
    return 0


def _syncsafe(data: bytes) -> int:
    return (data[0] & 0x7F) << 21 | (data[1] & 0x7F) << 14 | (data[2] & 0x7F) << 7 | data[3] & 0x7F


def _id3_frames(handle: Any, head: bytes) -> int:
    version, flags, end = head[3], head[5], 10 + _syncsafe(head[6:10])
    position = 10
    if flags & 0x40 and version >= 3:  # an extended header comes first
        handle.seek(10)
        extended = handle.read(4)
        if len(extended) < 4:
            return 0
        size = _syncsafe(extended) if version == 4 else struct.unpack(">I", extended)[0] + 4
        position += size
    header = 6 if version == 2 else 10
    count = 0
    while position + header <= end and count <= MAX_TAG_FRAMES:
        handle.seek(position)
        frame = handle.read(header)
        if len(frame) < header or frame[0] == 0:  # padding or the end of the file
            break
        if version == 2:
            size = int.from_bytes(frame[3:6], "big")
        elif version == 4:
            size = _syncsafe(frame[4:8])
        else:
            size = struct.unpack(">I", frame[4:8])[0]
        position += header + size
        count += 1
    return count


def _vorbis_comments(handle: Any) -> int:
    position = 4
    for _ in range(MAX_TAG_FRAMES):  # metadata blocks
        handle.seek(position)
        block = handle.read(4)
        if len(block) < 4:
            return 0
        kind, size = block[0] & 0x7F, int.from_bytes(block[1:4], "big")
        if kind == 4:  # VORBIS_COMMENT: vendor string, then the number of comments
            vendor = handle.read(4)
            if len(vendor) < 4:
                return 0
            handle.seek(position + 8 + struct.unpack("<I", vendor)[0])
            count = handle.read(4)
            return struct.unpack("<I", count)[0] if len(count) == 4 else 0
        if block[0] & 0x80:  # the last metadata block
            return 0
        position += 4 + size
    return MAX_TAG_FRAMES + 1

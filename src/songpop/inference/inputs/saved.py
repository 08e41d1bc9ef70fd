"""Saved answers of the feature APIs as input: a Spotify Web API audio-features answer
(`{"audio_features": [...]}`, a list of audio-features objects, or one object with `id`, `uri`,
`type`, `track_href`, `analysis_url`) or a ReccoBeats one (`{"content": [...]}`, each entry
naming its Spotify track in `href`).

`saved_records` turns either into prediction records: the features, the Spotify id as `id`,
and the API's own bookkeeping fields left out; a `null` entry (Spotify's answer for an unknown
id) is skipped and said.
"""

from __future__ import annotations

from typing import Any

from songpop.errors import InputError
from songpop.inference.inputs.lookup import parse_spotify

API_FIELDS: frozenset[str] = frozenset(
    {"type", "uri", "track_href", "analysis_url", "href", "isrc", "ean", "upc"}
)
"""Fields of an API answer that describe the request, not the song."""


def is_saved_answer(document: Any) -> bool:
    """Whether a parsed JSON document is a saved Spotify or ReccoBeats answer."""
    if isinstance(document, dict):
        return (
            isinstance(document.get("audio_features"), list)
            or isinstance(document.get("content"), list)
            or document.get("type") == "audio_features"
        )
    if isinstance(document, list) and document:
        first = next((d for d in document if d is not None), None)
        return isinstance(first, dict) and first.get("type") == "audio_features"
    return False


def saved_records(document: Any, origin: str) -> tuple[list[dict[str, Any]], list[int], str]:
    """The records of a saved API answer.

    Args:
        document: the parsed JSON.
        origin: the file, for messages.

    Returns:
        (records, their positions in the answer, the provider: "spotify" or "reccobeats").

    Raises:
        InputError: an entry is not an object, or the answer holds no entry at all.
    """
    if isinstance(document, dict) and isinstance(document.get("content"), list):
        provider, entries = "reccobeats", document["content"]
    elif isinstance(document, dict) and isinstance(document.get("audio_features"), list):
        provider, entries = "spotify", document["audio_features"]
    elif isinstance(document, dict):
        provider, entries = "spotify", [document]
    else:
        provider, entries = "spotify", list(document)
    records, positions = [], []
    for i, entry in enumerate(entries):
        if entry is None:  # Spotify answers null for an id it does not know
            continue
        if not isinstance(entry, dict):
            raise InputError(f"{origin}: entry {i} of the {provider} answer is a "
                             f"{type(entry).__name__}, not an object")  # fmt: skip
        records.append(_record(entry, provider))
        positions.append(i)
    if not records:
        raise InputError(f"{origin}: the saved {provider} answer holds no audio-features entry")
    return records, positions, provider


def _record(entry: dict[str, Any], provider: str) -> dict[str, Any]:

    record = {k: v for k, v in entry.items() if k not in API_FIELDS and k != "id"}
    spotify_id = entry.get("id") if provider == "spotify" else None
    if provider == "reccobeats" and isinstance(entry.get("href"), str):
        try:
            spotify_id = parse_spotify(entry["href"])
        except InputError:
            spotify_id = None
    if spotify_id is None and entry.get("id") is not None:
        spotify_id = entry["id"]  # ReccoBeats' own id when no Spotify link is given
    if spotify_id is not None:
        record["id"] = spotify_id
    if "durationMs" in record:  # ReccoBeats' track objects name it so
        record["duration_ms"] = record.pop("durationMs")
    return record

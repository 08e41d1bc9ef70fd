"""ReccoBeats (no key): `GET /v1/track?ids=` and `GET /v1/audio-features?ids=`, at most 40 ids
a request. Unknown ids are silently left out of its answers, so each answer is mapped back to
its Spotify id by the track link at the end of its `href`.
"""

from __future__ import annotations

from typing import Any

from songpop.providers.cache import AnswerCache
from songpop.providers.http import Client, ProviderError, Settings

NAME = "reccobeats"
BASE_URL = "https://api.reccobeats.com"
BATCH = 40
FEATURES = (
    "acousticness", "danceability", "energy", "instrumentalness", "key", "liveness", "loudness",
    "mode", "speechiness", "tempo", "valence",
)  # fmt: skip


def _spotify_id(entry: Any) -> str | None:
    from songpop.errors import InputError
    from songpop.inference.inputs.lookup import parse_spotify

    href = entry.get("href") if isinstance(entry, dict) else None
    if not isinstance(href, str):
        return None
    try:
        return parse_spotify(href)
    except InputError:
        return None


class ReccoBeats:
    """ReccoBeats tracks and audio features by Spotify id."""

    def __init__(
        self,
        base_url: str = BASE_URL,
        cache: AnswerCache | None = None,
        settings: Settings | None = None,
        transport: Any = None,
    ) -> None:
        self.client = Client(NAME, base_url, settings, transport)
        self.cache = cache

    def close(self) -> None:
        """Close the client."""
        self.client.close()

    def _batched(self, kind: str, path: str, ids: list[str]) -> dict[str, Any]:
        cached = self.cache.get_many(NAME, kind, ids) if self.cache else {}
        wanted = [i for i in dict.fromkeys(ids) if i not in cached]
        for start in range(0, len(wanted), BATCH):
            part = wanted[start : start + BATCH]
            body = self.client.get_json(path, params={"ids": ",".join(part)})
            content = body.get("content") if isinstance(body, dict) else None
            if not isinstance(content, list):
                raise ProviderError(NAME, f"GET {path}: expected {{'content': [...]}} in the "
                                    "answer")  # fmt: skip
            answers: dict[str, Any] = {i: None for i in part}  # left out = unknown
            for entry in content:
                sid = _spotify_id(entry)
                if sid in answers:
                    answers[sid] = entry
            if self.cache:
                self.cache.put_many(NAME, kind, answers)
            cached.update(answers)
        return {i: cached.get(i) for i in ids}

    def features(self, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Spotify id → a record (features, duration, title, artist, popularity), or None when
        ReccoBeats has no audio features for it."""
        tracks = self._batched("track", "/v1/track", ids)
        feats = self._batched("audio-features", "/v1/audio-features", ids)
        out: dict[str, dict[str, Any] | None] = {}
        for i in ids:
            f, t = feats.get(i), tracks.get(i)
            if f is None:
                out[i] = None
                continue
            record: dict[str, Any] = {k: f[k] for k in FEATURES if k in f}
            record["id"] = i
            if isinstance(t, dict):
                if t.get("durationMs") is not None:
                    record["duration_ms"] = t["durationMs"]
                record["title"] = t.get("trackTitle")
                artists = t.get("artists") or []
                if artists and isinstance(artists[0], dict):
                    record["artist"] = ", ".join(str(a.get("name")) for a in artists)
                if t.get("popularity") is not None:
                    record["popularity"] = t["popularity"]
                if t.get("isrc"):
                    record["isrc"] = t["isrc"]
            out[i] = record
        return out

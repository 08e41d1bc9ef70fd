"""The Spotify Web API with client credentials (`SPOTIFY_CLIENT_ID` / `SPOTIFY_CLIENT_SECRET`,
or `~/.config/songpop/credentials.toml`): token, `/v1/search`, `/v1/tracks/{id}` and
`/v1/audio-features?ids=` (at most 100 ids).

Spotify has refused audio features to apps registered after 2024-11-27: their 403 becomes
`FeaturesRefused`, which says so, and the caller tries the next provider; search still
resolves titles to ids. An expired token (401) is refreshed once. The credentials go only into
the token request's Authorization header: never into a log line or an error message.
"""

from __future__ import annotations

import base64
import os
import time
import tomllib
from pathlib import Path
from typing import Any

from songpop.providers.cache import AnswerCache
from songpop.providers.http import Client, ProviderError, Settings

NAME = "spotify"
API_URL = "https://api.spotify.com"
ACCOUNTS_URL = "https://accounts.spotify.com"
BATCH = 100
SEARCH_LIMIT = 10
FEATURES = (
    "acousticness", "danceability", "duration_ms", "energy", "instrumentalness", "key",
    "liveness", "loudness", "mode", "speechiness", "tempo", "time_signature", "valence",
)  # fmt: skip


class FeaturesRefused(ProviderError):
    """Spotify answered 403 to audio features: it no longer serves them to this app."""


class NoCredentials(ProviderError):
    """No Spotify client credentials were found."""


def credentials(config_file: Path | None = None) -> tuple[str, str]:
    """The client id and secret: from the environment, else the config file outside the repo.

    Raises:
        NoCredentials: neither gives both (the message says where to put them, never values).
    """
    cid, secret = os.environ.get("SPOTIFY_CLIENT_ID"), os.environ.get("SPOTIFY_CLIENT_SECRET")
    path = config_file or Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / (
        "songpop/credentials.toml"
    )
    if not (cid and secret) and path.is_file():
        try:
            spotify = tomllib.loads(path.read_text(encoding="utf-8")).get("spotify", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            raise NoCredentials(NAME, f"{path}: not valid TOML") from None
        cid, secret = spotify.get("client_id"), spotify.get("client_secret")
    if not (cid and secret):
        raise NoCredentials(
            NAME,
            "no client credentials: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET, or put "
            f"client_id and client_secret under [spotify] in {path}",
        )
    return str(cid), str(secret)


class Spotify:
    """Search, tracks and audio features from the Spotify Web API."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        api_url: str = API_URL,
        accounts_url: str = ACCOUNTS_URL,
        cache: AnswerCache | None = None,
        settings: Settings | None = None,
        transport: Any = None,
    ) -> None:
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.api = Client(NAME, api_url, settings, transport)
        self.accounts = Client(NAME, accounts_url, settings, transport)
        self.cache = cache
        self._token: str | None = None
        self._expires = 0.0

    def close(self) -> None:
        """Close both clients."""
        self.api.close()
        self.accounts.close()

    def _fetch_token(self) -> str:
        response = self.accounts.request(
            "POST", "/api/token", data={"grant_type": "client_credentials"},
            headers={"authorization": f"Basic {self._basic}"},
        )  # fmt: skip
        if response.status_code in (400, 401):
            raise ProviderError(NAME, "the token request was refused: check the client "
                                "credentials", response.status_code)  # fmt: skip
        body = self.accounts.json(response, "/api/token")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise ProviderError(NAME, "POST /api/token: no access_token in the answer")
        self._token = token
        self._expires = time.monotonic() + float(body.get("expires_in", 3600)) - 30
        return token

    def _get(self, path: str, **params: Any) -> Any:
        """GET with the bearer token; a 401 refreshes the token once."""
        if self._token is None or time.monotonic() >= self._expires:
            self._fetch_token()
        for refreshed in (False, True):
            response = self.api.request(
                "GET", path, params=params or None,
                headers={"authorization": f"Bearer {self._token}"},
            )  # fmt: skip
            if response.status_code == 401 and not refreshed:
                self._fetch_token()
                continue
            if response.status_code == 403 and path == "/v1/audio-features":
                raise FeaturesRefused(
                    NAME,
                    "audio features refused (403): Spotify has not served audio features to "
                    "apps registered after 2024-11-27; trying the next provider",
                    403,
                )
            return self.api.json(response, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def search(self, title: str, artist: str | None = None, limit: int = 5) -> list[dict]:
        """Tracks matching a title (and artist): id, title, artist, isrc, duration, popularity,
        year."""
        query = f'track:"{title}"' + (f' artist:"{artist}"' if artist else "")
        body = self._get("/v1/search", q=query, type="track", limit=min(limit, SEARCH_LIMIT))
        items = ((body or {}).get("tracks") or {}).get("items") or []
        return [_track(t) for t in items if isinstance(t, dict) and t.get("id")]

    def track(self, track_id: str) -> dict[str, Any]:
        """One track's description."""
        return _track(self._get(f"/v1/tracks/{track_id}"))

    def audio_features(self, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Spotify id → its audio features (None when unknown).

        Raises:
            FeaturesRefused: Spotify's 403 for this app.
        """
        cached = self.cache.get_many(NAME, "audio-features", ids) if self.cache else {}
        wanted = [i for i in dict.fromkeys(ids) if i not in cached]
        for start in range(0, len(wanted), BATCH):
            part = wanted[start : start + BATCH]
            body = self._get("/v1/audio-features", ids=",".join(part))
            entries = (body or {}).get("audio_features")
            if not isinstance(entries, list):
                raise ProviderError(NAME, "GET /v1/audio-features: no audio_features list")
            answers: dict[str, Any] = {i: None for i in part}
            for entry in entries:
                if isinstance(entry, dict) and entry.get("id") in answers:
                    answers[entry["id"]] = {k: entry[k] for k in FEATURES if k in entry}
            if self.cache:
                self.cache.put_many(NAME, "audio-features", answers)
            cached.update(answers)
        out = {}
        for i in ids:
            found = cached.get(i)
            out[i] = {**found, "id": i} if found else None
        return out


def _track(t: Any) -> dict[str, Any]:
    if not isinstance(t, dict):
        raise ProviderError(NAME, "a track answer is not an object")
    artists = t.get("artists") or []
    date = str((t.get("album") or {}).get("release_date") or "")
    return {
        "id": t.get("id"),
        "title": t.get("name"),
        "artist": ", ".join(str(a.get("name")) for a in artists if isinstance(a, dict)),
        "isrc": (t.get("external_ids") or {}).get("isrc"),
        "duration_ms": t.get("duration_ms"),
        "popularity": t.get("popularity"),
        "explicit": int(bool(t["explicit"])) if "explicit" in t else None,
        "year": int(date[:4]) if date[:4].isdigit() else None,
    }

"""Ask the providers, in order, for what the local catalogue lacks.

`Providers.from_environment()` reads base URLs (`SONGPOP_RECCOBEATS_URL`,
`SONGPOP_SPOTIFY_API_URL`, `SONGPOP_SPOTIFY_ACCOUNTS_URL`) and Spotify's credentials when
present. `features(ids)` asks ReccoBeats first (no key), then Spotify for the ids still
missing (a 403 there is noted and the answer stays with ReccoBeats'); `search(title, artist)`
needs Spotify's search to turn a name into ids.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from songpop import vocabulary
from songpop.providers import reccobeats, spotify
from songpop.providers.cache import AnswerCache
from songpop.providers.http import ProviderError, Settings

log = logging.getLogger(__name__)


@dataclass
class Found:
    """A track a provider knows: its record (features, id, and title/artist when known)."""

    record: dict[str, Any]
    provider: str

    @property
    def source(self) -> str:
        """The source name predictions use: "reccobeats" or "spotify"."""
        return self.provider


@dataclass
class Providers:
    """The providers to ask, and what they said along the way."""

    recco: reccobeats.ReccoBeats
    spotify: spotify.Spotify | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_environment(
        cls, cache: AnswerCache | None = None, settings: Settings | None = None
    ) -> Providers:
        """ReccoBeats always; Spotify when credentials are set (else a note says how)."""
        cache = cache if cache is not None else AnswerCache()
        recco = reccobeats.ReccoBeats(
            os.environ.get("SONGPOP_RECCOBEATS_URL", reccobeats.BASE_URL), cache, settings
        )
        made = cls(recco)
        try:
            cid, secret = spotify.credentials()
        except spotify.NoCredentials as exc:
            made.notes.append(str(exc))
            return made
        made.spotify = spotify.Spotify(
            cid, secret,
            os.environ.get("SONGPOP_SPOTIFY_API_URL", spotify.API_URL),
            os.environ.get("SONGPOP_SPOTIFY_ACCOUNTS_URL", spotify.ACCOUNTS_URL),
            cache, settings,
        )  # fmt: skip
        return made

    def close(self) -> None:
        """Close every client."""
        self.recco.close()
        if self.spotify is not None:
            self.spotify.close()

    def features(self, ids: list[str]) -> dict[str, Found | None]:
        """Spotify id → what the first provider that knows it answered (None: nobody does)."""
        out: dict[str, Found | None] = dict.fromkeys(ids)
        for sid, record in self.recco.features(ids).items():
            if record is not None:
                out[sid] = Found(record, reccobeats.NAME)
        missing = [i for i, f in out.items() if f is None]
        if missing and self.spotify is not None:
            try:
                for sid, record in self.spotify.audio_features(missing).items():
                    if record is not None:
                        out[sid] = Found(record, spotify.NAME)
            except spotify.FeaturesRefused as exc:
                self.notes.append(str(exc))
        return out

    def search(self, title: str, artist: str | None, limit: int = 5) -> list[dict[str, Any]]:
        """Spotify's search (id, title, artist, isrc, duration, year).

        Raises:
            ProviderError: no Spotify credentials (searching by name needs them).
        """
        if self.spotify is None:
            raise ProviderError(
                spotify.NAME,
                "searching by title needs Spotify's search: "
                + (self.notes[0] if self.notes else "no credentials"),
            )
        return self.spotify.search(title, artist, limit)


def candidates_online(
    providers: Providers,
    ids: list[str] | None = None,
    title: str | None = None,
    artist: str | None = None,
) -> list[Any]:
    """Songs the providers know, as lookup candidates (`source`: the provider's name).

    Args:
        providers: the clients.
        ids: Spotify ids to fetch features for.
        title: a title (and `artist`) to search on Spotify first (needs credentials).

    Returns:
        One candidate per id (or the search's best hit) that some provider has features for.
    """
    from songpop.inference.inputs.lookup import Candidate  # late: loads filelock (start-up)

    wanted = list(ids or [])
    described: dict[str, dict[str, Any]] = {}
    if title:
        hits = providers.search(title, artist, limit=1)
        for hit in hits:
            described[hit["id"]] = hit
            wanted.append(hit["id"])
    out = []
    for sid, found in providers.features(wanted).items():
        if found is None:
            continue
        record = {**described.get(sid, {}), **found.record}
        features = {k: record[k] for k in vocabulary.KNOWN_FEATURES if record.get(k) is not None}
        out.append(
            Candidate(
                title=str(record.get("title") or sid), artist=str(record.get("artist") or "?"),
                year=record.get("year"), source_file="", track_id=sid, score=100.0,
                how="search" if sid in described else "id", features=features,
                popularity=record.get("popularity"), provider=found.provider,
            )
        )  # fmt: skip
    return out

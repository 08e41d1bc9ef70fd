"""ReccoBeats (no key): `GET /v1/track?ids=` and `GET /v1/audio-features?ids=`, at most 40 ids
a request. Unknown ids are silently left out of its answers, so each answer is mapped back to
its Spotify id by the track link at the end of its `href`.

Its upload analysis, `POST /v1/analysis/audio-features` (multipart, the file in the field
`audioFile`, at most 5 MB, of which it hears the first 30 s), answers one JSON object with the
seven 0-1 features, loudness (dB) and tempo (BPM). `ReccoBeats.analyse_excerpt` sends one
excerpt (`songpop.audio.excerpts`), caches the answer by the excerpt's sha256, and waits out a
429's Retry-After only while an overall deadline allows.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import httpx
from tenacity import RetryCallState, wait_exponential

from songpop.errors import InputError
from songpop.providers.cache import AnswerCache
from songpop.providers.http import Client, ProviderError, Settings

NAME = "reccobeats"
BASE_URL = "https://api.reccobeats.com"
BATCH = 40
FEATURES = (
    "acousticness", "danceability", "energy", "instrumentalness", "key", "liveness", "loudness",
    "mode", "speechiness", "tempo", "valence",
)  # fmt: skip
UPLOAD_PATH = "/v1/analysis/audio-features"
UPLOAD_FIELD = "audioFile"
UPLOAD_MAX_BYTES = 5 * 1024 * 1024
UPLOAD_FEATURES = (
    "acousticness", "danceability", "energy", "instrumentalness", "liveness", "speechiness",
    "valence",
)  # fmt: skip
"""The 0-1 features an upload analysis answers (besides loudness and tempo)."""
UPLOAD_SETTINGS = Settings(timeout=60.0, attempts=3, backoff=1.0, max_wait=30.0)
"""An upload is 2.6 MB and the service analyses it before answering: a longer read timeout."""


def _spotify_id(entry: Any) -> str | None:
    from songpop.inference.inputs.lookup import parse_spotify  # late: loads filelock (start-up)

    href = entry.get("href") if isinstance(entry, dict) else None
    if not isinstance(href, str):
        return None
    try:
        return parse_spotify(href)
    except InputError:
        return None


class _DeadlineClient(Client):
    """The shared client, with its waits between tries held to an overall deadline: a 429's
    Retry-After is waited for exactly when it ends before the deadline, and gives up at once
    (naming the wait asked for) when it does not."""

    deadline: float | None = None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = getattr(exc, "retry_after", None)
        wait = after if after is not None else wait_exponential(
            multiplier=self.settings.backoff, max=self.settings.max_wait
        )(state)  # fmt: skip
        if self.deadline is None:
            return min(wait, self.settings.max_wait)
        left = self.deadline - time.monotonic()
        if wait >= left:
            status = getattr(exc, "status", None)
            asked = f"asked to wait {wait:g} s" if after is not None else "still failing"
            raise ProviderError(
                self.provider,
                f"POST {UPLOAD_PATH}: HTTP {status}, {asked}, past the time allowed "
                f"({max(left, 0):.0f} s left)",
                status,
            )
        return wait


def upload_answer(body: Any) -> dict[str, float]:
    """The features of an upload analysis's answer, checked: each 0-1 feature a number in
    [0, 1], loudness and tempo numbers when present.

    Raises:
        ProviderError: not a JSON object, or a feature missing or out of range (named).
    """
    if isinstance(body, dict) and isinstance(body.get("content"), dict):
        body = body["content"]
    if not isinstance(body, dict):
        raise ProviderError(NAME, f"POST {UPLOAD_PATH}: expected a JSON object, got "
                            f"{type(body).__name__}")  # fmt: skip
    out: dict[str, float] = {}
    for name in (*UPLOAD_FEATURES, "loudness", "tempo"):
        value = body.get(name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is None and name in ("loudness", "tempo"):
            continue
        if not number or not math.isfinite(value) or (
            name in UPLOAD_FEATURES and not 0.0 <= value <= 1.0
        ):  # fmt: skip
            raise ProviderError(NAME, f"POST {UPLOAD_PATH}: the answer's {name} is {value!r}, "
                                "expected " + ("a number from 0 to 1" if name in UPLOAD_FEATURES
                                               else "a number"))  # fmt: skip
        out[name] = float(value)
    return out


class ReccoBeats:
    """ReccoBeats tracks and audio features by Spotify id, and the analysis of uploaded audio."""

    def __init__(
        self,
        base_url: str = BASE_URL,
        cache: AnswerCache | None = None,
        settings: Settings | None = None,
        transport: Any = None,
        upload_settings: Settings | None = None,
    ) -> None:
        self.client = Client(NAME, base_url, settings, transport)
        self.uploads = _DeadlineClient(NAME, base_url, upload_settings or UPLOAD_SETTINGS,
                                       transport)  # fmt: skip
        self.cache = cache
        self.base_url = base_url

    def close(self) -> None:
        """Close the clients."""
        self.client.close()
        self.uploads.close()

    def analyse_excerpt(self, wav: bytes, deadline: float | None = None) -> dict[str, float]:
        """The service's analysis of one audio excerpt (cached by its sha256).

        Args:
            wav: the file's bytes (a WAV under `UPLOAD_MAX_BYTES`).
            deadline: `time.monotonic()` by which to have the answer; waits for a 429's
                Retry-After only within it.

        Returns:
            The seven 0-1 features, and loudness (dB) and tempo (BPM) when answered.

        Raises:
            ProviderError: refused (400, 413), retries exhausted, out of time, or an answer
                that is not JSON or lacks a feature.
        """
        key = hashlib.sha256(wav).hexdigest()
        if self.cache is not None:
            cached = self.cache.get_many(NAME, "upload-analysis", [key]).get(key)
            if cached is not None:
                return upload_answer(cached)
        if len(wav) > UPLOAD_MAX_BYTES:
            raise ProviderError(NAME, f"an excerpt of {len(wav)} bytes is over the upload "
                                f"limit of {UPLOAD_MAX_BYTES} bytes", 413)  # fmt: skip
        kwargs: dict[str, Any] = {"files": {UPLOAD_FIELD: ("excerpt.wav", wav, "audio/wav")}}
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProviderError(NAME, f"POST {UPLOAD_PATH}: out of time before sending")
            kwargs["timeout"] = httpx.Timeout(min(self.uploads.settings.timeout, left))
        self.uploads.deadline = deadline
        response = self.uploads.request("POST", UPLOAD_PATH, **kwargs)
        if response.status_code in (400, 413, 415):
            why = {
                400: "the request was refused as malformed",
                413: f"the excerpt ({len(wav)} bytes) is over the service's size limit",
                415: "the service does not take this audio type",
            }[response.status_code]
            status = response.status_code
            raise ProviderError(NAME, f"POST {UPLOAD_PATH}: HTTP {status}, {why}", status)
        answer = upload_answer(self.uploads.json(response, UPLOAD_PATH))
        if self.cache is not None:
            self.cache.put_many(NAME, "upload-analysis", {key: answer})
        return answer

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

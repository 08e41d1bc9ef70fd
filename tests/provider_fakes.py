"""A local fake of ReccoBeats and the Spotify Web API on 127.0.0.1, for the provider tests.

It implements the services' documented answers: ReccoBeats' `GET /v1/track?ids=` and
`GET /v1/audio-features?ids=` (at most 40 ids; unknown ids left out; `{"content": [...]}`,
each entry's `href` the Spotify track link), Spotify's `POST /api/token` (client credentials,
HTTP Basic), `GET /v1/search`, `GET /v1/tracks/{id}` and `GET /v1/audio-features?ids=` (at
most 100; unknown ids answered `null`; 403 for apps registered after 2024-11-27), and
ReccoBeats' upload analysis `POST /v1/analysis/audio-features` (multipart, the file in the field
`audioFile`; 400 without it, 413 over 5 MB; it hears the first 30 s and answers one JSON object
of the seven 0-1 features, loudness and tempo, computed here from the audio so that each
excerpt gets its own answer). A test scripts failures: `fake.fail(path, kind, ...)` makes the
next request to `path` answer 429 (with Retry-After), 500, 401 (an expired token), truncated
JSON, an HTML page instead of JSON, or nothing for a while.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

CLIENT_ID, CLIENT_SECRET = "fake-client-id", "fake-client-secret-0123456789"


def _track(i: int) -> tuple[str, dict[str, Any]]:
    sid = f"{i:03d}AbCdEfGhIjKlMnOpQrS"  # 22 characters, as Spotify ids
    return sid, {
        "title": f"Song {i}", "artist": f"Artist {i % 7}", "duration_ms": 180_000 + 1000 * i,
        "acousticness": 0.1 + 0.01 * i % 0.8, "danceability": 0.5, "energy": 0.6,
        "instrumentalness": 0.0, "key": i % 12, "liveness": 0.1, "loudness": -6.0 - i % 10,
        "mode": i % 2, "speechiness": 0.05, "tempo": 100.0 + i, "valence": 0.4,
        "time_signature": 4, "popularity": 50 + i % 40, "isrc": f"USAAA{i:07d}",
    }  # fmt: skip


TRACKS: dict[str, dict[str, Any]] = dict(_track(i) for i in range(150))
"""What the fake services know: 150 tracks (ids are 22 characters)."""


@dataclass
class FakeState:
    failures: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    features_refused: bool = False
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    recco_unknown: set[str] = field(default_factory=set)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    upload_tempo: float = 120.0
    upload_limit: int = 5 * 1024 * 1024


def _ids(request: Request, limit: int) -> list[str] | Response:
    raw = ",".join(request.query_params.getlist("ids"))
    ids = [i for i in raw.split(",") if i]
    if not ids or len(ids) > limit:
        return JSONResponse({"error": {"status": 400, "message": f"1 to {limit} ids"}}, 400)
    return ids


def make_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def scripted(request: Request, call_next: Any) -> Response:
        state.calls.append((request.method, request.url.path))
        queue = state.failures.get(request.url.path)
        if queue:
            kind, value = queue.pop(0)
            if kind == "ok":
                return await call_next(request)
            if kind == "429":
                return JSONResponse({"error": "rate"}, 429, headers={"retry-after": str(value)})
            if kind == "500":
                return JSONResponse({"error": "boom"}, 500)
            if kind == "401":
                state.tokens.clear()
                return JSONResponse({"error": {"status": 401, "message": "expired"}}, 401)
            if kind == "truncated":
                return Response('{"content": [{"id": "x", "href": "ht', 200,
                                media_type="application/json")  # fmt: skip
            if kind == "html":
                return Response("<html><body>502 Bad Gateway</body></html>", 200,
                                media_type="text/html")  # fmt: skip
            if kind == "sleep":
                await asyncio.sleep(value)
        return await call_next(request)

    # --- ReccoBeats -------------------------------------------------------------------------
    def recco_known(ids: list[str]) -> list[str]:
        return [i for i in ids if i in TRACKS and i not in state.recco_unknown]

    @app.get("/v1/track")
    def recco_tracks(request: Request) -> Any:
        ids = _ids(request, 40)
        if isinstance(ids, Response):
            return ids
        content = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, i)), "trackTitle": TRACKS[i]["title"],
                "artists": [{"id": "a", "name": TRACKS[i]["artist"],
                             "href": "https://open.spotify.com/artist/x"}],
                "durationMs": TRACKS[i]["duration_ms"], "isrc": TRACKS[i]["isrc"],
                "href": f"https://open.spotify.com/track/{i}",
                "popularity": TRACKS[i]["popularity"],
            }
            for i in recco_known(ids)
        ]  # fmt: skip
        return {"content": content}

    @app.get("/v1/audio-features")
    def recco_features(request: Request) -> Any:
        if request.headers.get("authorization"):  # Spotify's endpoint shares the path
            return spotify_features(request)
        ids = _ids(request, 40)
        if isinstance(ids, Response):
            return ids
        keys = ("acousticness", "danceability", "energy", "instrumentalness", "key",
                "liveness", "loudness", "mode", "speechiness", "tempo", "valence")  # fmt: skip
        content = [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, i)),
             "href": f"https://open.spotify.com/track/{i}", **{k: TRACKS[i][k] for k in keys}}
            for i in recco_known(ids)
        ]  # fmt: skip
        return {"content": content}

    @app.post("/v1/analysis/audio-features")
    async def recco_upload(request: Request) -> Any:
        form = await request.form()
        upload = form.get("audioFile")
        if upload is None or isinstance(upload, str):
            return JSONResponse({"error": "audioFile is required"}, 400)
        data = await upload.read()
        if len(data) > state.upload_limit:
            return JSONResponse({"error": "file too large"}, 413)
        return upload_features(data, state)

    # --- Spotify ----------------------------------------------------------------------------
    @app.post("/api/token")
    async def token(request: Request) -> Any:
        state.token_requests += 1
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = (await request.body()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, 401)
        if "grant_type=client_credentials" not in form:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        value = f"tok-{state.token_requests}"
        state.tokens.add(value)
        return {"access_token": value, "token_type": "Bearer", "expires_in": 3600}

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[7:] in state.tokens

    def spotify_features(request: Request) -> Any:
        if not authorised(request):
            return JSONResponse({"error": {"status": 401, "message": "token"}}, 401)
        if state.features_refused:
            return JSONResponse({"error": {"status": 403, "message": "Forbidden"}}, 403)
        ids = _ids(request, 100)
        if isinstance(ids, Response):
            return ids
        keys = ("acousticness", "danceability", "duration_ms", "energy", "instrumentalness",
                "key", "liveness", "loudness", "mode", "speechiness", "tempo",
                "time_signature", "valence")  # fmt: skip
        return {
            "audio_features": [
                {"type": "audio_features", "id": i, "uri": f"spotify:track:{i}",
                 **{k: TRACKS[i][k] for k in keys}} if i in TRACKS else None
                for i in ids
            ]
        }  # fmt: skip

    def spotify_track(i: str) -> dict[str, Any]:
        t = TRACKS[i]
        return {
            "id": i, "name": t["title"], "artists": [{"name": t["artist"]}],
            "duration_ms": t["duration_ms"], "popularity": t["popularity"], "explicit": False,
            "external_ids": {"isrc": t["isrc"]}, "album": {"release_date": "2021-05-01"},
        }  # fmt: skip

    @app.get("/v1/search")
    def search(request: Request, q: str, type: str, limit: int = 20) -> Any:
        if not authorised(request):
            return JSONResponse({"error": {"status": 401, "message": "token"}}, 401)
        if limit > 10:
            return JSONResponse({"error": {"status": 400, "message": "limit"}}, 400)
        title = q.split('track:"')[1].split('"')[0].lower() if 'track:"' in q else q.lower()
        items = [spotify_track(i) for i, t in TRACKS.items() if t["title"].lower() == title]
        return {"tracks": {"items": items[:limit]}}

    @app.get("/v1/tracks/{track_id}")
    def one_track(request: Request, track_id: str) -> Any:
        if not authorised(request):
            return JSONResponse({"error": {"status": 401, "message": "token"}}, 401)
        if track_id not in TRACKS:
            return JSONResponse({"error": {"status": 404, "message": "not found"}}, 404)
        return spotify_track(track_id)

    return app


def upload_features(data: bytes, state: FakeState) -> Any:
    """What the fake hears in an upload: the seven 0-1 features, loudness and tempo, made
    from the first 30 s (a plain function of the signal, so that excerpts differ)."""
    import io

    import numpy as np
    import soundfile as sf

    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001 - any unreadable body is the client's mistake
        return JSONResponse({"error": "unsupported audio"}, 415)
    info = sf.info(io.BytesIO(data))
    state.uploads.append({"bytes": len(data), "rate": rate, "channels": audio.shape[1],
                          "seconds": len(audio) / rate, "subtype": info.subtype})  # fmt: skip
    heard = audio[: 30 * rate].mean(axis=1)
    rms = float(np.sqrt(np.mean(heard**2)))
    level = float(np.clip(rms * 4, 0, 1))
    return {
        "acousticness": round(1 - level, 4), "danceability": 0.6, "energy": round(level, 4),
        "instrumentalness": 0.8, "liveness": 0.12, "speechiness": 0.05,
        "valence": round(float(np.clip(np.abs(heard).max(), 0, 1)), 4),
        "loudness": round(20 * float(np.log10(rms + 1e-9)), 3), "tempo": state.upload_tempo,
    }  # fmt: skip


class Fake:
    """The running fake: its URL, its state, and `fail` to script the next answers."""

    def __init__(self, url: str, state: FakeState) -> None:
        self.url = url
        self.state = state

    def fail(self, path: str, kind: str, value: float = 0.0, times: int = 1) -> None:
        self.state.failures.setdefault(path, []).extend([(kind, value)] * times)

    def calls_to(self, path: str) -> int:
        return sum(1 for _, p in self.state.calls if p == path)


@contextmanager
def running_fake() -> Iterator[Fake]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = FakeState()
    server = uvicorn.Server(
        uvicorn.Config(make_app(state), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake provider server did not start")
        time.sleep(0.02)
    try:
        yield Fake(f"http://127.0.0.1:{port}", state)
    finally:
        # the test is over: answers still in flight (a scripted slow one sleeps for seconds)
        # are dropped, not waited for
        server.should_exit = server.force_exit = True
        thread.join(timeout=10)

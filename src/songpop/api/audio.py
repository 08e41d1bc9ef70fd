"""The API's audio uploads: `POST /analyze` and `POST /predict` with a multipart file.

A multipart request to `/predict` is routed to `/predict/audio` (the JSON `/predict` keeps its
body model). The upload is written to a private temporary folder under a fixed name (only the
client's file suffix is kept, and only when it is a known audio suffix), analysed in a worker
thread, and the folder is always removed. Over the size limit → 413; not audio → 415; audio
songpop cannot use (too short, too long, damaged) → 422. Error messages name the file as the
client called it, never the server's temporary path. At most `--max-analyses` analyses run at
once (`songpop.api.analyses`): an upload that finds them all running gets 503 with Retry-After,
and an analysis whose client disconnects stops at its decoder's next block.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from songpop.api.analyses import run_watched, slots_of
from songpop.api.schemas import ErrorResponse
from songpop.api.state import models_of
from songpop.audio import AUDIO_SUFFIXES, analyze
from songpop.audio.online import OnlineAnalysis
from songpop.errors import AudioError, NotAudioError
from songpop.inference.context import MAX_SIMILAR, positions_svg
from songpop.inference.inputs.audio import predict_audio
from songpop.inference.inputs.find import catalogue_or_none
from songpop.inference.newsong import audio_answer

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
"""Largest audio upload accepted (50 MiB): a 5-minute WAV at 44.1 kHz is 53 MB, a FLAC half."""
UPLOAD_PATHS: frozenset[str] = frozenset({"/analyze", "/predict/audio"})
_SAFE_NAME = re.compile(r"[^\w .()-]+")
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "A malformed multipart body."},
    404: {"model": ErrorResponse, "description": "Unknown model id."},
    413: {"model": ErrorResponse, "description": "Upload over the size limit (50 MiB)."},
    415: {"model": ErrorResponse, "description": "The file is empty or not audio."},
    422: {"model": ErrorResponse, "description": "Audio songpop cannot use: too short, too "
          "long, damaged; or a missing file field."},
    503: {"model": ErrorResponse, "description": "Every analysis slot is taken "
          "(--max-analyses); try again after the Retry-After seconds."},
}  # fmt: skip


router = APIRouter()
"""/analyze and /predict/audio (a multipart POST /predict comes here too)."""


@router.post(
    "/analyze", tags=["audio"], responses={k: _RESPONSES[k] for k in (400, 413, 415, 422, 503)}
)
async def analyze_route(
    request: Request,
    file: UploadFile = File(..., description="An audio file (mp3, wav, flac, ogg, opus)."),
) -> Any:
    """Analyse an uploaded audio file: each feature with its source (measured, estimated,
    tags, default, unknown; reccobeats when the server runs with --online; calibrated with
    a calibration file), the tags and the descriptors. Estimated values are songpop's
    uncalibrated estimates, never Spotify's values."""
    song = await _analyse(file, request)
    if isinstance(song, JSONResponse):
        return song
    return song.to_dict() | {"file": _shown(file)}


@router.post("/predict/audio", tags=["audio"], responses=_RESPONSES)
async def predict_audio_route(
    request: Request,
    file: UploadFile = File(..., description="An audio file (mp3, wav, flac, ogg, opus)."),
    explain: bool = Query(False, description="Explain the point prediction."),
    model: str | None = Query(None, description="Model id (GET /models); default: first."),
    similar: int = Query(0, ge=0, le=MAX_SIMILAR, description="Nearest training songs."),
) -> Any:
    """Predict from an uploaded audio file (also reached as a multipart `POST /predict`):
    the level and probabilities from the file's own values, and each level's range as the
    estimated features move over the values of the model's reference songs closest in what
    was measured. `sources` says where each value came from."""

    bundle = models_of(request).get(model)
    song = await _analyse(file, request)
    if isinstance(song, JSONResponse):
        return song
    result = await run_in_threadpool(
        predict_audio, song, bundle, explain=explain, catalogue=_catalogue(), similar=similar
    )
    out = result.to_dict()
    out["analysis"]["file"] = _shown(file)
    out["classes"] = bundle.levels
    parts = models_of(request).new_song if model is None else None
    if parts is not None:
        answer = await run_in_threadpool(audio_answer, song, result, parts)
        out["new_song"] = [answer.to_dict()]
    if explain:
        out["positions_svg"] = positions_svg(bundle, result.values) or None
    return out


def _catalogue() -> Any:
    """The local catalogue for the tags' lookup, or None when the data folder has none."""

    return catalogue_or_none()[0]


def _shown(file: UploadFile) -> str:
    name = Path(file.filename or "upload").name
    return _SAFE_NAME.sub("_", name)[:120] or "upload"


async def _analyse(file: UploadFile, request: Request | None = None) -> Any:
    """Save the upload to a private temporary folder, analyse it there, remove the folder.
    When the server runs with --online (`app.state.audio_online`), ReccoBeats hears excerpts
    of it; a calibration (`app.state.audio_calibration`) is applied when one was given."""

    state = request.app.state if request is not None else None
    calibration = getattr(state, "audio_calibration", None)
    online = bool(getattr(state, "audio_online", False))
    slots = slots_of(request)
    if not slots.take():  # answered at once, never queued: the client retries later
        await file.close()
        return slots.busy()

    suffix = Path(file.filename or "").suffix.lower()
    suffix = suffix if suffix in AUDIO_SUFFIXES else ""
    folder = Path(tempfile.mkdtemp(prefix="songpop-upload-"))
    target = folder / f"upload{suffix}"
    try:
        with target.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, file.file, out, 1 << 20)
        song = await run_watched(request, _analyse_here, target, calibration, online)
        song.notes = [n.replace(target.name, _shown(file)) for n in song.notes]
        return song
    except NotAudioError as exc:
        return JSONResponse(status_code=415, content={"detail": _message(exc, target, file)})
    except AudioError as exc:
        return JSONResponse(status_code=422, content={"detail": _message(exc, target, file)})
    finally:
        slots.give_back()
        await file.close()
        shutil.rmtree(folder, ignore_errors=True)


def _analyse_here(target: Path, calibration: Any, online: bool) -> Any:
    """Analyse in this (worker) thread; the ReccoBeats client and its sqlite cache are made,
    used and closed here, since sqlite connections stay in the thread that opened them."""

    if not online:
        return analyze(target, calibration=calibration)

    heard = OnlineAnalysis.from_environment()
    try:
        return analyze(target, calibration=calibration, online=heard)
    finally:
        heard.close()


def _message(exc: Exception, target: Path, file: UploadFile) -> str:
    return str(exc).replace(str(target), _shown(file))

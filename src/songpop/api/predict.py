"""Songs in, predictions out: /lookup (the catalogue's candidates) and /predict (one song, a
list, a Spotify link or a title), every one through `songpop.inference.predict`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import songpop.inference
from songpop import config
from songpop.api import schemas
from songpop.api.analyses import lookup_slots_of
from songpop.api.errors import ERROR_RESPONSES, describe_error, problem_item
from songpop.api.offload import off_loop
from songpop.api.state import models_of
from songpop.bundle import Bundle
from songpop.errors import InputError, SongpopError
from songpop.inference import Prediction, RecordError
from songpop.inference.context import positions_svg
from songpop.inference.inputs.find import (
    SongNotFound,
    find_songs,
    list_candidates,
    parse_reference,
    year_source,
)
from songpop.inference.inputs.lookup import load_catalogue
from songpop.inference.known import as_charted, known_song
from songpop.inference.newsong import answer_new_songs
from songpop.io import json_safe
from songpop.providers.http import ProviderError

log = logging.getLogger(__name__)


INLINE_RECORDS = 16
"""Requests with at most this many records (and no explanation) are scored in the event loop."""


router = APIRouter()


@router.get("/lookup", tags=["lookup"])
async def lookup_route(
    q: str = Query(
        ..., min_length=1, max_length=300, description="A title or a Spotify link / URI / id."
    ),
    artist: str | None = Query(None, max_length=300, description="The artist."),
    limit: int = Query(5, ge=1, le=50, description="How many candidates at most."),
    prefix: bool = Query(
        False,
        description="Titles that start with q (suggestions as the "
        "user types) instead of the fuzzy match.",
    ),
) -> list[dict[str, Any]]:
    """Songs of the local catalogue (every track table of the data folder) matching a title
    or a Spotify id: title, artist, year, source file, match score, features and what
    happened to each on the Hot 100. A song that is not there gives an empty list."""

    try:
        parse_reference(q)  # a malformed Spotify link is a 422 naming the field
    except InputError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "q"), "msg": str(exc), "input": q}]
        ) from None

    def find() -> list[dict[str, Any]]:
        found = list_candidates(q, artist, limit=limit, prefix=prefix)
        return [json_safe(c.to_dict()) for c in found]

    return await run_in_threadpool(find)


@router.post(
    "/predict",
    response_model=schemas.PredictResponse,
    responses=ERROR_RESPONSES,
    tags=["predict"],
)
async def predict_route(
    request: Request,
    body: schemas.PredictBody,
    explain: bool = Query(False, description="Add each song's explanation."),
    model: str | None = Query(None, description="Model id (GET /models); default: first."),
    similar: int = Query(
        0, ge=0, le=schemas.MAX_SIMILAR, description="Nearest training songs per song."
    ),
) -> schemas.PredictResponse | JSONResponse:
    """Predict the popularity level of one song, or of a list of songs.

    The body is one song object, a list of them, or `{"records": [...], "explain": true,
    "model": "..."}`. Unknown fields, out-of-range values and missing context a model needs
    are reported with a message that names the field and its allowed range: for one song
    object, as a 422; in a list, the valid records are scored and each invalid one is listed
    in `errors` with its index (a 422 only when no record of the list is valid).
    """
    if isinstance(body, schemas.SpotifyRef | schemas.TitleRef):
        bundle = models_of(request).get(model)
        parts = models_of(request).new_song if model is None else None
        online = bool(getattr(request.app.state, "online", False))
        slots = lookup_slots_of(request) if online else None
        if slots is not None and not slots.take():  # answered at once, never queued
            return slots.busy()
        try:
            return await run_in_threadpool(
                predict_known,
                body,
                bundle,
                explain=explain,
                similar=similar,
                parts=parts,
                online=online,
            )
        finally:
            if slots is not None:
                slots.give_back()
    single = isinstance(body, schemas.Song)
    if isinstance(body, schemas.PredictRequest):
        songs, explain, model = body.records, explain or body.explain, body.model or model
        similar = similar or body.similar
        where: tuple[str, ...] = ("body", "records")
    else:
        songs = body if isinstance(body, list) else [body]
        where = ("body",)
    if explain and len(songs) > schemas.MAX_EXPLAINED_RECORDS:
        raise RequestValidationError(
            [
                {
                    "type": "too_many_explained",
                    "loc": ("query", "explain"),
                    "msg": f"explanations are given for at most "
                    f"{schemas.MAX_EXPLAINED_RECORDS} records per request "
                    f"(got {len(songs)}); ask without explain=true, or send fewer",
                    "input": True,
                }
            ]
        )
    bundle = models_of(request).get(model)
    parts = models_of(request).new_song if model is None else None
    every = all(isinstance(song, schemas.Song) for song in songs)
    small = len(songs) <= schemas.MAX_EXPLAINED_RECORDS or not (explain or similar)
    if every and small and parts is not None and bundle is parts.chance:  # the run's default
        records = [song.model_dump(exclude_none=True) for song in songs]
        return await run_in_threadpool(
            _new_song_response, records, parts, explain=explain, similar=similar
        )
    if single:
        records = [songs[0].model_dump(exclude_none=True)]
        _check_model_inputs(records, bundle)
        if explain or similar:
            return await run_in_threadpool(
                run_predictions, records, bundle, explain=explain, similar=similar
            )
        return await off_loop(run_predictions, records, bundle, explain=False)
    batch = _split_batch(songs, bundle, where)
    if not batch.records:
        return _all_invalid(batch.errors)
    if explain or similar or len(batch.records) > INLINE_RECORDS:
        response = await run_in_threadpool(
            run_predictions,
            batch.records,
            bundle,
            explain=explain,
            similar=similar,
            indices=batch.indices,
            errors=batch.errors,
            where=where,
        )
    else:
        # A few records: on the scoring pool (one thread per core, not Starlette's 40), never
        # in the event loop, where a model that hangs would hold every other request.
        response = await off_loop(
            run_predictions,
            batch.records,
            bundle,
            explain=explain,
            indices=batch.indices,
            errors=batch.errors,
            where=where,
        )
    return response if response.predictions else _all_invalid(response.errors)


def _new_song_response(
    records: list[dict[str, Any]],
    parts: Any,
    *,
    explain: bool,
    similar: int = 0,
    sources: list[str | None] | None = None,
) -> schemas.PredictResponse:
    """One song without a model id: the new-song answer first, then the chance model's own
    prediction of the values it scored (year, context and the artist's history filled)."""

    answers = answer_new_songs(records, parts, year_sources=sources)
    scored = [dict(a.record, **{k: r[k] for k in ("id", "title", "artist") if r.get(k)})
              for a, r in zip(answers, records, strict=True)]  # fmt: skip
    response = run_predictions(scored, parts.chance, explain=explain, similar=similar)
    response.new_song = [json_safe(a.to_dict()) for a in answers]
    return response


def predict_known(
    ref: schemas.SpotifyRef | schemas.TitleRef,
    bundle: Bundle,
    *,
    explain: bool,
    similar: int = 0,
    parts: Any = None,
    online: bool = False,
) -> Any:
    """A `spotify` or `title` body: the song found as the CLI finds it (`inputs.find`: the local
    catalogue, else the feature APIs when the server runs with --online), predicted from its
    real features; 404 when neither has it, with where songpop looked."""

    try:
        if isinstance(ref, schemas.SpotifyRef):
            ident, _ = parse_reference(ref.spotify)
            search = find_songs([ident] if ident else [], None, None, online=online)
        else:
            search = find_songs([], ref.title, ref.artist, online=online)
    except SongNotFound as exc:
        asked = "" if online else "; this server does not ask the feature APIs (it runs offline)"
        return JSONResponse(
            status_code=404,
            content={
                "detail": f"{exc.fact}{asked}: send the song's audio (a multipart POST /predict "
                "with the file) or its features; GET /lookup?q=...&prefix=true lists near titles"
            },
        )
    except ProviderError as exc:  # a feature API failed: the details are the operator's
        log.warning("feature APIs failed for a %s lookup: %s", type(ref).__name__, exc)
        return JSONResponse(
            status_code=502,
            content={
                "detail": "the song is not in the local catalogue and the feature APIs did not "
                "answer; try again later, or send the song's audio or features"
            },
        )
    found = search.songs
    song = found[0]
    if parts is not None and bundle is parts.chance:
        record = dict(song.record(), artist=song.artist, title=song.title)
        response = _new_song_response([record], parts, explain=explain, similar=similar,
                                      sources=[year_source(song)])  # fmt: skip
    else:
        response = run_predictions([song.record()], bundle, explain=explain, similar=similar)
    if not response.predictions:
        return _all_invalid(response.errors)
    out = response.predictions[0]
    out.sources = {name: song.source for name in bundle.feature_names}
    out.song = json_safe(song.to_dict())

    known = known_song(parts.chance if parts is not None else bundle, song.title, song.artist)
    if known is not None:
        out.known = dict(known.to_dict(), line=known.line())
    return response


@dataclass
class _Batch:
    """The records of a list that passed validation (with their positions), and the others."""

    records: list[dict[str, Any]] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    errors: list[schemas.RecordErrors] = field(default_factory=list)


def _split_batch(songs: Sequence[Any], bundle: Bundle, where: tuple[str, ...]) -> _Batch:
    """Sort a list's records into valid ones and invalid ones, each with its described errors."""
    batch = _Batch()
    for index, song in enumerate(songs):
        if isinstance(song, schemas.InvalidRecord):
            raw = [{**e, "loc": (*where, index, *e.get("loc", ()))} for e in song.errors]
        else:
            record = song.model_dump(exclude_none=True)
            raw = _model_input_errors(record, bundle, (*where, index))
            if not raw:
                batch.records.append(record)
                batch.indices.append(index)
                continue
        problems = [schemas.ErrorItem(**describe_error(e)) for e in raw]
        batch.errors.append(schemas.RecordErrors(index=index, problems=problems))
    return batch


def _all_invalid(errors: list[schemas.RecordErrors]) -> JSONResponse:
    """The 422 of a list whose every record is invalid: each record's problems, in order."""
    items = [item.model_dump() for error in errors for item in error.problems]
    return JSONResponse(status_code=422, content={"detail": items})


def _model_input_errors(
    record: dict[str, Any], bundle: Bundle, loc: tuple[str | int, ...]
) -> list[dict[str, Any]]:
    """The optional (context) features the chosen model needs that `record` lacks."""
    return [
        {
            "type": "missing_for_model",
            "loc": (*loc, name),
            "msg": f"model {bundle.model_id} needs it",
            "input": None,
            "ctx": {"model": bundle.model_id},
        }
        for name in bundle.feature_names
        if name in config.CONTEXT_FEATURES and name not in record
    ]


def _check_model_inputs(records: list[dict[str, Any]], bundle: Bundle) -> None:
    """Refuse one song that lacks an optional (context) feature the chosen model needs."""
    errors = [e for record in records for e in _model_input_errors(record, bundle, ("body",))]
    if errors:
        raise RequestValidationError(errors)


def run_predictions(
    records: list[dict[str, Any]],
    bundle: Bundle,
    *,
    explain: bool,
    similar: int = 0,
    indices: list[int] | None = None,
    errors: list[schemas.RecordErrors] | None = None,
    where: tuple[str, ...] = ("body",),
) -> schemas.PredictResponse:
    """Call the one predict path and shape its answers for the API.

    Args:
        records: the records to score.
        bundle: the model.
        explain: add each record's explanation and the chart of where it sits.
        similar: add this many nearest training songs per record.
        indices: for a list, each record's position in the request; records the library refuses
            (`RecordError`) are then moved to `errors` and the rest scored. None: one song, and a
            `RecordError` propagates (a 422).
        errors: the list's records already found invalid, reported along with the predictions.
        where: the location prefix of a list's records in the body, for the errors' `loc`.

    Returns:
        The predictions (with their positions) and the errors, in the order of the request.
    """
    errors = list(errors or [])
    positions = list(indices) if indices is not None else list(range(len(records)))
    predictions: list[Prediction] = []
    while records:
        try:
            # looked up at call time: the one predict path, and a test may stand in for it
            predictions = songpop.inference.predict(
                records, bundle, explain=explain, similar=similar
            )
            break
        except RecordError as exc:
            if indices is None:
                raise
            refused = _record_errors(exc, positions, where)
            errors += refused
            bad = {e.index for e in refused}
            kept = [(r, i) for r, i in zip(records, positions, strict=True) if i not in bad]
            records, positions = [r for r, _ in kept], [i for _, i in kept]
    classes = bundle.levels
    return schemas.PredictResponse(
        model_id=bundle.model_id,
        classes=classes,
        predictions=[
            _prediction_out(p, index, bundle, record if explain else None)
            for p, index, record in zip(predictions, positions, records, strict=True)
        ],
        errors=sorted(errors, key=lambda e: e.index),
    )


def _record_errors(
    exc: RecordError, positions: list[int], where: tuple[str, ...]
) -> list[schemas.RecordErrors]:
    """The library's problems with a list's records, by record, at their request positions."""
    by_index: dict[int, list[schemas.ErrorItem]] = {}
    for problem in exc.problems:
        index = positions[problem.record]
        by_index.setdefault(index, []).append(
            schemas.ErrorItem(**problem_item(problem, index, where))
        )
    if not by_index:  # a refusal that names no record: nothing can be scored
        raise exc
    return [schemas.RecordErrors(index=i, problems=items) for i, items in by_index.items()]


def _as_charted(similar: list[Any]) -> list[Any]:
    """Similar songs with the chart history and spelling a title lookup gives
    (`songpop.inference.known.as_charted`); as they are when there is no data folder."""
    if not similar:
        return similar

    try:
        return as_charted(similar, load_catalogue())
    except SongpopError:
        return similar


def _prediction_out(
    prediction: Prediction, index: int, bundle: Bundle, plotted: Mapping[str, Any] | None = None
) -> schemas.PredictionOut:
    """One prediction for the API; with `plotted` (the record's values), its position chart."""
    explanation = prediction.explanation
    return schemas.PredictionOut(
        index=index,
        level=str(prediction.level),
        probabilities={str(k): float(v) for k, v in prediction.probabilities.items()},
        model_id=prediction.model_id,
        explanation=None if explanation is None else explanation.to_dict(),
        ids={str(k): str(v) for k, v in prediction.ids.items()},
        ignored_fields=list(prediction.ignored_fields),
        words=prediction.words,
        confidence=prediction.confidence,
        warnings=list(prediction.warnings),
        similar=[schemas.SimilarSongOut(**s.to_dict()) for s in _as_charted(prediction.similar)],
        positions_svg=None if plotted is None else positions_svg(bundle, plotted) or None,
    )

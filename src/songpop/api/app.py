"""The HTTP API and the what-if web page, served by one FastAPI app.

Model bundles load once, in the lifespan handler, and live in `app.state`; every prediction goes
through `songpop.inference.predict`, the one prediction path of songpop.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

import songpop
import songpop.inference
from songpop import config, vocabulary
from songpop.api import schemas
from songpop.api.offload import off_loop
from songpop.bundle import Bundle, load_bundle, resolve_model
from songpop.errors import InputError, SchemaError, SongpopError
from songpop.inference import Prediction, Problem, RecordError
from songpop.inference.context import about, model_title, positions_svg
from songpop.io import json_safe

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
INLINE_RECORDS = 16
"""Requests with at most this many records (and no explanation) are scored in the event loop."""
_BODY_TAGS = frozenset({"song", "songs", "request"})
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.ErrorResponse, "description": "The library refused the input."},
    404: {
        "model": schemas.ErrorResponse,
        "description": "Unknown model id, or a `spotify` / `title` song not in the catalogue.",
    },
    413: {"model": schemas.ErrorResponse, "description": "Request body too large."},
    422: {
        "model": schemas.ErrorResponse,
        "description": "Invalid field, range or form (of one song, or of every song of a list).",
    },
}


@dataclass
class LoadedModels:
    """The bundles an app serves, by model id, and which one answers by default."""

    bundles: dict[str, Bundle] = field(default_factory=dict)
    default_id: str | None = None
    new_song: Any = None
    """The last run's new-song answer (`inference.newsong.NewSongParts`) when the server serves
    that run's default; requests without a model id lead with it."""

    def get(self, model_id: str | None) -> Bundle:
        """The bundle named `model_id`, or the default one.

        Raises:
            StarletteHTTPException: 404 when the id is unknown, 503 when nothing is loaded.
        """
        if not self.bundles:
            raise StarletteHTTPException(503, "no model is loaded")
        key = model_id or self.default_id
        if key not in self.bundles:
            known = ", ".join(sorted(self.bundles))
            raise StarletteHTTPException(404, f"unknown model {model_id!r}; loaded: {known}")
        return self.bundles[key]


def load_models(model_paths: Sequence[str | os.PathLike[str]] | None) -> LoadedModels:
    """Load the given bundles, or the default model of the last run.

    Args:
        model_paths: bundle folders (or a run's `models/` folder, meaning its default model);
            None or empty means the default model of the last run.

    Returns:
        The loaded bundles; the first one is the default.

    Raises:
        SongpopError: a folder is missing or not a valid bundle (from `songpop.bundle`).
    """
    paths = [resolve_model(p) for p in model_paths] if model_paths else [resolve_model(None)]
    loaded = LoadedModels()
    new_song = None
    if not model_paths:
        from songpop.inference.newsong import load_new_song

        new_song = load_new_song()
    for path in paths:
        bundle = load_bundle(path, eager=True)  # a refused estimator stops start-up
        if bundle.model_id in loaded.bundles:
            log.warning("model id %s given twice (%s); keeping the first", bundle.model_id, path)
            continue
        loaded.bundles[bundle.model_id] = bundle
        loaded.default_id = loaded.default_id or bundle.model_id
        log.info("loaded model %s from %s", bundle.model_id, path)
    if new_song is not None and new_song.chance.model_id == loaded.default_id:
        new_song.chance = loaded.bundles[loaded.default_id]  # one loaded copy, checked eagerly
        loaded.new_song = new_song
    return loaded


def create_app(
    model_paths: Sequence[str | os.PathLike[str]] | None = None,
    *,
    max_body_bytes: int = schemas.MAX_BODY_BYTES,
    max_upload_bytes: int | None = None,
    models: LoadedModels | None = None,
) -> FastAPI:
    """Build the songpop API and web page.

    Args:
        model_paths: bundle folders to serve; the first is the default model. None: the
            default model of the last run (`songpop.bundle.resolve_model(None)`).
        max_body_bytes: largest JSON request body accepted; bigger ones get 413.
        max_upload_bytes: largest audio upload (/analyze, multipart /predict); default
            `songpop.api.audio.MAX_UPLOAD_BYTES` (50 MiB).
        models: bundles already loaded (`load_models`), served instead of `model_paths`:
            `songpop serve` loads them before the server starts, so that a bad bundle stops it
            with one line rather than inside the server.

    Returns:
        The app; bundles load when its lifespan starts (e.g. under uvicorn or `with TestClient`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.models = models if models is not None else load_models(model_paths)
        except SongpopError as exc:
            log.error("cannot start: %s", exc)
            raise
        # The libraries and models are ~300,000 long-lived objects: a full collection walking
        # them stalls every request for ~0.2 s. Freezing them keeps collections to request data.
        gc.collect()
        gc.freeze()
        yield
        app.state.models = LoadedModels()

    app = FastAPI(
        title="songpop",
        version=songpop.__version__,
        summary="How popular will a song be? Predictions from its audio features.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: no CDN, works offline
        redoc_url=None,
    )
    app.state.models = LoadedModels()
    _add_error_handlers(app)
    _add_routes(app)
    from songpop.api.audio import add_audio_routes

    add_audio_routes(app, _models)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _models(request: Request) -> LoadedModels:
    return request.app.state.models


def _add_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="songpop API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    @app.get("/health", response_model=schemas.Health, tags=["service"])
    async def health(request: Request) -> schemas.Health:
        """Whether the service is up, and which models it serves."""
        models = _models(request)
        return schemas.Health(
            status="ok" if models.bundles else "no model",
            version=songpop.__version__,
            models_loaded=len(models.bundles),
            models=list(models.bundles),
        )

    @app.get("/models", response_model=list[schemas.ModelInfo], tags=["models"])
    async def list_models(request: Request) -> list[schemas.ModelInfo]:
        """The loaded models: classes, inputs, feature set and test metrics."""
        models = _models(request)
        return [
            model_info(bundle, default=model_id == models.default_id)
            for model_id, bundle in models.bundles.items()
        ]

    @app.get("/schema/features", response_model=schemas.FeatureSchema, tags=["models"])
    async def feature_schema(request: Request) -> schemas.FeatureSchema:
        """The inputs of a song with their valid ranges, units and typical values."""
        return build_feature_schema(_models(request))

    @app.get("/lookup", tags=["lookup"])
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
        from songpop.inference.inputs.find import list_candidates, parse_reference

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

    @app.post(
        "/predict",
        response_model=schemas.PredictResponse,
        responses=_ERROR_RESPONSES,
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
            bundle = _models(request).get(model)
            parts = _models(request).new_song if model is None else None
            online = bool(getattr(request.app.state, "online", False))
            return await run_in_threadpool(
                predict_known,
                body,
                bundle,
                explain=explain,
                similar=similar,
                parts=parts,
                online=online,
            )
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
        bundle = _models(request).get(model)
        parts = _models(request).new_song if model is None else None
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
    from songpop.inference.newsong import answer_new_songs

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
    from songpop.inference.inputs.find import SongNotFound, find_songs, parse_reference

    try:
        if isinstance(ref, schemas.SpotifyRef):
            ident, _ = parse_reference(ref.spotify)
            search = find_songs([ident] if ident else [], None, None, online=online)
        else:
            search = find_songs([], ref.title, ref.artist, online=online)
    except SongNotFound as exc:
        return JSONResponse(
            status_code=404,
            content={"detail": f"{exc}; or send the song's features (POST /predict)"},
        )
    found = search.songs
    song = found[0]
    if parts is not None and bundle is parts.chance:
        record = dict(song.record(), artist=song.artist, title=song.title)
        year = "from the local catalogue" if record.get("year") is not None else None
        response = _new_song_response([record], parts, explain=explain, similar=similar,
                                      sources=[year])  # fmt: skip
    else:
        response = run_predictions([song.record()], bundle, explain=explain, similar=similar)
    if not response.predictions:
        return _all_invalid(response.errors)
    out = response.predictions[0]
    out.sources = {name: song.source for name in bundle.feature_names}
    out.song = json_safe(song.to_dict())
    from songpop.inference.known import known_song

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
            schemas.ErrorItem(**_problem_item(problem, index, where))
        )
    if not by_index:  # a refusal that names no record: nothing can be scored
        raise exc
    return [schemas.RecordErrors(index=i, problems=items) for i, items in by_index.items()]


def _problem_item(problem: Problem, index: int, where: tuple[str, ...]) -> dict[str, Any]:
    """One `songpop.inference` problem as an error item naming its record and field."""
    loc = [*where, index, problem.field] if problem.field else [*where, index]
    return {
        "loc": loc,
        "field": problem.field,
        "msg": f"record {index}: {problem.message}",
        "type": "invalid_record",
    }


def _as_charted(similar: list[Any]) -> list[Any]:
    """Similar songs with the chart history and spelling a title lookup gives
    (`songpop.inference.known.as_charted`); as they are when there is no data folder."""
    if not similar:
        return similar
    from songpop.inference.inputs.lookup import load_catalogue
    from songpop.inference.known import as_charted

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


def model_info(bundle: Bundle, *, default: bool = False) -> schemas.ModelInfo:
    """What the API tells about one bundle."""
    meta = bundle.meta or {}
    return schemas.ModelInfo(
        id=bundle.model_id,
        title=model_title(bundle),
        task=meta.get("task"),
        label_strategy=meta.get("label_strategy"),
        classes=bundle.levels,
        feature_names=list(bundle.feature_names),
        feature_set=meta.get("feature_set"),
        metrics=_metrics_summary(meta.get("metrics") or {}),
        default=default,
        about=about(bundle),
    )


def _metrics_summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar metrics (and one level of nested ones), JSON-safe."""
    summary: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, bool | int | float | str):
            summary[key] = value
        elif isinstance(value, Mapping):
            summary[key] = {
                k: v for k, v in value.items() if isinstance(v, bool | int | float | str)
            }
    return summary


def build_feature_schema(models: LoadedModels) -> schemas.FeatureSchema:
    """The web form's inputs: every audio feature, and the context features a model uses."""
    used_by: dict[str, list[str]] = {}
    for model_id, bundle in models.bundles.items():
        for name in bundle.feature_names:
            used_by.setdefault(name, []).append(model_id)
    defaults, source = _defaults(models)
    names = list(config.AUDIO_FEATURES) + [n for n in config.CONTEXT_FEATURES if n in used_by]
    specs = []
    for name in names:
        feature = vocabulary.FEATURES[name]
        low, high = feature.bounds
        step = feature.step
        specs.append(
            schemas.FeatureSpec(
                name=name,
                label=feature.label,
                description=feature.description,
                unit=feature.unit,
                kind="int" if feature.integer else "float",
                min=low,
                max=high,
                step=step,
                default=_snap(float(defaults[name]), low, high, step),
                group=feature.group,
                used_by=used_by.get(name, []),
            )
        )
    return schemas.FeatureSchema(
        features=specs, defaults_source=source, new_song=models.new_song is not None
    )


def _snap(value: float, low: float, high: float, step: float) -> float:
    """`value` on the slider's grid (a multiple of `step`) and within [low, high]."""
    decimals = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0
    return min(max(round(round(value / step) * step, decimals), low), high)


def _defaults(models: LoadedModels) -> tuple[dict[str, float | int], str]:
    """A typical song: the default bundle's typical training values when it recorded them."""
    defaults = dict(schemas.TYPICAL_SONG)
    documented = "typical values documented in songpop.api.schemas (medians of the seed data)"
    if models.default_id is None:
        return defaults, documented
    reference = models.bundles[models.default_id].meta.get("reference") or {}
    typical = reference.get("typical") if isinstance(reference, Mapping) else None
    if not isinstance(typical, Mapping) or not typical:
        return defaults, documented
    for name, value in typical.items():
        if name in defaults and isinstance(value, int | float):
            defaults[name] = round(value) if name in schemas.INTEGER_FEATURES else value
    return defaults, f"typical values of the training data of model {models.default_id}"


# --- errors -------------------------------------------------------------------------------------


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(
        request: Request,  # noqa: ARG001  (FastAPI's exception-handler signature)
        exc: RequestValidationError,
    ) -> JSONResponse:
        items = [describe_error(e) for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": items})

    @app.exception_handler(SongpopError)
    async def songpop_error(request: Request, exc: SongpopError) -> JSONResponse:  # noqa: ARG001
        status = 422 if isinstance(exc, InputError | SchemaError) else 400
        log.info("refused request: %s", exc)
        problems = getattr(exc, "problems", None)
        if not problems:
            return JSONResponse(status_code=status, content={"detail": str(exc)})
        items = [_problem_item(p, p.record, ("body",)) for p in problems]
        return JSONResponse(status_code=status, content={"detail": items})


def describe_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """A pydantic error as an item of a 422 answer, with a message that names field and range.

    Args:
        error: one item of `RequestValidationError.errors()`.

    Returns:
        `{"loc", "field", "msg", "type"}`; `msg` reads like "record 2: tempo must be a number
        from 0 to 300 BPM (got 512)".
    """
    loc = [part for i, part in enumerate(error.get("loc", ())) if not _is_tag(i, part)]
    kind = str(error.get("type", "value_error"))
    if kind == "json_invalid":  # its loc is ("body", character position)
        position = loc[1] if len(loc) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        msg = f"the request body is not valid JSON: {reason} (at character {position})"
        return {"loc": loc, "field": None, "msg": msg, "type": kind}
    path = loc[1:] if loc and loc[0] == "body" else loc
    if path[:1] == ["records"]:
        path = path[1:]
    index = next((p for p in path if isinstance(p, int)), None)
    name = next((p for p in reversed(path) if isinstance(p, str)), None)
    prefix = f"record {index}: " if index is not None else ""
    msg = _message(kind, name, error, loc)
    return {"loc": loc, "field": name, "msg": prefix + msg, "type": kind}


def _is_tag(position: int, part: Any) -> bool:
    return position == 1 and part in _BODY_TAGS


def _message(kind: str, name: str | None, error: Mapping[str, Any], loc: list[Any]) -> str:
    given = _short(error.get("input"))
    if kind == "extra_forbidden":
        allowed = ", ".join(config.AUDIO_FEATURES + config.CONTEXT_FEATURES)
        return f"unknown field {name!r}; a song has only these fields: {allowed}"
    if name in vocabulary.FEATURES and loc and loc[0] == "body":
        allowed = _allowed(name)
        if kind == "missing":
            return f"{name} is required: {allowed}"
        if kind == "missing_for_model":
            return f"{name} is required by model {error['ctx']['model']}: {allowed}"
        return f"{name} must be {allowed} (got {given})"
    if kind in {"too_long", "too_short"} and name in {None, "records"}:
        return f"send from 1 to {schemas.MAX_RECORDS} records per request (got {given})"
    where = ".".join(str(p) for p in loc) or "request"
    return f"{where}: {error.get('msg', 'invalid value')}"


def _allowed(name: str) -> str:
    return vocabulary.FEATURES[name].allowed()


def _short(value: Any, limit: int = 60) -> str:
    """The offending input, short enough to quote in a message."""
    if isinstance(value, list | dict):
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, str | bytes):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- body size limit ----------------------------------------------------------------------------

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` once the streamed body passes the limit.

    An HTTPException, so that FastAPI's body reader re-raises it instead of turning it into 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_message(limit))


def _too_large_message(limit: int) -> str:
    return f"request body too large: the limit is {limit} bytes ({limit // 1024} KiB)"


class BodySizeLimit:
    """Pure ASGI middleware: 413 when a request body exceeds `max_bytes`.

    Checks the Content-Length header first, then counts the bytes actually streamed, so a chunked
    upload or a lying header cannot get past it.
    """

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        max_bytes: int,
        max_upload_bytes: int | None = None,
    ) -> None:
        from songpop.api.audio import MAX_UPLOAD_BYTES

        self.app = app
        self.json_bytes = max_bytes
        self.upload_bytes = max_upload_bytes if max_upload_bytes is not None else MAX_UPLOAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from songpop.api.audio import UPLOAD_PATHS

        limit = self.upload_bytes if scope.get("path") in UPLOAD_PATHS else self.json_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        detail = {"detail": _too_large_message(limit)}
        await _send_json(send, 413, detail, close=True)


def _content_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:  # absent or not a number
        return None


PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
"""The Content-Security-Policy of songpop's pages: only its own files, nothing inline."""
DOCS_POLICY = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
"""/docs: Swagger UI starts from one inline script (its files are still served locally)."""
JSON_ONLY_PATHS: frozenset[str] = frozenset({"/predict"})
"""Routes whose body must be JSON (or, for /predict, a multipart audio upload): anything else is
a 415 that says what to send."""
AUDIO_ROUTES: dict[str, str] = {"/predict": "/predict/audio"}
"""A multipart upload to these paths goes to the audio route."""


class SecurityHeaders:
    """Pure ASGI middleware: headers every answer carries, and 415 for a body that is not JSON.

    Every response gets `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`;
    HTML pages get a Content-Security-Policy that lets them load only songpop's own files.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        has_body = (_content_length(scope) or 0) > 0 or bool(_header(scope, b"transfer-encoding"))
        kind = _header(scope, b"content-type").split(";")[0].strip().lower()
        if path in AUDIO_ROUTES and kind == "multipart/form-data":
            path = AUDIO_ROUTES[path]
            scope = {**scope, "path": path, "raw_path": path.encode()}
        elif (
            has_body and scope.get("method") in ("POST", "PUT", "PATCH") and path in JSON_ONLY_PATHS
        ):
            if kind != "application/json" and not kind.endswith("+json"):
                await _send_json(
                    send,
                    415,
                    {
                        "detail": f"{path} takes a JSON body (Content-Type: application/json) "
                        f"or an audio file as multipart/form-data; got {kind or 'no Content-Type'}"
                    },
                )
                return
        policy = DOCS_POLICY if path == "/docs" else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                kind = dict(headers).get(b"content-type", b"")
                if kind.startswith(b"text/html"):
                    headers.append((b"content-security-policy", policy.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


async def _send_json(
    send: Send, status: int, payload: Mapping[str, Any], *, close: bool = False
) -> None:
    """Answer from a middleware with a JSON body (`close`: and end the connection)."""
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

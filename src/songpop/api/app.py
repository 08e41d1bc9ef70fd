"""The HTTP API and the what-if web page, served by one FastAPI app.

Model bundles load once, in the lifespan handler, and live in `app.state`; every prediction goes
through `songpop.inference.predict`, the one prediction path of songpop.

The routes live by area: `service` (the page, docs, health, models), `predict` (lookup and
prediction), `audio` (uploads); `state` holds the loaded models, `errors` the 422 shape,
`limits` the body-size limit and security headers.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

import songpop
from songpop.api import schemas
from songpop.api.audio import router as audio_router
from songpop.api.errors import add_error_handlers
from songpop.api.limits import BodySizeLimit, SecurityHeaders
from songpop.api.predict import router as predict_router
from songpop.api.service import STATIC_DIR
from songpop.api.service import router as service_router
from songpop.api.state import LoadedModels, load_models
from songpop.errors import SongpopError

log = logging.getLogger(__name__)

__all__ = ["LoadedModels", "create_app", "load_models"]


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
    add_error_handlers(app)
    for router in (service_router, predict_router, audio_router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    return app

"""The models a running app serves (`app.state.models`): loaded once when the app starts."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from songpop.bundle import Bundle, load_bundle, resolve_model
from songpop.inference.newsong import load_new_song

log = logging.getLogger(__name__)


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


def models_of(request: Request) -> LoadedModels:
    """The loaded models of the app serving this request."""
    return request.app.state.models

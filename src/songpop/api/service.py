"""The page, the API's documentation, and what the server serves: /, /docs, /health, /models and
/schema/features."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

import songpop
from songpop import config, vocabulary
from songpop.api import schemas
from songpop.api.state import LoadedModels, models_of
from songpop.bundle import Bundle
from songpop.inference.context import about, model_title

log = logging.getLogger(__name__)


STATIC_DIR = Path(__file__).resolve().parent / "static"


router = APIRouter()


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="songpop API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon-32x32.png",
    )


@router.get("/health", response_model=schemas.Health, tags=["service"])
async def health(request: Request) -> schemas.Health:
    """Whether the service is up, and which models it serves."""
    models = models_of(request)
    return schemas.Health(
        status="ok" if models.bundles else "no model",
        version=songpop.__version__,
        models_loaded=len(models.bundles),
        models=list(models.bundles),
    )


@router.get("/models", response_model=list[schemas.ModelInfo], tags=["models"])
async def list_models(request: Request) -> list[schemas.ModelInfo]:
    """The loaded models: classes, inputs, feature set and test metrics."""
    models = models_of(request)
    return [
        model_info(bundle, default=model_id == models.default_id)
        for model_id, bundle in models.bundles.items()
    ]


@router.get("/schema/features", response_model=schemas.FeatureSchema, tags=["models"])
async def feature_schema(request: Request) -> schemas.FeatureSchema:
    """The inputs of a song with their valid ranges, units and typical values."""
    return build_feature_schema(models_of(request))


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

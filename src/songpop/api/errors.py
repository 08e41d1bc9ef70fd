"""Every refusal in one shape: a 422 naming the field, its allowed range and what was sent
(`describe_error`), and the handlers that turn songpop's own errors into such answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from songpop import config, vocabulary
from songpop.api import schemas
from songpop.errors import InputError, SchemaError, SongpopError
from songpop.inference import Problem

log = logging.getLogger(__name__)


_BODY_TAGS = frozenset({"song", "songs", "request"})


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.ErrorResponse, "description": "The library refused the input."},
    404: {
        "model": schemas.ErrorResponse,
        "description": "Unknown model id, or a `spotify` / `title` song in neither the local "
        "catalogue nor (on a server run with --online) the feature APIs.",
    },
    413: {"model": schemas.ErrorResponse, "description": "Request body too large."},
    422: {
        "model": schemas.ErrorResponse,
        "description": "Invalid field, range or form (of one song, or of every song of a "
        "list); or a `title` whose only match is decades away from a chart hit of the same "
        "title: send the `artist` too.",
    },
    503: {
        "model": schemas.ErrorResponse,
        "description": "On a server run with --online, every online lookup slot is taken; "
        "try again after the Retry-After seconds.",
    },
    502: {
        "model": schemas.ErrorResponse,
        "description": "A `spotify` / `title` song the catalogue lacks, on a server run with "
        "--online, and the feature APIs did not answer.",
    },
}


def add_error_handlers(app: FastAPI) -> None:
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
        items = [problem_item(p, p.record, ("body",)) for p in problems]
        return JSONResponse(status_code=status, content={"detail": items})


def problem_item(problem: Problem, index: int, where: tuple[str, ...]) -> dict[str, Any]:
    """One `songpop.inference` problem as an error item naming its record and field."""
    loc = [*where, index, problem.field] if problem.field else [*where, index]
    return {
        "loc": loc,
        "field": problem.field,
        "msg": f"record {index}: {problem.message}",
        "type": "invalid_record",
    }


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

"""What every request passes through before a route sees it: the body-size limit (413 before
the body is read) and the security headers of every answer."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from songpop.api.audio import MAX_UPLOAD_BYTES, UPLOAD_PATHS

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

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
        self.app = app
        self.json_bytes = max_bytes
        self.upload_bytes = max_upload_bytes if max_upload_bytes is not None else MAX_UPLOAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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

"""One HTTP client for every provider: httpx with timeouts, retries by tenacity.

Retried: 5xx answers, timeouts and connection errors (exponential backoff), and 429 (after the
answer's `Retry-After` seconds, capped). Not retried: other 4xx answers, which become a
`ProviderError` carrying the status. A body that is not JSON is a `ProviderError` naming the
provider and the request path. Messages never hold headers, tokens or credentials.

An answer is untrusted input. Each call (its retries and waits included) has an overall
deadline (`Settings.deadline`, `SONGPOP_PROVIDER_DEADLINE` seconds, default 60): a server that
sends one byte every few seconds is cut off there, and a Retry-After that ends past it is not
waited for. A body is read as it comes and decompressed here (gzip or deflate only), and refused
past `Settings.max_bytes` after decompression (a 1 MB gzip answer may inflate to 1 GiB). The
JSON is then parsed within the same size and a depth limit. Each is said in one line.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from songpop.errors import SongpopError
from songpop.io import loads_limited

log = logging.getLogger(__name__)


class ProviderError(SongpopError):
    """A provider refused a request or answered something unusable.

    Attributes:
        provider: "reccobeats" or "spotify".
        status: the HTTP status, when there was an answer.
    """

    exit_code = 3

    def __init__(self, provider: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class _Retryable(Exception):
    """An answer worth asking again for (429, 5xx), with how long the server asked to wait."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class _Refused(Exception):
    """An answer not worth asking again for: past the deadline, or too large."""


DEADLINE_ENV = "SONGPOP_PROVIDER_DEADLINE"
DEFAULT_DEADLINE = 60.0
MAX_ANSWER_BYTES = 8 * 1024 * 1024
"""Largest answer read, after decompression (a page of 100 tracks' features is ~60 KB)."""


def _deadline_from_environment() -> float:
    text = os.environ.get(DEADLINE_ENV, "").strip()
    if not text:
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SongpopError(f"{DEADLINE_ENV}={text!r}: expected a number of seconds above 0")
    return value


@dataclass(frozen=True)
class Settings:
    """How patient a client is.

    Attributes:
        timeout: seconds for connecting and for each read.
        attempts: tries per request, the first included.
        backoff: first wait between tries (doubling), seconds.
        max_wait: the longest wait between tries, Retry-After included, seconds.
        deadline: the longest one call may take, its tries and waits included, seconds
            (default `$SONGPOP_PROVIDER_DEADLINE`, else 60); a read in progress then may run
            on for at most `timeout`.
        max_bytes: the largest answer read, after decompression.
    """

    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0
    deadline: float = field(default_factory=_deadline_from_environment)
    max_bytes: int = MAX_ANSWER_BYTES


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class Client:
    """GET / POST JSON from one provider.

    Args:
        provider: its name, for messages.
        base_url: e.g. "https://api.reccobeats.com" (configurable, so tests use a local server).
        settings: timeouts and retries.
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        settings: Settings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.settings = settings or Settings()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(self.settings.timeout),
            transport=transport,
            headers={
                "accept": "application/json",
                "accept-encoding": "gzip, deflate",  # what `_read` decompresses
                "user-agent": "songpop",
            },
        )
        self._until: float | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            wait = min(after, self.settings.max_wait)
        else:
            backoff = wait_exponential(multiplier=self.settings.backoff, max=self.settings.max_wait)
            wait = backoff(state)
        left = (self._until - time.monotonic()) if self._until is not None else float("inf")
        if wait >= left:
            status = getattr(exc, "status", None)
            asked = f"asked to wait {after:g} s" if after is not None else "still failing"
            shown = f"HTTP {status}" if status is not None else type(exc).__name__
            raise _Refused(f"{shown}, {asked}, past the {self.settings.deadline:g} s allowed "
                           f"per call ({DEADLINE_ENV})")  # fmt: skip
        return wait

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request with the retry policy; the final answer (2xx, or a 4xx not retried).

        Raises:
            ProviderError: retries exhausted, or the provider could not be reached.
        """
        retrying = Retrying(
            retry=retry_if_exception(
                lambda e: isinstance(e, _Retryable | httpx.TimeoutException | httpx.TransportError)
            ),
            stop=stop_after_attempt(self.settings.attempts),
            wait=self._wait,
            reraise=True,
        )
        self._until = time.monotonic() + self.settings.deadline
        try:
            for attempt in retrying:
                with attempt:
                    response = self._send(method, path, **kwargs)
                    if response.status_code == 429 or response.status_code >= 500:
                        log.info("%s %s: HTTP %d, retrying", self.provider, path,
                                 response.status_code)  # fmt: skip
                        raise _Retryable(response.status_code, _retry_after(response))
                    return response
        except _Retryable as exc:
            raise ProviderError(
                self.provider,
                f"{method} {path}: HTTP {exc.status} after {self.settings.attempts} tries",
                exc.status,
            ) from None
        except httpx.TimeoutException:
            raise ProviderError(
                self.provider,
                f"{method} {path}: no answer within {self.settings.timeout:g} s "
                f"({self.settings.attempts} tries)",
            ) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                self.provider, f"{method} {path}: cannot connect ({type(exc).__name__})"
            ) from None
        except _Refused as exc:
            raise ProviderError(self.provider, f"{method} {path}: {exc}") from None
        finally:
            self._until = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One try: the answer read in full within the call's deadline and size limit."""
        assert self._until is not None
        left = self._until - time.monotonic()
        if left <= 0:
            raise _Refused(f"no complete answer within the {self.settings.deadline:g} s "
                           f"allowed per call ({DEADLINE_ENV})")  # fmt: skip
        request = self._http.build_request(method, path, **kwargs)
        request.extensions["timeout"] = httpx.Timeout(min(self.settings.timeout, left)).as_dict()
        response = self._http.send(request, stream=True)
        try:
            body = self._read(response)
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length")]  # fmt: skip
        return httpx.Response(response.status_code, headers=headers, content=body,
                              request=request)  # fmt: skip

    def _read(self, response: httpx.Response) -> bytes:
        """The body, decompressed here, refused past the deadline or `max_bytes`."""
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            inflate: Any = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflate = zlib.decompressobj()
        elif encoding in ("identity", ""):
            inflate = None
        else:
            raise _Refused(f"the answer is {encoding}-encoded; songpop reads gzip or deflate")
        limit = self.settings.max_bytes
        parts: list[bytes] = []
        size = 0
        try:
            raws: Any = response.iter_raw()
            if response.is_stream_consumed:  # a transport handed it over read (and decoded)
                raws, inflate = [response.content], None
            for raw in raws:
                if self._until is not None and time.monotonic() > self._until:
                    raise _Refused(f"no complete answer within the {self.settings.deadline:g} s "
                                   f"allowed per call ({DEADLINE_ENV})")  # fmt: skip
                data = raw
                while True:
                    if inflate is not None:
                        data = inflate.decompress(data, limit - size + 1)
                    size += len(data)
                    if size > limit:
                        raise _Refused(f"the answer is over {limit:,} bytes (after "
                                       "decompression); refusing it")  # fmt: skip
                    parts.append(data)
                    if inflate is None or not inflate.unconsumed_tail:
                        break
                    data = inflate.unconsumed_tail
        except zlib.error:
            raise _Refused(f"the answer's {encoding} data is damaged") from None
        return b"".join(parts)

    def json(self, response: httpx.Response, path: str) -> Any:
        """The JSON body of a 2xx answer; a ProviderError for any other status or bad JSON."""
        if response.status_code >= 400:
            raise ProviderError(
                self.provider,
                f"{response.request.method} {path}: HTTP {response.status_code}",
                response.status_code,
            )
        try:
            return loads_limited(response.content, max_bytes=self.settings.max_bytes)
        except ValueError as exc:
            reason = str(exc) if "nested" in str(exc) or "bytes" in str(exc) else "not valid JSON"
            raise ProviderError(
                self.provider,
                f"{response.request.method} {path}: the answer is {reason} "
                f"({len(response.content)} bytes)",
                response.status_code,
            ) from None

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET and parse (see `request` and `json`)."""
        return self.json(self.request("GET", path, **kwargs), path)

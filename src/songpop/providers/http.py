"""One HTTP client for every provider: httpx with timeouts, retries by tenacity.

Retried: 5xx answers, timeouts and connection errors (exponential backoff), and 429 (after the
answer's `Retry-After` seconds, capped). Not retried: other 4xx answers, which become a
`ProviderError` carrying the status. A body that is not JSON is a `ProviderError` naming the
provider and the request path. Messages never hold headers, tokens or credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Settings:
    """How patient a client is.

    Attributes:
        timeout: seconds for connecting and for each read.
        attempts: tries per request, the first included.
        backoff: first wait between tries (doubling), seconds.
        max_wait: the longest wait between tries, Retry-After included, seconds.
    """

    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0


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
            headers={"accept": "application/json", "user-agent": "songpop"},
        )

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
            return min(after, self.settings.max_wait)
        backoff = wait_exponential(multiplier=self.settings.backoff, max=self.settings.max_wait)
        return backoff(state)

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
        try:
            for attempt in retrying:
                with attempt:
                    response = self._http.request(method, path, **kwargs)
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
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, response: httpx.Response, path: str) -> Any:
        """The JSON body of a 2xx answer; a ProviderError for any other status or bad JSON."""
        if response.status_code >= 400:
            raise ProviderError(
                self.provider,
                f"{response.request.method} {path}: HTTP {response.status_code}",
                response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            raise ProviderError(
                self.provider,
                f"{response.request.method} {path}: the answer is not valid JSON "
                f"({len(response.content)} bytes)",
                response.status_code,
            ) from None

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET and parse (see `request` and `json`)."""
        return self.json(self.request("GET", path, **kwargs), path)

"""A provider's answer has a deadline and a size (issue #21): slow, inflating, nested answers.

Each hostile server is an httpx transport made here: a body that drips one byte at a time, a
small gzip body that inflates to 64 MiB, a 429 asking for 30 s, JSON nested 100,000 deep.
"""

from __future__ import annotations

import gzip
import time
import tracemalloc

import httpx
import pytest

from songpop.providers.http import Client, ProviderError, Settings


class Drip(httpx.SyncByteStream):
    """A JSON body that never ends: one byte every `gap` seconds."""

    def __init__(self, gap: float) -> None:
        self.gap = gap

    def __iter__(self):
        yield b"["
        while True:
            time.sleep(self.gap)
            yield b"1,"


def client(handler, **settings) -> Client:
    return Client("fake", "http://provider.test", Settings(**settings),
                  httpx.MockTransport(handler))  # fmt: skip


def test_a_dripping_answer_is_cut_at_the_call_deadline() -> None:
    fake = client(lambda r: httpx.Response(200, stream=Drip(0.2)), deadline=1.5, attempts=1)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"no complete answer within the 1.5 s allowed"):
        fake.get_json("/v1/track")
    assert time.monotonic() - started < 3  # each read within its timeout; the call is not


def test_an_answer_that_inflates_past_the_limit_is_refused_while_reading() -> None:
    bomb = gzip.compress(b"0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200_000
    fake = client(
        lambda r: httpx.Response(
            200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(bomb)
        ),
        max_bytes=1024 * 1024,
    )
    tracemalloc.start()
    with pytest.raises(ProviderError, match=r"over 1,048,576 bytes \(after decompression\)"):
        fake.get_json("/v1/track")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 1024 * 1024  # the 64 MiB were never held


def test_a_gzip_answer_within_the_limit_is_read() -> None:
    body = gzip.compress(b'{"content": [1, 2, 3]}')
    answer = httpx.Response(200, headers={"content-encoding": "gzip"}, content=body)
    assert client(lambda r: answer).get_json("/v1/track") == {"content": [1, 2, 3]}


def test_a_retry_after_past_the_deadline_is_not_waited_for() -> None:
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(429, headers={"retry-after": "30"})

    started = time.monotonic()
    with pytest.raises(ProviderError, match="HTTP 429, asked to wait 30 s, past the 5 s"):
        client(handler, deadline=5, max_wait=60).get_json("/v1/track")
    assert time.monotonic() - started < 2 and len(calls) == 1


def test_a_retry_after_within_the_deadline_is_honoured() -> None:
    answers = iter([httpx.Response(429, headers={"retry-after": "0.2"}),
                    httpx.Response(200, json={"ok": True})])  # fmt: skip
    started = time.monotonic()
    assert client(lambda r: next(answers), deadline=5).get_json("/v1/x") == {"ok": True}
    assert time.monotonic() - started >= 0.2


def test_deeply_nested_json_is_one_error_not_a_recursion_error() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    fake = client(lambda r: httpx.Response(200, content=nested))
    with pytest.raises(ProviderError, match="nested deeper than 64 levels"):
        fake.get_json("/v1/track")


def test_the_deadline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGPOP_PROVIDER_DEADLINE", "7.5")
    assert Settings().deadline == 7.5
    monkeypatch.setenv("SONGPOP_PROVIDER_DEADLINE", "soon")
    from songpop.errors import SongpopError

    with pytest.raises(SongpopError, match="SONGPOP_PROVIDER_DEADLINE='soon': expected a number"):
        Settings()

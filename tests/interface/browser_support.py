"""Headless Chromium for the browser tests: where it is, how to launch it, skip when absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> Path:
    """The Debian Chromium binary; fail in CI and skip elsewhere when it is not installed."""
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI installs the Debian chromium package")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return CHROMIUM


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from a running Playwright, with the project's flags."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


@contextmanager
def open_browser() -> Iterator[Any]:
    """A headless Chromium browser (skipped or failed as `require_chromium` says), closed after."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, in a background thread; yields its URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def pick_song(page: Any, typed: str, artist: str) -> Any:
    """Type `typed` into the page's song search, pick the suggestion whose label names
    `artist` (case-insensitive), and return the prediction response it triggers."""
    search = page.get_by_label("Find a known song")
    with page.expect_response(lambda r: "/lookup" in r.url):
        search.type(typed, delay=30)
    page.wait_for_function("() => document.querySelectorAll('#song-suggestions option').length")
    options = page.locator("#song-suggestions option")
    labels = [options.nth(i).get_attribute("value") for i in range(options.count())]
    choice = next(label for label in labels if artist.lower() in label.lower())
    with page.expect_response(lambda r: "/predict?explain=true" in r.url) as answer:
        search.fill(choice)
    return answer.value

"""The page's duration slider runs in minutes and seconds over 0:30-10:00, and typing any valid
length still works; the page laid out at 390, 768 and 1280 px (screenshots for people to look
at in test-artifacts/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import make_bundles
from browser_support import open_browser, served

from songpop.api import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(create_app(make_bundles(tmp_path_factory.mktemp("bundles")))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with open_browser() as chromium:
        yield chromium


def test_duration_slider_in_minutes_and_any_typed_length(browser, server_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server_url + "/")
    page.locator("#level").wait_for(state="visible", timeout=15_000)
    slider = page.locator("#f-duration_ms")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("30000", "600000")
    row = page.locator('[data-feature="duration_ms"]')
    assert "0:30 to 10:00" in row.locator(".hint").inner_text()
    slider.focus()
    slider.press("Home")
    assert row.locator(".shown").inner_text() == "0:30 min"

    # a 15-minute song is valid: typed in the box, it is what the page asks about
    def asks_fifteen_minutes(response) -> bool:
        if not response.url.endswith("/predict?explain=true"):
            return False
        return response.request.post_data_json["records"][0]["duration_ms"] == 900_000

    box = row.locator("input.exact")
    with page.expect_response(asks_fifteen_minutes, timeout=10_000) as answer:
        box.fill("900000")
    assert answer.value.status == 200
    assert row.locator(".shown").inner_text() == "15:00 min"
    page.close()


@pytest.mark.parametrize("width", [390, 768, 1280])
def test_the_page_at_three_widths(browser, server_url: str, artifacts_dir: Path, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server_url + "/")
    page.locator("#level").wait_for(state="visible", timeout=15_000)
    page.screenshot(path=str(artifacts_dir / f"page-{width}px.png"), full_page=True)
    # nothing runs past the window's right edge (no horizontal scrolling)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow} px wider than the window at {width} px"
    # each slider row's parts stay inside the row
    outside = page.evaluate(
        """() => [...document.querySelectorAll('.field')].filter((row) => {
            const box = row.getBoundingClientRect();
            return [...row.querySelectorAll('input, .shown, label')].some((el) => {
                const r = el.getBoundingClientRect();
                return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1);
            });
        }).map((row) => row.dataset.feature)"""
    )
    assert outside == []
    page.close()

"""The page as a musician reads it (issue #14), on a model trained on the real seed songs.

Pick a song of the catalogue by typing its title: the page names the level in plain words,
says how often the model is right (with its interval and baselines), lists the training songs
nearest to it with their chart history, draws where it sits on every feature, and warns when a
value lies outside what the model learned from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import launch_chromium, pick_song, require_chromium, served

from songpop.api import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url(seed_model: Path) -> Iterator[str]:
    with served(create_app([seed_model])) as url:
        yield url


def test_a_musician_reads_level_accuracy_similar_songs_positions_and_a_warning(
    server_url: str, artifacts_dir: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 3200})
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server_url + "/")
        page.locator("#level").wait_for(state="visible", timeout=15_000)

        # type a title, pick the song: its real features fill the form and it is predicted
        answer = pick_song(page, "Billie Je", "michael jackson")
        prediction = answer.json()["predictions"][0]
        page.wait_for_function(
            "() => document.querySelector('#status').textContent.startsWith('Predicted')"
        )

        # the level in plain words, and how sure the model is when it says this much
        level = page.locator("#level")
        assert level.inner_text().lower() == prediction["words"]
        assert prediction["words"].endswith(" popularity")
        assert "it was right" in page.locator("#confidence").inner_text()
        # the accuracy note: measured accuracy, its interval, the baselines
        note = page.locator("#model-accuracy").inner_text()
        assert "held-out songs" in note and "95% interval" in note
        assert "a guess that ignores the song" in note and "most common level" in note
        meaning = page.locator("#level-meaning li")
        assert meaning.count() == 3
        assert "top third by Spotify popularity" in meaning.nth(2).inner_text()

        # similar training songs with what happened to them on the chart
        rows = page.locator("#similar tbody tr")
        assert rows.count() == 5
        first = rows.first.inner_text()
        assert "peak #" in first or "never charted" in first
        assert prediction["similar"][0]["title"] in first

        # where the song sits: one chart per numeric feature, the song marked on each
        charts = page.locator("#positions g[data-position]")
        assert charts.count() == 10
        assert page.locator("#positions line.song").count() == 10
        assert page.locator("#warnings").is_hidden()  # a real charting song is not unusual
        page.locator("section.result").screenshot(path=str(artifacts_dir / "web_musician.png"))

        # a tempo no training song has: the page warns, naming the value and the range
        box = page.get_by_label("Tempo, exact value")
        box.fill("290")
        with page.expect_response(lambda r: r.url.endswith("/predict?explain=true")):
            page.get_by_role("button", name="Predict").click()
        warning = page.locator("#warnings")
        warning.wait_for(state="visible")
        text = warning.inner_text()
        assert "tempo 290 BPM is outside the range of the training songs" in text
        page.locator("section.result").screenshot(
            path=str(artifacts_dir / "web_musician_warning.png")
        )
        assert problems == []
        browser.close()

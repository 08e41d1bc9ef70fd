"""The page tells a known song as known and asks about exactly the values it shows (issue #22).

On a LightGBM trained on the real seed songs: picking "Blinding Lights" says, beside the
prediction, that it is one of the model's training songs, with its real level and chart history;
the page's probabilities equal `songpop predict --title` for the same model; after another
slider moves, the values the lookup filled are still sent in full (not rounded to the slider's
step) and the page still equals the CLI given that record; a failed search replaces the
sentence. Screenshots with the sentence at 390, 768 and 1280 px go to test-artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import open_browser, pick_song, served
from typer.testing import CliRunner

from songpop.api import create_app
from songpop.cli import app as cli

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url(seed_model: Path) -> Iterator[str]:
    with served(create_app([seed_model])) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with open_browser() as chromium:
        yield chromium


def _cli_probabilities(args: list[str], out: Path) -> dict[str, float]:
    """`songpop predict ARGS --out OUT` run through Typer; the first prediction's probabilities
    in percent."""
    result = CliRunner().invoke(cli, ["predict", *args, "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    first = json.loads(out.read_text())[0]
    return {k: 100 * v for k, v in first["probabilities"].items()}


def _page_percentages(page) -> dict[str, float]:
    rows = page.locator("#probabilities .bar-row")
    return {
        rows.nth(i).get_attribute("data-class"): float(
            rows.nth(i).locator(".bar-value").inner_text().rstrip("%")
        )
        for i in range(rows.count())
    }


def _equal_to_shown_precision(page: dict[str, float], cli: dict[str, float]) -> None:
    assert set(page) == set(cli)
    for level, shown in page.items():
        assert shown == pytest.approx(round(cli[level], 1), abs=1e-9), (level, page, cli)


def test_a_known_song_is_told_and_the_page_equals_the_cli(
    browser, server_url: str, seed_model: Path, tmp_path: Path, artifacts_dir: Path
) -> None:
    from songpop.inference.inputs.lookup import load_catalogue

    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server_url + "/")
    page.locator("#level").wait_for(state="visible", timeout=15_000)
    known = page.locator("#known")
    assert known.is_hidden()  # a typical song is nobody's

    answer = pick_song(page, "Blinding Lig", "weeknd")
    assert answer.status == 200
    page.wait_for_function(
        "() => document.querySelector('#status').textContent.startsWith('Predicted')"
    )
    known.wait_for(state="visible")
    sentence = known.inner_text()
    assert "a training song of seed/audio/lgbm" in sentence
    assert "its real level: high popularity" in sentence
    assert "#1 on the Hot 100" in sentence and "weekly charts" in sentence

    # the page's probabilities are the CLI's for the same song and model
    by_title = _cli_probabilities(
        ["--title", "Blinding Lights", "--artist", "The Weeknd", "--model", str(seed_model)],
        tmp_path / "title.json",
    )
    _equal_to_shown_precision(_page_percentages(page), by_title)
    for width in (390, 768, 1280):
        page.set_viewport_size({"width": width, "height": 1000})
        page.screenshot(path=str(artifacts_dir / f"page-known-{width}px.png"), full_page=True)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow} px wider than the window at {width} px"
        table = page.evaluate(
            "() => { const s = document.querySelector('.scroll'); "
            "return s.scrollWidth - s.clientWidth; }"
        )
        assert table <= 0, f"the similar songs' table scrolls {table} px at {width} px"
    page.set_viewport_size({"width": 1280, "height": 1400})

    # another slider moves: the sentence goes, and the values the lookup filled are sent in
    # full, not as rounded to the slider's step
    real = load_catalogue().search("Blinding Lights", "The Weeknd", limit=1)[0].features

    def asks_records(response) -> bool:
        return response.url.endswith("/predict?explain=true") and (
            "records" in (response.request.post_data_json or {})
        )

    with page.expect_response(asks_records) as moved:
        page.get_by_label("Tempo, exact value").fill("120")
    record = moved.value.request.post_data_json["records"][0]
    assert record["tempo"] == 120
    for name in ("acousticness", "danceability", "energy", "loudness", "duration_ms"):
        assert record[name] == real[name], name  # 0.00146 stays 0.00146, not 0.00
    page.wait_for_function(
        "() => document.querySelector('#known').hidden"
        " && document.querySelector('#status').textContent.startsWith('Predicted')"
    )
    sent = tmp_path / "record.json"
    sent.write_text(json.dumps(record))
    by_record = _cli_probabilities(
        ["--json", str(sent), "--model", str(seed_model)], tmp_path / "r.json"
    )
    _equal_to_shown_precision(_page_percentages(page), by_record)

    # a failed search replaces the last song's sentence
    search = page.get_by_label("Find a known song")
    search.fill("")
    with page.expect_response(lambda r: "/lookup" in r.url):
        search.type("Qzxv Nosuchsong", delay=10)
    history = page.locator("#song-history")
    page.wait_for_function(
        "() => document.querySelector('#song-history').textContent.startsWith('No song')"
    )
    assert "Qzxv Nosuchsong" in history.inner_text()
    assert known.is_hidden()
    assert problems == []
    page.close()

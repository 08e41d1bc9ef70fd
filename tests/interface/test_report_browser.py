"""The HTML report in a real browser: every image renders, no console error, no network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser_support import launch_chromium, require_chromium

from songpop import config
from songpop.report import write_report
from songpop.report.sections import explore_sections

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Path:
    path = require_chromium()
    pytest.importorskip("playwright.sync_api")
    return path


def tiny_run(root: Path) -> Path:
    """A run folder from a 120-song table: the build record, exploration and a models section."""
    rng = np.random.default_rng(7)
    n = 120
    popularity = rng.uniform(0, 100, n)
    songs = pd.DataFrame({f: rng.uniform(0, 1, n) for f in config.AUDIO_NUMERIC})
    songs["duration_ms"] = rng.uniform(120_000, 300_000, n)
    songs["tempo"] = rng.uniform(70, 180, n)
    songs["loudness"] = -15 + popularity / 10 + rng.normal(0, 1, n)
    songs["key"] = rng.integers(-1, 12, n)
    songs["year"] = rng.integers(1960, 2021, n)
    songs["popularity"] = popularity
    songs["level"] = pd.qcut(popularity, 3, labels=list(config.LEVELS)).astype(str)
    build = root / "runs" / "20261124-130000" / "data"
    build.mkdir(parents=True)
    songs.to_parquet(build / "songs.parquet")
    (build / "build.json").write_text(
        json.dumps({"profile": "tiny", "label": "spotify", "songs": n, "stages": []}), "utf-8"
    )
    run = build.parent
    explore_sections(build / "songs.parquet", run / "explore")
    models = run / "models"
    models.mkdir()
    pd.DataFrame({"model": ["dummy", "forest"], "accuracy": [0.334, 0.51]}).to_csv(
        models / "comparison.csv", index=False
    )
    (models / "section.json").write_text(
        json.dumps(
            {
                "title": "Models",
                "order": 30,
                "paragraphs": ["A stand-in models section."],
                "tables": [{"title": "Comparison", "csv": "comparison.csv"}],
                "figures": [
                    {
                        "title": "Class balance again",
                        "png": "../explore/figures/class_balance.png",
                        "caption": "A figure referenced from another folder.",
                    }
                ],
            }
        ),
        "utf-8",
    )
    return run


def test_report_renders_in_chromium(chromium: Path, tmp_path: Path, artifacts_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    run = tiny_run(tmp_path)
    page_path = write_report(run, tmp_path / "reports" / run.name / "index.html")
    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "request",
                lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url),
            )
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
            titles = page.eval_on_selector_all("section > h2", "hs => hs.map(h => h.textContent)")
            toc_links = page.eval_on_selector_all("nav a", "as => as.map(a => a.textContent)")
            # a wide table scrolls inside its box; the page itself never scrolls sideways
            page.set_viewport_size({"width": 420, "height": 900})
            sideways = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            boxes = page.eval_on_selector_all(
                ".table-wrap",
                "ws => ws.map(w => [w.scrollWidth > w.clientWidth, getComputedStyle(w).overflowX])",
            )
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(artifacts_dir / "report_browser.png"), full_page=True)
        finally:
            browser.close()
    section = json.loads((run / "explore" / "section.json").read_text("utf-8"))
    assert len(widths) == len(section["figures"]) + 1  # + the models section's figure
    assert all(w > 0 for w in widths), widths
    assert errors == []
    assert outside == []
    assert titles == ["Data: tiny profile, spotify label", "Exploration", "Models"]
    assert toc_links == titles  # the contents: each section once
    assert sideways <= 0, f"the page scrolls {sideways}px sideways at 420px"
    assert any(wide for wide, _ in boxes) and all(o == "auto" for _, o in boxes)
    assert (artifacts_dir / "report_browser.png").stat().st_size > 0

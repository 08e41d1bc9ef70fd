"""The documentation: the site builds with no broken link (`mkdocs build --strict`), the Python
API page's examples run as doctests against a small model, and the speed page's figures are
the ones `bench-results/` holds."""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.support import random_songs, save_lgbm_bundle

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _speed_page():  # scripts/ is not a package: load the script as a module
    spec = importlib.util.spec_from_file_location("speed_page", ROOT / "scripts" / "speed_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mkdocs(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    if not mkdocs.is_file():
        pytest.fail(f"{mkdocs} not found: install the dev extra (pip install -e '.[dev]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([str(mkdocs), "build", "--strict", *args], cwd=folder,
                          capture_output=True, text=True, timeout=120, env=env)  # fmt: skip


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """A broken link or anchor, a missing page or a page left out of the nav fails the build;
    the README is the home page."""
    done = _mkdocs(ROOT, "--site-dir", str(tmp_path / "site"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "python-api" / "index.html").is_file()
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "songpop:facts begin" in home and 'href="python-api/"' in home


@pytest.mark.parametrize("page", ["docs/usage.md", "README.md"])
def test_a_broken_link_fails_the_build(tmp_path: Path, page: str) -> None:
    """The strict build is not a formality: a link to a page that is not there fails it, in a
    docs page or in the README (the site's home page)."""
    copy = tmp_path / "copy"
    shutil.copytree(DOCS, copy / "docs")
    for name in ("mkdocs.yml", "README.md", "scripts/mkdocs_hooks.py"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    broken = copy / page
    target = "docs/no-such-page.md" if page == "README.md" else "no-such-page.md"
    broken.write_text(broken.read_text(encoding="utf-8") + f"\n[gone]({target})\n")
    done = _mkdocs(copy)
    assert done.returncode != 0
    assert "no-such-page.md" in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.data
def test_the_python_api_page_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    """Every `>>>` example of docs/python-api.md, from a folder with the files it names."""
    import soundfile as sf

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SONGPOP_DATA_DIR", str(data_dir))
    save_lgbm_bundle(tmp_path / "demo")
    random_songs(20, seed=3).to_csv(tmp_path / "tracks.csv", index=False)
    rate = 44_100
    t = np.arange(rate * 8) / rate
    beat = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)
    tone = 0.3 * (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 330 * t)) * beat
    sf.write(tmp_path / "song.wav", tone, rate)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    # a fence line ends an example's expected output, as a blank line does (line numbers kept)
    text = re.sub(r"(?m)^```.*$", "", (DOCS / "python-api.md").read_text(encoding="utf-8"))
    test = doctest.DocTestParser().get_doctest(text, {}, "python-api.md", str(DOCS), 0)
    runner = doctest.DocTestRunner(optionflags=flags)
    result = runner.run(test)
    assert result.attempted >= 25, result
    assert result.failed == 0, f"{result.failed} example(s) of docs/python-api.md failed"


def test_the_speed_page_says_not_measured_without_results(tmp_path: Path) -> None:
    speed = _speed_page()
    page = tmp_path / "speed.md"
    page.write_text(f"intro\n\n{speed.BEGIN}\nold\n{speed.END}\n\nafter\n", encoding="utf-8")
    said = speed.main(["--results", str(tmp_path / "none"), "--page", str(page)])
    text = page.read_text(encoding="utf-8")
    assert said == 0
    assert "not measured yet" in text and "old" not in text
    assert text.startswith("intro\n") and text.endswith("after\n")


def test_the_speed_page_renders_the_results_it_is_given(tmp_path: Path) -> None:
    speed = _speed_page()
    results = {
        "started": "2027-01-02T03:04:05+00:00",
        "machine": {"python": "3.12.1", "cpus": 2, "node": "box"},
        "benchmarks": {
            "predict": {"status": "ok", "seconds": 9.0, "figures": {
                "single": {"p50_ms": 0.271, "p99_ms": 0.4},
                "batch_predict_frame": {"rows_per_s": 40184.2}}},
            "lookup": {"status": "error", "seconds": 1.0, "figures": {"error": "boom"}},
            "fresh": {"status": "ok", "seconds": 500.0, "figures": {
                "repeats": 2, "install": {"wall_seconds": 38.25},
                "run_after_install": {"wall_seconds": 61.0},
                "fresh_make_run": {"wall_seconds": 99.3},
                "make_test": {"wall_seconds": 301.0, "suites": [
                    {"passed": 985, "skipped": 16, "pytest_seconds": 262.4}]}}},
        },
    }  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    page = tmp_path / "speed.md"
    page.write_text(f"{speed.BEGIN}\n{speed.END}\n", encoding="utf-8")
    speed.main(["--results", str(tmp_path), "--page", str(page)])
    text = page.read_text(encoding="utf-8")
    assert "2027-01-02 03:04 UTC" in text and "2 CPUs" in text
    assert "| single prediction, default model | p50 0.27 ms, p99 0.40 ms |" in text
    assert "40,184 rows/s" in text
    assert (
        "(`bench_fresh`: install, with pip's cache as the machine has it; the run) "
        "| 99.3 s (38.2 s; 61.0 s; 2 repeat(s)) |" in text
    )
    assert "| 301.0 s (262.4 s; 985 passed) | ≤ 180 s |" in text
    assert "lookup: failed (boom)" in text
    assert "not in this run" in text  # a figure the results lack is said so, never made up


def test_a_partial_bench_run_keeps_the_others_figures_and_the_page_dates_each(
    tmp_path: Path,
) -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import run_all
    finally:
        sys.path.remove(str(ROOT))
    speed = _speed_page()
    earlier = {
        "started": "2027-01-02T03:04:05+00:00",
        "machine": {"python": "3.12.1", "cpus": 2},
        "benchmarks": {
            "predict": {"status": "ok", "seconds": 9.0,
                        "figures": {"single": {"p50_ms": 0.271, "p99_ms": 0.4}}},
            "run": {"status": "ok", "seconds": 1.0, "figures": {"old": True}},
        },
    }  # fmt: skip
    later = {
        "started": "2027-01-05T10:00:00+00:00",
        "machine": {"python": "3.12.1", "cpus": 2},
        "benchmarks": {"run": {"started": "2027-01-05T10:00:01+00:00", "load_before": 0.4,
                               "status": "ok", "seconds": 2.0, "figures": {"new": True}}},
    }  # fmt: skip
    both = run_all.merged(earlier, later)
    assert both["benchmarks"]["run"]["figures"] == {"new": True}  # the new figures win
    assert both["benchmarks"]["predict"]["started"] == earlier["started"]  # kept, dated
    assert run_all.merged(None, later) == later
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit, match="broken.json: cannot read it"):
        run_all._read(broken)  # never overwritten: it holds the other benchmarks' figures
    assert run_all._read(tmp_path / "absent.json") is None
    (tmp_path / "results.json").write_text(json.dumps(both), encoding="utf-8")
    page = tmp_path / "speed.md"
    page.write_text(f"{speed.BEGIN}\n{speed.END}\n", encoding="utf-8")
    speed.main(["--results", str(tmp_path), "--page", str(page)])
    text = page.read_text(encoding="utf-8")
    assert "p50 0.27 ms" in text  # the kept benchmark's figure is still shown
    assert "`predict` 2027-01-02 03:04 UTC; `run` 2027-01-05 10:00 UTC (load 0.4)" in text
    # a whole run (every entry from the file's own run) needs no dates per benchmark
    (tmp_path / "results.json").write_text(json.dumps(later), encoding="utf-8")
    speed.main(["--results", str(tmp_path), "--page", str(page)])
    assert "each one's figures are from" not in page.read_text(encoding="utf-8")


def test_the_committed_speed_page_is_a_rendering() -> None:
    """docs/speed.md's block is what the script writes: 'not measured yet' or a run's table."""
    speed = _speed_page()
    text = (DOCS / "speed.md").read_text(encoding="utf-8")
    block = text.split(speed.BEGIN, 1)[1].split(speed.END, 1)[0]
    assert "not measured yet" in block or "`make bench` run of" in block

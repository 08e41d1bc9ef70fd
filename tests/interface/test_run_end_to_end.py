"""End to end on the real data: `songpop run` → report, LATEST, and `songpop predict` using it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared_run import TASKS, quick_run
from songpop.cli import app
from songpop.report.sections import write_summary_section
from songpop.report.summary import summary_rows

pytestmark = [pytest.mark.data, pytest.mark.slow]
runner = CliRunner()
SONG = {
    "danceability": 0.7, "energy": 0.8, "key": 5, "loudness": -5.0, "speechiness": 0.05,
    "acousticness": 0.1, "instrumentalness": 0.0, "liveness": 0.1, "valence": 0.6,
    "tempo": 120.0, "duration_ms": 210000,
}  # fmt: skip


def _plain(output: str) -> str:
    """CLI output as one line of words: the answer's panel borders and wrapping taken out."""
    return " ".join(output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The session's quick run of TASKS (`shared_run`: made once, with a relative runs folder
    as `make run` uses ./runs, and shared with the README examples)."""
    return quick_run(tmp_path_factory, data_dir)


def test_run_writes_the_stages_the_report_and_latest(finished_run: Path) -> None:
    run_dir = finished_run / "runs" / "r1"
    recorded = json.loads((run_dir / "timings.json").read_text())
    timings = recorded["seconds"]
    assert sorted(timings) == sorted(
        [
            "build_seed",
            "build_chart_chance",
            "explore",
            "train_seed",
            "train_chart_chance",
            "train_seed_era",
            "cluster",
            "explain",
            "report",
        ]
    )  # seed_era relabels the seed build; the stages in between finish in any order
    assert list(timings)[0] == "build_seed" and list(timings)[-1] == "report"
    assert 0 < recorded["wall"] and recorded["reused"] == {}
    assert (finished_run / "runs" / "LATEST").read_text().strip() == "r1"
    html = (finished_run / "reports" / "r1" / "index.html").read_text(encoding="utf-8")
    for title in ("Summary: what the accuracy is made of", "Exploration", "Models"):
        assert title in html
    assert 'src="http' not in html  # self-contained: nothing fetched from elsewhere
    # light enough to open anywhere: figures are palette PNGs (issue #14: at most 1.5 MB)
    size = (finished_run / "reports" / "r1" / "index.html").stat().st_size
    assert size <= 1_500_000, f"the report is {size:,} bytes"
    # the contents list each section once, and the first screen is the predictability chart
    contents = re.findall(r'<li><a href="#([^"]+)">', html.split("</nav>")[0])
    assert len(contents) == len(set(contents)) >= 5
    summary = html.split('id="summary-what-the-accuracy-is-made-of"')[1]
    assert summary.index("<img") < summary.index("<table")


def test_summary_states_each_feature_set_against_the_year_alone(finished_run: Path) -> None:
    import pandas as pd

    section = json.loads((finished_run / "runs" / "r1" / "summary" / "section.json").read_text())
    sentences = " ".join(section["paragraphs"])
    assert "the year alone gives" in sentences and "Forward in time" in sentences
    assert "measured from audio" in sentences and "most frequent class" in sentences
    table = pd.read_csv(finished_run / "runs" / "r1" / "summary" / "summary.csv")
    assert list(table["task"].drop_duplicates()) == ["chart_chance", "seed", "seed_era"]
    for task, rows in table.groupby("task", sort=False):
        held = rows[~rows["protocol"].str.startswith("forward")]
        ahead = rows[rows["protocol"].str.startswith("forward")]
        # the year-only row leads, on held-out songs and forward in time
        assert held["features"].iloc[0].startswith("year only"), task
        assert ahead["features"].iloc[0].startswith("year only"), task
        assert ahead["protocol"].str.contains("before 2015").all(), task
    chance = table[table["task"] == "chart_chance"]
    assert set(chance["features"]) >= {"audio + year + artist history", "audio only"}
    assert chance["ROC-AUC"].notna().all() and chance["base rate"].notna().all()
    assert (chance["protocol"].iloc[0]) == "artist-disjoint split"
    # a row that does not beat the year alone says so in its note
    seed = table[(table["task"] == "seed") & ~table["protocol"].str.startswith("forward")]
    year = seed["test accuracy"].iloc[0]
    for _, row in seed.iloc[1:].iterrows():
        if row["test accuracy"] <= year:
            assert "year-only" in str(row["note"]) or "below" in str(row["note"])


def test_predict_defaults_to_the_last_runs_model(
    finished_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGPOP_RUNS_DIR", str(finished_run / "runs"))
    options = [f"--{k.replace('_', '-')}={v}" for k, v in SONG.items()]
    out = finished_run / "one.json"
    result = runner.invoke(app, ["predict", *options, "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the answer for a new song leads: its chance to chart among the releases of its year
    text = _plain(result.stdout)
    assert text.index("chance to reach the Billboard Hot 100") < text.index("Predictions of")
    assert "not given: the current year" in text and "no earlier Hot 100 entry" in text
    prediction = json.loads(out.read_text())[0]
    assert prediction["model_id"].startswith("chart_chance/")
    assert set(prediction["probabilities"]) == {"not_charted", "charted"}
    answer = prediction["new_song"]
    assert answer["chance"] == pytest.approx(prediction["probabilities"]["charted"])
    assert answer["forward"]["for_new_artists"] is True and 0 < answer["base_rate"] < 1
    assert answer["era_level"] in {"low", "medium", "high"}
    # --task seed: the original task's model, without the new-song answer
    seed = runner.invoke(app, ["predict", *options, "--year", "1990", "--task", "seed"])
    assert seed.exit_code == 0, seed.output
    assert "chance to reach" not in seed.stdout and "Predictions of seed/" in seed.stdout


def test_an_artist_with_a_chart_history_is_told_so(
    finished_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGPOP_RUNS_DIR", str(finished_run / "runs"))
    options = [f"--{k.replace('_', '-')}={v}" for k, v in SONG.items()]
    known = runner.invoke(app, ["predict", *options, "--year", "2019", "--artist", "Drake"])
    assert known.exit_code == 0, known.output
    text = _plain(known.stdout)
    assert re.search(r"\d+ earlier Hot 100 entries \(\d+ weeks\), best #1 for Drake", text)
    assert "Release year 2019 (given)" in text
    nobody = runner.invoke(app, ["predict", *options, "--year", "2019", "--artist", "Zzyzx Qq"])
    assert "no earlier Hot 100 entry for Zzyzx Qq" in _plain(nobody.stdout)

    def chance(output: str) -> float:
        return float(re.search(r"(\d+)% chance to reach", output).group(1))  # type: ignore

    # the same audio by an artist with twenty years of hits: a higher chance
    assert chance(known.stdout) > chance(nobody.stdout)


def test_the_api_and_the_page_lead_with_the_chance_to_chart(
    finished_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from songpop.api.app import create_app

    monkeypatch.setenv("SONGPOP_RUNS_DIR", str(finished_run / "runs"))
    with TestClient(create_app()) as client:
        answer = client.post("/predict", json={**SONG, "year": 2018, "artist": "Drake"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        new = body["new_song"][0]
        assert new["lines"][0].startswith(f"{round(100 * new['chance'])}% chance to reach")
        assert new["year"] == 2018 and new["history"]["artist_prior_entries"] > 10
        assert body["model_id"].startswith("chart_chance/")
        # a model named by id answers as before, without the new-song answer
        seed = client.get("/models").json()
        assert all(not m["id"].startswith("seed/") for m in seed) or True
        plain = client.post("/predict?model=" + body["model_id"], json={**SONG, "year": 2018,
                                                                       "mode": 1})  # fmt: skip
        assert plain.status_code == 200 and plain.json()["new_song"] is None


def test_summary_rows_are_grouped_by_task(tmp_path: Path) -> None:
    def task(name: str, acc: float, dummy: float) -> dict:
        entry = {"accuracy": acc, "accuracy_ci": [acc - 0.01, acc + 0.01], "dummy_accuracy": dummy,
                 "macro_f1": acc - 0.05, "majority_rate": dummy}  # fmt: skip
        fs = {"best": "lgbm", "models": {"lgbm": entry}}
        return {"task": name, "classes": ["high", "low", "medium"], "n_train": 80, "n_test": 20,
                "split": {"kind": "stratified"}, "feature_sets": {"audio": fs}}  # fmt: skip

    # the summary follows the tasks' order (the new song's question first), not the lift
    summaries = {"train_seed": task("seed", 0.80, 0.33), "train_hit": task("hit", 0.40, 0.35)}
    rows = summary_rows(summaries)
    assert [r["task"] for r in rows] == ["hit", "seed"]
    assert [r["lift (points)"] for r in rows] == [5.0, 47.0]
    assert rows[0]["note"] == rows[1]["note"] == ""
    for name in ("seed", "hit"):  # describe_predictability reads each task's results.json
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "results.json").write_text("[]")
    section = json.loads(
        write_summary_section(summaries, tmp_path / "models", tmp_path).read_text()
    )
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert csv[1].startswith("hit,") and csv[2].startswith("seed,")
    assert section["order"] == 5


def test_the_run_writes_the_readme_figures_and_report_puts_them_in_place(
    finished_run: Path, tmp_path: Path
) -> None:
    """facts.md is the README's block for this run; `songpop report --readme` replaces only the
    block between the markers, and refuses a README without them."""
    from songpop.report.facts import BEGIN, END, readme_block

    run_dir = finished_run / "runs" / "r1"
    facts = (run_dir / "facts.md").read_text(encoding="utf-8")
    assert "(run `r1`" in facts and "songs built per task:" in facts and "seed 9,505" in facts
    assert "| task | features | protocol |" in facts and "forward: trained on" in facts
    assert "- Chance to reach the Hot 100" in facts  # the plain words, from the same rows
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{BEGIN}\nold figures\n{END}\nafter\n", encoding="utf-8")
    args = ["report", "--run", str(run_dir), "--out", str(tmp_path / "r.html"),
            "--readme", str(readme)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = readme.read_text(encoding="utf-8")
    assert readme_block(text) == facts.strip("\n")
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert "as is" in runner.invoke(app, args).output  # a second time: nothing to change
    readme.write_text("# no markers\n", encoding="utf-8")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "expected one facts block" in result.stderr


def test_a_second_run_reuses_every_stage_whose_inputs_did_not_change(
    finished_run: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same data, settings and code: every stage is linked from the first run (stages.json
    says from where), the report is rendered again, and the models are the same files.
    `--fresh` then runs every stage again and records the same keys."""
    from songpop import pipeline
    from songpop.stages import link_outputs

    r1 = finished_run / "runs" / "r1"
    here = os.getcwd()
    os.chdir(finished_run)
    try:
        args = ["run", "--run", "r2", "--runs-dir", "runs", "--tasks", TASKS, "--budget",
                "quick", "--data-dir", str(data_dir), "--log-format", "plain"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        # --fresh: the keys and the bookkeeping are the pipeline's own; only the work of the
        # stages r1 already proved (building, training, exploring, k-means: a whole quick run
        # again) is replaced by r1's outputs, so each stage is seen to run instead of being
        # reused. The explanation and the report are computed again for real.
        ran: list[str] = []

        def build(task: str, run_dir: Path, data: Path) -> None:
            ran.append(f"build_{task}")
            link_outputs(r1, run_dir, [f"data/{task}"])

        def train(task: str, run_dir: Path, budget: str, hook: object) -> dict:
            ran.append(f"train_{task}")
            link_outputs(r1, run_dir, [f"models/{task}"])
            pipeline._reindex(r1, run_dir / "models", task)
            return json.loads((run_dir / "models" / task / "train.json").read_text())

        def explore(run_dir: Path, ordered: tuple[str, ...], hook: object) -> None:
            ran.append("explore")
            link_outputs(r1, run_dir, ["explore"])

        def cluster(run_dir: Path, hook: object) -> None:
            ran.append("cluster")
            link_outputs(r1, run_dir, ["cluster"])

        for name, stub in (("_build", build), ("_train", train), ("_explore", explore),
                           ("_cluster", cluster)):  # fmt: skip
            monkeypatch.setattr(pipeline, name, stub)
        fresh = runner.invoke(app, [*args[:2], "r3", *args[3:], "--fresh", "-q", "--workers", "1"])
        assert fresh.exit_code == 0, fresh.output
    finally:
        os.chdir(here)
    r2 = finished_run / "runs" / "r2"
    stages = json.loads((r2 / "stages.json").read_text())
    assert {s: v["reused_from"] for s, v in stages.items()} == {
        s: "r1" for s in ("build_seed", "build_chart_chance", "explore", "train_seed",
                          "train_chart_chance", "train_seed_era", "cluster", "explain")
    }  # fmt: skip
    first = json.loads((r1 / "stages.json").read_text())
    assert all(stages[s]["key"] == first[s]["key"] for s in stages)
    bundle = Path("models/seed/audio/lgbm/bundle.json")
    assert (r2 / bundle).stat().st_ino == (r1 / bundle).stat().st_ino  # linked, not copied
    assert (
        json.loads((r2 / "models" / "index.json").read_text())["default"]
        == json.loads((r1 / "models" / "index.json").read_text())["default"]
    )
    # the report's stage-time table is the run's timings.json: every stage, where it came from
    page = (finished_run / "reports" / "r2" / "index.html").read_text(encoding="utf-8")
    details = page.split('id="run-details"')[1]
    assert "train_seed" in details and "reused from run r1" in details and "wall time" in details
    assert "reused from run r1" in " ".join(result.output.split())
    # --fresh recomputes: every stage ran, nothing reused, the same keys
    r3 = json.loads((finished_run / "runs" / "r3" / "stages.json").read_text())
    assert sorted(ran) == sorted(s for s in first if s != "explain")
    assert all(v["reused_from"] is None for v in r3.values())
    assert {s: v["key"] for s, v in r3.items()} == {s: v["key"] for s, v in first.items()}
    assert (finished_run / "runs" / "r3" / "explain").is_dir()


@pytest.mark.browser
def test_the_page_leads_with_the_chance_to_chart_and_forgets_the_last_song(
    finished_run: Path, monkeypatch: pytest.MonkeyPatch, artifacts_dir: Path
) -> None:
    """The page of the last run's default: the answer for a new song comes first; typing an
    artist reads their chart record; a failed search replaces what was said before."""
    from browser_support import open_browser, served

    from songpop.api.app import create_app

    monkeypatch.setenv("SONGPOP_RUNS_DIR", str(finished_run / "runs"))
    with open_browser() as browser, served(create_app()) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(url)
        headline = page.locator("#new-song-headline")
        headline.wait_for(state="visible", timeout=20_000)
        first = headline.inner_text()
        assert re.match(r"\d+% chance to reach the Billboard Hot 100 among the releases of", first)
        lines = " ".join(page.locator("#new-song-lines li").all_inner_texts())
        assert "no artist given: scored as an artist with no earlier Hot 100 entry" in lines
        assert "Within its era" in lines or "within its release era is not told" in lines
        with page.expect_response(lambda r: "/predict" in r.url):
            page.fill('[data-feature="year"] input.exact', "2019")
        with page.expect_response(lambda r: "/predict" in r.url):
            page.fill("#artist", "Drake")
        page.wait_for_function(
            "() => document.querySelector('#new-song-lines').innerText.includes('best #1 for "
            "Drake')"
        )
        assert headline.inner_text() != first
        page.screenshot(path=str(artifacts_dir / "page-new-song-1280.png"), full_page=False)
        with page.expect_response(lambda r: "/lookup" in r.url):
            page.get_by_label("Find a known song").type("zzqqxx", delay=20)
        page.wait_for_function(
            "() => document.querySelector('#song-history').innerText.includes('No song called')"
        )


def test_a_batch_without_a_model_fills_the_artists_history_or_says_it_has_no_year(
    finished_run: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    import pandas as pd

    monkeypatch.setenv("SONGPOP_RUNS_DIR", str(finished_run / "runs"))
    tracks = pd.read_csv(data_dir / "tracks" / "tidytuesday_spotify_songs_2020.csv.gz", nrows=200)
    tracks.to_csv(tmp_path / "with_year.csv", index=False)
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", "--csv", str(tmp_path / "with_year.csv"),
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "chart_chance/history/" in _plain(result.stdout)
    scored = pd.read_csv(out)
    assert len(scored) == 200 and set(scored["level"]) <= {"charted", "not_charted"}
    # the history was filled from each row's artist and year: the same audio by an artist with
    # no chart record gets a lower chance on average
    tracks.assign(track_artist="Zzyzx Nobody").to_csv(tmp_path / "nobody.csv", index=False)
    result = runner.invoke(app, ["predict", "--csv", str(tmp_path / "nobody.csv"),
                                 "--out", str(tmp_path / "nobody_scored.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    nobody = pd.read_csv(tmp_path / "nobody_scored.csv")
    assert scored["proba_charted"].mean() > nobody["proba_charted"].mean()
    no_year = tracks.drop(columns=["track_album_release_date"])
    no_year.to_csv(tmp_path / "no_year.csv", index=False)
    result = runner.invoke(app, ["predict", "--csv", str(tmp_path / "no_year.csv"),
                                 "--out", str(tmp_path / "audio.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "has no release year: scored with chart_chance/audio/" in _plain(result.stderr)

"""End to end on the real data: `songpop run` → report, LATEST, and `songpop predict` using it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from songpop.cli import app
from songpop.pipeline import summary_rows
from songpop.report.sections import write_summary_section

pytestmark = [pytest.mark.data, pytest.mark.slow]
runner = CliRunner()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    # A relative runs folder, as `make run` uses (./runs): every path must still resolve.
    args = ["run", "--run", "r1", "--runs-dir", "runs", "--tasks", "seed"]
    here = os.getcwd()
    os.chdir(root)
    try:
        result = runner.invoke(app, [*args, "--budget", "quick", "--data-dir", str(data_dir)])
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.output
    return root


def test_run_writes_the_stages_the_report_and_latest(finished_run: Path) -> None:
    run_dir = finished_run / "runs" / "r1"
    recorded = json.loads((run_dir / "timings.json").read_text())
    timings = recorded["seconds"]
    assert sorted(timings) == sorted(
        ["build_seed", "explore", "train_seed", "cluster", "explain", "report"]
    )  # explore, the training and k-means run side by side: in the order they finish
    assert list(timings)[0] == "build_seed" and list(timings)[-1] == "report"
    assert 0 < recorded["wall"] and recorded["reused"] == {}
    assert (finished_run / "runs" / "LATEST").read_text().strip() == "r1"
    html = (finished_run / "reports" / "r1" / "index.html").read_text(encoding="utf-8")
    for title in ("Summary: how predictable is popularity?", "Exploration", "Models"):
        assert title in html
    assert 'src="http' not in html  # self-contained: nothing fetched from elsewhere
    # light enough to open anywhere: figures are palette PNGs (issue #14: at most 1.5 MB)
    size = (finished_run / "reports" / "r1" / "index.html").stat().st_size
    assert size <= 1_500_000, f"the report is {size:,} bytes"
    # the contents list each section once, and the first screen is the predictability chart
    contents = re.findall(r'<li><a href="#([^"]+)">', html.split("</nav>")[0])
    assert len(contents) == len(set(contents)) >= 5
    summary = html.split('id="summary-how-predictable-is-popularity"')[1]
    assert summary.index("<img") < summary.index("<table")


def test_summary_states_each_feature_set_against_its_dummy(finished_run: Path) -> None:
    section = json.loads((finished_run / "runs" / "r1" / "summary" / "section.json").read_text())
    sentences = " ".join(section["paragraphs"])
    assert "audio only" in sentences and "audio + context" in sentences
    assert "measured from audio" in sentences
    assert "most frequent class" in sentences
    table = (finished_run / "runs" / "r1" / "summary" / "summary.csv").read_text()
    rows = table.splitlines()[1:]
    forward = [r for r in rows if "time-forward" in r]
    # one row per feature set (audio, + context, measured), then the time-forward rows
    assert len(rows) - len(forward) == 3 and forward and rows[-len(forward) :] == forward
    assert "\nseed,measured from audio (+ year or decade)," in table
    assert table.splitlines()[0].split(",")[6:10] == [
        "macro-F1", "dummy accuracy", "majority-class rate", "lift (points)"
    ]  # fmt: skip


def test_predict_defaults_to_the_last_runs_model(
    finished_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGPOP_RUNS_DIR", str(finished_run / "runs"))
    song = {
        "danceability": 0.7, "energy": 0.8, "key": 5, "loudness": -5.0, "speechiness": 0.05,
        "acousticness": 0.1, "instrumentalness": 0.0, "liveness": 0.1, "valence": 0.6,
        "tempo": 120.0, "duration_ms": 210000,
    }  # fmt: skip
    options = [f"--{k.replace('_', '-')}={v}" for k, v in song.items()]
    out = finished_run / "one.json"
    result = runner.invoke(app, ["predict", *options, "--out", str(out)])
    assert result.exit_code == 0, result.output
    prediction = json.loads(out.read_text())
    prediction = prediction[0] if isinstance(prediction, list) else prediction
    assert prediction["level"] in {"low", "medium", "high"}
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert prediction["model_id"].startswith("seed")


def test_summary_rows_lead_with_the_largest_lift(tmp_path: Path) -> None:
    def task(name: str, acc: float, dummy: float) -> dict:
        entry = {"accuracy": acc, "accuracy_ci": [acc - 0.01, acc + 0.01], "dummy_accuracy": dummy,
                 "macro_f1": acc - 0.05, "majority_rate": dummy}  # fmt: skip
        fs = {"best": "lgbm", "models": {"lgbm": entry}}
        return {"task": name, "n_train": 80, "n_test": 20, "feature_sets": {"audio": fs}}

    summaries = {"train_a": task("a", 0.40, 0.33), "train_b": task("b", 0.80, 0.50)}
    # a time-forward split whose test songs are mostly of one class the training songs lacked
    summaries["train_a"]["feature_sets"]["audio"]["temporal"] = {
        "cutoff": 2010, "n_train": 60, "n_test": 20, "accuracy": 0.281,
        "accuracy_ci": [0.2, 0.35], "macro_f1": 0.2, "dummy_accuracy": 0.014,
        "majority_rate": 0.754, "model": "lgbm",
    }  # fmt: skip
    rows = summary_rows(summaries)
    assert [r["lift (points)"] for r in rows] == [30.0, 7.0, 26.7]  # time-forward rows last
    assert [r["macro-F1"] for r in rows[:2]] == [0.75, 0.35]
    forward = rows[2]
    assert forward["features"].startswith("audio only, time-forward (train before 2010")
    assert forward["majority-class rate"] == 0.754
    assert forward["note"].startswith("below the majority-class rate (75.4%)")
    assert rows[0]["note"] == rows[1]["note"] == ""
    for name in ("a", "b"):  # describe_predictability reads each task's results.json
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "results.json").write_text("[]")
    section = json.loads(
        write_summary_section(summaries, tmp_path / "models", tmp_path).read_text()
    )
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert csv[1].startswith("b,") and csv[2].startswith("a,") and csv[3].startswith("a,")
    assert section["order"] == 5


def test_the_run_writes_the_readme_figures_and_report_puts_them_in_place(
    finished_run: Path, tmp_path: Path
) -> None:
    """facts.md is the README's block for this run; `songpop report --readme` replaces only the
    block between the markers, and refuses a README without them."""
    from songpop.report.facts import BEGIN, END, readme_block

    run_dir = finished_run / "runs" / "r1"
    facts = (run_dir / "facts.md").read_text(encoding="utf-8")
    assert "(run `r1`" in facts and "songs built per task: seed 9,505" in facts
    assert "| task | features |" in facts and "time-forward" in facts
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
    finished_run: Path, data_dir: Path
) -> None:
    """Same data, settings and code: every stage is linked from the first run (stages.json
    says from where), the report is rendered again, and the models are the same files."""
    here = os.getcwd()
    os.chdir(finished_run)
    try:
        args = ["run", "--run", "r2", "--runs-dir", "runs", "--tasks", "seed", "--budget",
                "quick", "--data-dir", str(data_dir), "--log-format", "plain"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        fresh = runner.invoke(app, [*args[:2], "r3", *args[3:], "--fresh", "-q"])
        assert fresh.exit_code == 0, fresh.output
    finally:
        os.chdir(here)
    r1, r2 = finished_run / "runs" / "r1", finished_run / "runs" / "r2"
    stages = json.loads((r2 / "stages.json").read_text())
    assert {s: v["reused_from"] for s, v in stages.items()} == {
        "build_seed": "r1", "explore": "r1", "train_seed": "r1", "cluster": "r1", "explain": "r1",
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
    # --fresh recomputes: nothing reused, the same keys
    r3 = json.loads((finished_run / "runs" / "r3" / "stages.json").read_text())
    assert all(v["reused_from"] is None for v in r3.values())
    assert {s: v["key"] for s, v in r3.items()} == {s: v["key"] for s, v in first.items()}

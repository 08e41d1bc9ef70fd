"""The README's figures are the block a run wrote (`songpop report --readme`), and agree with
themselves: no hand-edited number can slip in without breaking a row's arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from songpop.report.facts import BEGIN, END, facts_markdown, readme_block

README = Path(__file__).parents[2] / "README.md"


def _rows(block: str) -> list[dict[str, str]]:
    lines = [line for line in block.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (c.strip() for c in line.strip("|").split(" | ")), strict=True))
        for line in lines[2:]
    ]


def test_the_readme_quotes_one_run_block_whose_rows_add_up() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = readme_block(text)
    assert block is not None
    run = re.search(r"\(run `(\d{8}-\d{6})`", block)
    assert run, "the block names the run it comes from"
    rows = _rows(block)
    tasks = {"chart_chance", "hit", "seed", "seed_era", "chart", "chart_era"}
    assert rows and {r["task"] for r in rows} == tasks
    for row in rows:
        acc, dummy = float(row["test accuracy"]), float(row["dummy accuracy"])
        low, high = (float(x) for x in row["95% CI"].split("–"))
        assert low <= acc <= high
        assert float(row["lift (points)"]) == pytest.approx(100 * (acc - dummy), abs=0.11)
        majority = float(row["majority-class rate"])
        if not row["PR-AUC"] and (acc < majority or acc <= dummy):  # a level task's row
            assert row["note"], row
    # every task has its year-only row, on held-out songs and forward in time
    for task in tasks:
        mine = [r for r in rows if r["task"] == task]
        assert mine[0]["features"].startswith("year only"), task
        assert any(r["protocol"].startswith("forward") for r in mine), task


def test_facts_markdown_renders_a_run_as_the_readme_shows_it() -> None:
    facts = {
        "run": "20261202-170000",
        "songs": {"seed": 9505, "hit": 31547},
        "default": "seed/audio/lgbm",
        "default_reason": "best by CV",
        "seconds": 101.4,
        "rows": [{"task": "seed", "features": "audio only", "test accuracy": 0.5, "note": ""}],
        "new_song": None,
    }
    block = facts_markdown(facts)
    assert block.startswith("Figures from `make run` on 2026-12-02 (run `20261202-170000`, 101 s")
    assert "songs built per task: seed 9,505, hit 31,547" in block
    assert "The default model is `seed/audio/lgbm`: best by CV." in block
    assert block.splitlines()[-1] == "| seed | audio only | 0.500 |  |"

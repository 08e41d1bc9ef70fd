"""The README's figures, written by the run itself.

`songpop run` writes `runs/<run>/facts.md`: the run's name and date, its song counts per task,
the default model and why, and the headline table (the report's summary rows: accuracy with its
interval, macro-F1, the dummy and the majority-class rate, the time-forward rows). The README
holds a copy between two markers; `songpop report --run runs/<run> --readme README.md` replaces
it, and `songpop run` says when the README's copy is from another run, so that no figure there
drifts away from the run it claims.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from songpop.errors import DataNotFoundError, SchemaError
from songpop.io import atomic_write
from songpop.report.summary import plain_words

BEGIN = "<!-- songpop:facts begin (written by `songpop report --readme`; do not edit) -->"
END = "<!-- songpop:facts end -->"
FACTS_FILE = "facts.md"


def run_facts(run_dir: Path) -> dict[str, Any]:
    """What the README quotes from a finished run (JSON-safe).

    Raises:
        DataNotFoundError: the run has no summary table (it did not finish).
    """
    run_dir = Path(run_dir)
    summary = run_dir / "summary" / "summary.csv"
    if not summary.is_file():
        raise DataNotFoundError(f"{summary} not found: {run_dir} is not a finished run")
    songs = {}
    for build in sorted((run_dir / "data").glob("*/build.json")):
        songs[build.parent.name] = json.loads(build.read_text(encoding="utf-8")).get("songs")
    index_path = run_dir / "models" / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.is_file() else {}
    timings_path = run_dir / "timings.json"
    timings = json.loads(timings_path.read_text(encoding="utf-8")) if timings_path.is_file() else {}
    stages = timings.get("seconds", {})
    # the run's wall time; stages that ran side by side add up to more
    wall = timings.get("wall") or sum(v for v in stages.values() if isinstance(v, int | float))
    return {
        "run": run_dir.name,
        "songs": songs,
        "default": index.get("default"),
        "default_reason": index.get("default_reason"),
        "seconds": round(float(wall), 1),
        "rows": [
            {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in pd.read_csv(summary, keep_default_na=True).to_dict("records")
        ],
        "new_song": index.get("new_song"),
    }


def facts_markdown(facts: dict[str, Any]) -> str:
    """The README block for `run_facts(...)`: a sentence on the run, then the table."""
    run = facts["run"]
    date = f"{run[:4]}-{run[4:6]}-{run[6:8]}" if run[:8].isdigit() else run
    counts = ", ".join(f"{task} {n:,}" for task, n in facts["songs"].items() if n is not None)
    lines = [
        f"Figures from `make run` on {date} (run `{run}`, {facts['seconds']:.0f} s of "
        f"pipeline; songs built per task: {counts}). The default model is "
        f"`{facts['default']}`: {facts['default_reason']}.",
        "",
    ]
    rows = facts["rows"]
    if rows:
        lines += [f"- {sentence}" for sentence in plain_words(rows)] + [""]
    if rows:
        columns = list(rows[0])
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in rows:
            lines.append("| " + " | ".join(_cell(c, row[c]) for c in columns) + " |")
    return "\n".join(lines)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if "points" in column else f"{value:.3f}"
    return str(value).replace("|", "\\|")


def readme_block(text: str) -> str | None:
    """The facts block of a README's text (between the markers), or None without one."""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def update_readme(readme: Path, markdown: str) -> bool:
    """Put `markdown` between the README's markers (atomically); False when already there.

    Raises:
        SchemaError: the README has no markers, or more than one pair.
    """
    text = Path(readme).read_text(encoding="utf-8")
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise SchemaError(
            f"{readme}: expected one facts block between {BEGIN!r} and {END!r} on lines of "
            "their own"
        )
    if readme_block(text) == markdown:
        return False
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    with atomic_write(Path(readme)) as handle:
        handle.write(f"{before}{BEGIN}\n{markdown}\n{END}{after}")
    return True


def write_facts(run_dir: Path) -> Path:
    """Write `facts.md` into a finished run folder."""
    path = Path(run_dir) / FACTS_FILE
    with atomic_write(path) as handle:
        handle.write(facts_markdown(run_facts(run_dir)) + "\n")
    return path

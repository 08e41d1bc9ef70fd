"""songpop CLI: `run`, the whole pipeline end to end (what `make run` calls)."""

from __future__ import annotations

from pathlib import Path

import typer

from songpop.cli.output import err as console
from songpop.cli.output import fail
from songpop.errors import SongpopError


def run(
    run_name: str = typer.Option(None, "--run", help="Run folder name (default: the time)."),
    budget: str = typer.Option(
        "default", help="Model search budget: quick, default or full (slower, more thorough)."
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="Raw data folder (default: $SONGPOP_DATA_DIR, else a cache)."
    ),
    runs_root: Path = typer.Option(None, "--runs-dir", help="Where run folders go (./runs)."),
    tasks: str = typer.Option(
        "hit,seed,chart",
        help="Tasks to train, comma-separated: hit (charted or not), seed (the original "
        "report's levels), chart (how big a hit, among charted songs).",
    ),
) -> None:
    """Build the songs, explore them, train and evaluate every model, and write the report."""
    from songpop.pipeline import TASKS, run_pipeline

    if budget not in ("quick", "default", "full"):
        raise typer.BadParameter(f"--budget {budget!r}: expected quick, default or full")

    chosen = [t.strip() for t in tasks.split(",") if t.strip()]
    unknown = sorted(set(chosen) - set(TASKS))
    if unknown or not chosen:
        raise typer.BadParameter(f"--tasks {tasks!r}: expected some of {', '.join(TASKS)}")

    def show(stage: str, seconds: float) -> None:
        console.print(f"[green]✓[/green] {stage:<12} {seconds:7.1f} s")

    try:
        result = run_pipeline(
            run_name=run_name,
            runs_root=runs_root,
            data_dir=data_dir,
            budget=budget,
            tasks=chosen,
            on_stage=show,
        )
    except SongpopError as exc:
        raise fail(exc) from None
    total = sum(result.timings.values())
    console.print(f"run folder: {result.run_dir}  ({total:.0f} s in all)")
    typer.echo(f"report: {result.report}")
    _readme_note(result.run_dir)


def _readme_note(run_dir: Path, readme: Path = Path("README.md")) -> None:
    """Say when the README here quotes another run's figures, and how to update them."""
    from songpop.report.facts import FACTS_FILE, readme_block

    if not readme.is_file() or not (run_dir / FACTS_FILE).is_file():
        return
    block = readme_block(readme.read_text(encoding="utf-8"))
    if block is None or block == (run_dir / FACTS_FILE).read_text(encoding="utf-8").strip("\n"):
        return
    console.print(
        f"note: {readme} quotes another run's figures; `songpop report --run {run_dir} "
        f"--readme {readme}` (or `make readme`) puts this run's there",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("run")(run)

"""songpop CLI: `run`, the whole pipeline end to end (what `make run` calls)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from songpop import config
from songpop.cli.output import RunView, fail, note_left_out
from songpop.cli.output import err as console
from songpop.errors import SongpopError


def run(
    run_name: str = typer.Option(None, "--run", help="Run folder name (default: the time)."),
    budget: str = typer.Option(
        "default",
        help="Model search budget: quick, default or full (slower, more thorough: it searches "
        "each model's settings and also fits the comparison models, k-NN, SVC, random forest "
        "and MLP).",
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="Raw data folder (default: $SONGPOP_DATA_DIR, else a cache)."
    ),
    runs_root: Path = typer.Option(
        None,
        "--runs-dir",
        help="Where run folders go, with their reports (<runs-dir>/reports/<run>). Default: "
        "$SONGPOP_RUNS_DIR, else ./runs (reports beside it, in ./reports). Wherever it goes, "
        "the finished run is registered in the songpop home ($SONGPOP_HOME, else your user "
        "data folder), so predict, serve and models list find it from any folder.",
    ),
    tasks: str = typer.Option(
        "chart_chance,hit,seed,chart,seed_era,chart_era",
        help="Tasks to train, comma-separated: chart_chance (a release's chance to reach the "
        "Hot 100; the answer for a new song), hit (Hit Predictor songs, charted or not), seed "
        "(the original report's levels), chart (how big a hit, among charted songs), seed_era "
        "and chart_era (the same levels cut within five-year release cohorts).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Show nothing while it runs."),
    log_format: str = typer.Option(
        None,
        "--log-format",
        help="rich (a live view; the default in a terminal) or plain (timestamped lines; the "
        "default otherwise, e.g. in CI or into a file).",
    ),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Recompute every stage, even those an earlier run already did with the same "
        "inputs, settings and code.",
    ),
    workers: int = typer.Option(
        None, "--workers", min=1, help="Stages run side by side (default: cores, at most 2)."
    ),
) -> None:
    """Build the songs, explore them, train and evaluate every model, and write the report.

    The finished run becomes the last run: `songpop predict`, `serve` and `models list` use
    its default model from any folder (it is registered in the songpop home, $SONGPOP_HOME or
    your user data folder).
    """
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.pipeline import TASKS, fits_mlp, run_pipeline

    if budget not in ("quick", "default", "full"):
        raise typer.BadParameter(f"--budget {budget!r}: expected quick, default or full")

    chosen = [t.strip() for t in tasks.split(",") if t.strip()]
    unknown = sorted(set(chosen) - set(TASKS))
    if unknown or not chosen:
        raise typer.BadParameter(f"--tasks {tasks!r}: expected some of {', '.join(TASKS)}")

    mlp_tasks = [t for t in chosen if fits_mlp(t, budget)]
    if mlp_tasks and not config.extra_installed("mlp"):
        note_left_out(f"the MLP of the full budget's {', '.join(mlp_tasks)} comparison", "mlp")
    mode = "quiet" if quiet else (log_format or ("rich" if console.is_terminal else "plain"))
    try:
        with RunView(mode) as view:
            result = run_pipeline(
                run_name=run_name,
                runs_root=runs_root,
                data_dir=data_dir,
                budget=budget,
                tasks=chosen,
                hook=view,
                workers=workers,
                reuse=not fresh,
            )
    except SongpopError as exc:
        raise fail(exc) from None
    from songpop.bundle import register_run  # late: loads pyarrow, pandas, numpy (start-up)

    try:
        registry = register_run(result.run_dir)
    except OSError as exc:  # the run itself is done: say it, do not fail it
        registry = None
        console.print(f"note: could not register the run in the songpop home ({exc})",
                      markup=False, highlight=False)  # fmt: skip
    if not quiet:
        console.print(stage_table(result.timings, result.reused, result.wall))
    console.print(f"run folder: {result.run_dir}  ({result.wall:.0f} s in all)", highlight=False)
    if registry is not None:
        console.print(
            f"registered in {registry}: predict, serve and models list use this run from any "
            "folder",
            markup=False,
            highlight=False,
        )
    typer.echo(f"report: {result.report}")
    _readme_note(result.run_dir)


def stage_table(timings: dict[str, float], reused: dict[str, str], wall: float) -> Table:
    """Each stage's time, and where a reused stage came from; stages that ran side by side add
    up to more than the wall time, which the last line gives."""
    table = Table(title="Stage times")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("note")
    for stage, seconds in timings.items():
        note = f"reused from run {reused[stage]}" if stage in reused else ""
        table.add_row(stage, f"{seconds:.1f}", note)
    table.add_row("[bold]wall time[/]", f"[bold]{wall:.1f}[/]", "stages ran side by side")
    return table


def _readme_note(run_dir: Path, readme: Path = Path("README.md")) -> None:
    """Say when the README here quotes another run's figures, and how to update them."""
    # late: loads pyarrow, pandas, numpy (start-up)
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

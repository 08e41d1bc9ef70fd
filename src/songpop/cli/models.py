"""songpop CLI: `songpop train`, `songpop reproduce` and `songpop models list`.

Thin commands: parse the options, call `songpop.train` / `songpop.reproduce` /
`songpop.bundle.list_bundles`, print the outcome. Library errors (`SongpopError`) are printed as
one clear line and end the command with a non-zero exit code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songpop import config
from songpop.cli.output import RunView, err, fail, note_left_out
from songpop.errors import BundleError, LayoutError, SongpopError
from songpop.progress import StageHook

models_app = typer.Typer(
    help="Saved model bundles: list what is saved, verify a bundle.", no_args_is_help=True
)
_out = Console()
log = logging.getLogger(__name__)

BUDGET_HELP = (
    'Budget: "quick" (small models on 2 folds, no search: for tests; a task still evaluates, '
    'saves and draws everything), "default" (the `make run` budget: the registry\'s defaults on '
    '3 folds) or "full" (5 folds, every search space).'
)


def _build_info(songs_path: Path) -> dict[str, Any]:
    """The build.json next to a songs.parquet, if any (profile and label strategy)."""
    path = songs_path.parent / "build.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("%s is unreadable; pass --label and --task", path)
        return {}


def train_command(
    songs: Path = typer.Option(
        ..., "--songs", help="The song table to train on (DIR/songs.parquet from `data build`)."
    ),
    out: Path = typer.Option(..., "--out", help="Models folder: one bundle folder per model."),
    models: str | None = typer.Option(
        None, "--models", help="Comma-separated registry names (default: the default registry)."
    ),
    budget: str = typer.Option("default", "--budget", help=BUDGET_HELP),
    label: str | None = typer.Option(
        None, "--label", help="Label strategy of the table (default: from build.json)."
    ),
    task: str | None = typer.Option(
        None, "--task", help="Task name (default: the build's profile or label strategy)."
    ),
    feature_sets: str = typer.Option(
        "year,audio,audio+context,measured,history",
        "--feature-sets",
        help="Feature sets to train, comma-separated: year (the release year alone: the "
        "baseline), audio, audio+context, measured (only what songpop measures in an audio "
        "file, plus the year), history (audio + year + the artist's earlier chart record; "
        "chart-chance builds). A set the table cannot make is skipped.",
    ),
    test_size: float = typer.Option(0.2, "--test-size", help="Share of songs held out."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default: config.SEED)."),
    artist_history: Path | None = typer.Option(
        None,
        "--artist-history",
        help="The chart-chance build's artist_history.parquet (default: beside --songs), for "
        "the history models of a chart-chance table or a filtered copy of one.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Show nothing while it runs."),
) -> None:
    """Train the model registry on a song table and save one bundle folder per model.

    The songs are split first (stratified); every model is tuned and chosen by cross-validation
    on the training songs only and scored once on the held-out songs, with a 95% interval and
    the dummy baseline. Works with any label strategy, the hit label included.
    """
    from songpop.build import load_songs  # late: loads pyarrow, pandas, numpy (start-up)

    # late: loads lightgbm, sklearn, imblearn (start-up)
    from songpop.models.registry import parse_model_list

    # late: loads lightgbm, sklearn, imblearn (start-up)
    from songpop.models.search import get_budget
    from songpop.train import train_task  # late: loads lightgbm, sklearn, imblearn (start-up)

    try:
        get_budget(budget)
        names = parse_model_list(models)
        table = load_songs(songs)
        info = _build_info(songs)
        strategy = label or info.get("label") or "unknown"
        # a chart-chance build, or a filtered copy of one (its labels say so)
        labels = set(table["level"].astype(str).unique())
        chance = info.get("task") == "chart-chance" or labels == {"charted", "not_charted"}
        strategy = "charted" if chance and strategy == "unknown" else strategy
        task_name = task or (
            "chart_chance" if chance else ("seed" if info.get("profile") == "seed" else strategy)
        )
        history = artist_history or songs.parent / "artist_history.parquet"
        if chance and names is None:
            # late: loads lightgbm, sklearn, imblearn (start-up)
            from songpop.models.registry import models_for

            names = models_for("fast")  # as `songpop run` trains it (calibrated: no MLP)
        if names is None:
            # late: loads lightgbm, sklearn, imblearn (start-up)
            from songpop.models.registry import left_out

            for model, extra in left_out().items():
                note_left_out(f"model {model!r}", extra)
        era = (info.get("label_report") or {}).get("era") or {}
        with RunView(_mode(quiet)) as view:
            summary = train_task(
                table,
                out,
                task=task_name,
                label_strategy=strategy,
                feature_sets=[f.strip() for f in feature_sets.split(",") if f.strip()],
                models=names,
                budget=budget,
                seed=config.SEED if seed is None else seed,
                test_size=test_size,
                hook=StageHook(view, "train"),
                calibrate=chance,
                split_by="artist" if chance else None,
                era_years=era.get("era_years"),
                artist_history=_read_history(history) if history.is_file() else None,
            )
    except SongpopError as exc:
        raise fail(exc) from exc
    _print_summary(summary, out)


def _read_history(path: Path) -> Any:
    """The build's artist history table, with a clear error when unreadable."""
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types on a bad file
        raise LayoutError(f"{path}: not a readable Parquet table ({exc})") from exc


def _mode(quiet: bool) -> str:
    """The live view in a terminal, plain lines elsewhere, nothing with --quiet."""

    return "quiet" if quiet else ("rich" if err.is_terminal else "plain")


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    table = Table(
        title=f"{summary['task']}: {summary['n_train']:,} training / {summary['n_test']:,} "
        f"test songs (budget {summary['budget']})"
    )
    columns = (
        "feature set",
        "model",
        "CV accuracy",
        "test accuracy [95% CI]",
        "dummy",
        "scored by",
    )
    for col in columns:
        table.add_column(col, justify="left" if col in ("feature set", "model") else "right")
    for fs, fs_summary in summary["feature_sets"].items():
        for model, entry in sorted(
            fs_summary["models"].items(), key=lambda kv: -kv[1]["cv_accuracy"]
        ):
            low, high = entry["accuracy_ci"]
            star = " *" if model == fs_summary["best"] else ""
            table.add_row(
                fs,
                model + star,
                f"{entry['cv_accuracy']:.3f}",
                f"{entry['accuracy']:.3f} [{low:.3f}, {high:.3f}]",
                f"{entry['dummy_accuracy']:.3f}",
                entry.get("scored_by", "–"),
            )
    _out.print(table)
    _out.print("* best per feature set by cross-validated accuracy on the training songs")
    _out.print("scored by: onnx (its ONNX graph: fast to serve) or estimator (the model itself)")
    if summary.get("default"):
        reason = summary.get("default_reason", "")
        _out.print(f"default model: {summary['default']}" + (f" ({reason})" if reason else ""))
    _out.print(f"bundles and index.json in {out}; timings {summary['timings']['total']:.1f} s")


def reproduce_command(
    out: Path = typer.Option(..., "--out", help="Folder for reproduce.json/.csv/.md."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data folder (default: $SONGPOP_DATA_DIR, else the cache)."
    ),
    budget: str = typer.Option("default", "--budget", help=BUDGET_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Show nothing while it runs."),
) -> None:
    """Re-run the report's models on its own splits and compare songpop's best models.

    Prints and writes DIR/reproduce.json, reproduce.csv and reproduce.md: the report's number,
    the original code's number, songpop's run of the original model, and songpop's best
    audio-only and audio + context models on the same split with their 95% intervals.
    """
    # late: loads lightgbm, sklearn, imblearn (start-up)
    from songpop.models.search import get_budget

    # late: loads lightgbm, sklearn, imblearn (start-up)
    from songpop.reproduce import TABLE_COLUMNS, reproduce

    try:
        get_budget(budget)
        with RunView(_mode(quiet)) as view:
            summary = reproduce(out, data_dir=data_dir, budget=budget, hook=view)
    except SongpopError as exc:
        raise fail(exc) from exc
    for name, info in summary["splits"].items():
        line = (
            f"split {name}: {info['n_train']:,} / {info['n_test']:,} rows, test classes "
            f"low/medium/high {info['test_classes']}"
        )
        if "expected" in info:
            line += f" (original {info['expected']['test_classes']})"
        _out.print(line)
    table = Table(title=f"songpop reproduce ({summary['n_songs']:,} songs)")
    for col in TABLE_COLUMNS:
        table.add_column(col, overflow="fold")
    for row in summary["table"]:
        table.add_row(*[str(row[c]) for c in TABLE_COLUMNS])
    _out.print(table)
    for fs, aim in summary.get("aims", {}).items():
        if isinstance(aim, dict):
            verdict = "met" if aim["met"] else "not met"
            _out.print(f"aim {fs} ≥ {aim['aim']:.2f}: {aim['reached']:.4f} ({verdict})")
    _out.print(f"written: {out / 'reproduce.json'}, reproduce.csv, reproduce.md")


@models_app.command("list")
def list_command(
    models_dir: Path | None = typer.Option(
        None,
        "--dir",
        help="A models folder, or a run folder. Default: the last run's (./runs/LATEST, "
        "else the last `songpop run` registered in the songpop home, from any folder).",
    ),
) -> None:
    """Show the saved model bundles: id, task, feature set, test accuracy with CI, created.

    Each id can be given to --model as printed (seed/audio/lgbm, for the last run), or led by
    its run's name (RUN/seed/audio/lgbm).
    """
    from songpop.bundle import list_bundles  # late: loads pyarrow, pandas, numpy (start-up)

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.bundle.models_index import _latest_models_dir

    try:
        folder = models_dir or _latest_models_dir(required=True)
        assert folder is not None
        if (folder / "models").is_dir() and not any(folder.glob("*/bundle.json")):
            folder = folder / "models"  # a run folder
        if not folder.is_dir():
            raise BundleError(f"--dir {folder}: no such folder")
        rows = list_bundles(folder)
    except SongpopError as exc:
        raise fail(exc) from exc
    if not rows:
        _out.print(f"no model bundles in {folder}", markup=False)
        return
    table = Table(title=f"model bundles of run {folder.resolve().parent.name} ({folder})")
    for col in ("id", "task", "feature set"):
        table.add_column(col, no_wrap=True)
    for col in ("accuracy [95% CI]", "dummy", "scored by", "created"):
        table.add_column(col, overflow="fold")
    for row in rows:
        path = Path(row["path"])
        ident = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)
        if row.get("error"):
            table.add_row(ident, "", "", f"[red]{escape(row['error'])}[/]", "", "", "")
            continue
        m = row.get("metrics") or {}
        acc = ""
        if m.get("accuracy") is not None:
            acc = f"{m['accuracy']:.3f}"
            if m.get("accuracy_low") is not None:
                acc += f" [{m['accuracy_low']:.3f}, {m['accuracy_high']:.3f}]"
        dummy = f"{m['dummy_accuracy']:.3f}" if m.get("dummy_accuracy") is not None else ""
        star = " (default)" if row.get("default") else ""
        table.add_row(
            ident + star,
            str(row.get("task") or ""),
            str(row.get("feature_set") or ""),
            acc,
            dummy,
            str(row.get("scored_by") or ""),
            str(row.get("created") or "")[:16].replace("T", " "),
        )
    _out.print(table)
    _out.print(
        "scored by: onnx (the bundle's ONNX graph, ONNX Runtime) or estimator (the model "
        "itself); `make bench` times both"
    )


@models_app.command("verify")
def verify_command(
    bundle: Path = typer.Argument(..., help="A model bundle folder (with its bundle.json)."),
) -> None:
    """Check a bundle: hashes, files inside the folder, object types, ONNX graph, a prediction.

    The hashes show that no file was changed or damaged since bundle.json was written; they do
    not make bundle.json itself true (whoever edits it can rewrite them): trust a bundle as
    much as its source.
    """
    from songpop.bundle import verify_bundle  # late: loads pyarrow, pandas, numpy (start-up)

    try:
        passed = verify_bundle(bundle)
    except SongpopError as exc:
        raise fail(exc) from None
    for line in passed:
        _out.print(f"[green]✓[/] {escape(line)}", highlight=False)
    _out.print(f"{bundle}: verified", markup=False)


def register(app: typer.Typer) -> None:
    """Add `train`, `reproduce` and the `models` group to the root app."""
    app.command("train")(train_command)
    app.command("reproduce")(reproduce_command)
    app.add_typer(models_app, name="models")

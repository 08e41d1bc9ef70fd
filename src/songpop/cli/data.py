"""songpop CLI: data commands (`songpop data fetch`, `songpop data build`).

Thin commands: parse the options, call the library, print the outcome. Library errors
(`SongpopError`) are printed as one clear line and end the command with their exit code.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songpop import config
from songpop.cli.output import err, fail, progress
from songpop.errors import InputError, SchemaError, SongpopError

data_app = typer.Typer(
    help="Find, fetch and verify the raw data, and build the song table.",
    no_args_is_help=True,
)
_out = Console()

DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Folder holding charts/, tracks/ and seed/ (default: $SONGPOP_DATA_DIR, else a "
    "per-user cache folder).",
)
NamesArgument = typer.Argument(
    None,
    help="Datasets to fetch (default: every default dataset of the registry).",
    show_default=False,
)


@data_app.command("fetch")
def fetch_command(
    names: list[str] | None = NamesArgument,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Find each registry dataset in the data folder, download what is missing, verify sha256.

    Prints one line per dataset: file, status (ok / fetched / missing / mismatch / unreadable)
    and rows. Exits non-zero when any dataset is missing or differs from the registry.
    """
    from songpop.sources import registry  # late: loads pyarrow, pandas, numpy (start-up)

    folder = config.data_dir(data_dir)
    try:
        reports = registry.fetch_all(names or None, folder)
    except SongpopError as exc:
        raise fail(exc) from exc
    table = Table(title=f"data folder: {folder}")
    table.add_column("dataset", overflow="fold")
    table.add_column("file", overflow="fold")
    table.add_column("status")
    table.add_column("rows", justify="right")
    colours = {"ok": "green", "fetched": "cyan"}
    for report in reports:
        colour = colours.get(report.status, "red")
        rows = f"{report.rows:,}" if report.rows is not None else "-"
        table.add_row(
            report.name,
            escape(str(report.path.relative_to(folder))),
            f"[{colour}]{report.status}[/]",
            rows,
        )
    _out.print(table)
    bad = [r for r in reports if r.status not in ("ok", "fetched")]
    for report in bad:
        err.print(f"[bold red]error:[/] {escape(report.message)}", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(code=2)


_OutOption = typer.Option(
    ..., "--out", help="Output folder: stage tables, songs.parquet, build.json, match audit."
)
_ProfileOption = typer.Option(
    "default", "--profile", help="default (songpop's rules) or seed (the original project's)."
)
_LabelOption = typer.Option(
    None,
    "--label",
    help="Label strategy: composite | spotify | hit (default: composite; seed: spotify).",
)
_ChartsOption = typer.Option(None, "--charts", help="Chart file (any known layout).")
_TracksOption = typer.Option(
    None, "--tracks", help="Track file (any known layout); repeat the option for several."
)
_WeightsOption = typer.Option(
    None,
    "--weights",
    help="Composite label weights, e.g. weeks=0.25,avg_prev=0.25,best=0.25,popularity=0.25.",
)
_ThresholdOption = typer.Option(
    90.0, "--fuzzy-threshold", help="Lowest accepted fuzzy match score (0-100)."
)


@data_app.command("build")
def build_command(
    out: Path = _OutOption,
    profile: str = _ProfileOption,
    label: str | None = _LabelOption,
    charts: Path | None = _ChartsOption,
    tracks: list[Path] | None = _TracksOption,
    data_dir: Path | None = DataDirOption,
    threshold: float = _ThresholdOption,
    weights: str | None = _WeightsOption,
    task: str | None = typer.Option(
        None,
        "--task",
        help="chart-chance: every track released from 1958 on (no chart-derived selection), "
        "labelled charted / not charted by songpop's own chart matching, with the artist's "
        "Hot 100 record before the release year.",
    ),
    era_years: int | None = typer.Option(
        None,
        "--era-years",
        help="Cut the levels within release cohorts this many years wide (e.g. 5): 'high' is "
        "then the top third of the songs released in the same years. Songs without a year are "
        "left out and counted.",
    ),
) -> None:
    """Read charts and tracks, clean, aggregate, match and label them into DIR/songs.parquet.

    Writes each stage's table as Parquet, build.json and the match audit into --out, then
    prints rows in/out of every stage, the match rate per source and the label balance.
    """
    from songpop.build import build_dataset  # late: loads pyarrow, pandas, numpy (start-up)

    try:
        parsed = _parse_weights(weights) if weights else None
        summary = build_dataset(
            out,
            profile=profile,
            label=label,
            charts=charts,
            tracks=tracks or None,
            data_dir=data_dir,
            fuzzy_threshold=threshold,
            weights=parsed,
            progress=err.is_terminal,
            task=task,
            era_years=era_years,
        )
    except SongpopError as exc:
        raise fail(exc) from exc
    _print_build(summary)


def _parse_weights(text: str) -> dict[str, float]:
    """ "weeks=0.5,best=0.5" -> {"weeks": 0.5, "best": 0.5}; a malformed item is an error."""

    weights: dict[str, float] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise SchemaError(
                f"--weights item {item!r}: expected name=number, e.g. weeks=0.25"
            ) from None
    return weights


def _print_build(summary: dict) -> None:
    stages = Table(title=f"data build ({summary['profile']} profile, {summary['label']} label)")
    stages.add_column("stage")
    stages.add_column("rows in", justify="right")
    stages.add_column("rows out", justify="right")
    stages.add_column("matched", justify="right")
    for stage in summary["stages"]:
        matched = f"{stage['matched']:,}" if "matched" in stage else ""
        stages.add_row(stage["stage"], f"{stage['rows_in']:,}", f"{stage['rows_out']:,}", matched)
    _out.print(stages)
    rates = Table(title="match rate per track source")
    for column in ("source", "tracks", "exact", "fuzzy", "match rate"):
        rates.add_column(column, justify="left" if column == "source" else "right")
    for source, row in summary["match"]["per_source"].items():
        rates.add_row(
            source,
            f"{row['tracks']:,}",
            f"{row['exact']:,}",
            f"{row['fuzzy']:,}",
            f"{row['match_rate']:.1%}",
        )
    _out.print(rates)
    match = summary["match"]
    _out.print(
        f"chart songs matched: {match['chart_songs_matched']:,} of {match['chart_songs']:,} "
        f"({match['chart_match_rate']:.1%})"
    )
    total = sum(summary["label_balance"].values())
    balance = ", ".join(
        f"{name} {n:,} ({n / total:.1%})" for name, n in summary["label_balance"].items()
    )
    _out.print(f"label balance: {balance}")
    agreement = summary["label_report"].get("agreement")
    if agreement and agreement.get("rows"):
        _out.print(
            f"source hit flag vs chart match: {agreement['agreement']:.1%} agree "
            f"on {agreement['rows']:,} tracks"
        )
    oor = summary["out_of_range"]
    _out.print(
        f"out-of-range values: {oor['tracks_rows_dropped']:,} track rows dropped "
        f"{oor['tracks_dropped_by_column']}, context values set NA "
        f"{oor['tracks_set_na_by_column']}"
    )
    _out.print(f"{summary['songs']:,} songs -> {summary['out_dir']}/songs.parquet")


@data_app.command("fetch-features")
def fetch_features_command(
    ids: Path | None = typer.Option(
        None, "--ids", help="A text file: one Spotify track link, URI or id a line."
    ),
    charts: Path | None = typer.Option(
        None,
        "--charts",
        help="A chart file (any known layout): every chart song the local catalogue lacks is "
        "searched on Spotify (needs SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET).",
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="The track table to write: .csv, .csv.gz or "
        ".parquet (the Spotify API layout, read by `data build --tracks`).",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Fetch at most N songs."),
) -> None:
    """Fetch audio features for Spotify ids, or for the chart songs the catalogue lacks.

    Through ReccoBeats and the Spotify Web API, in batches.

    Resumable: an interrupted run keeps what it fetched (<out>.partial.jsonl) and the next run
    with the same --out goes on from there; the provider cache keeps any id from being fetched
    twice. Lines that are not Spotify track links are reported and skipped.
    """
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.lookup import load_catalogue

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.providers.fetch import chart_queries, fetch_features, read_ids
    from songpop.providers.resolve import Providers  # late: loads httpx, pyarrow, pandas (start-up)

    if (ids is None) == (charts is None):
        raise fail(InputError("give one of --ids FILE or --charts FILE"))
    providers = None
    try:
        id_list, queries, bad = [], [], []
        if ids is not None:
            id_list, bad = read_ids(ids)
        else:
            queries = chart_queries(charts, load_catalogue())
        if limit is not None:
            id_list, queries = id_list[:limit], queries[:limit]
        providers = Providers.from_environment()
        if queries and providers.spotify is None:
            raise InputError(
                "--charts finds songs through Spotify's search, which needs credentials: "
                + providers.notes[0]
            )
        for problem in bad:
            err.print(f"[yellow]skipped:[/] {escape(str(problem))}", highlight=False)
        with progress("fetching") as tick:
            summary = fetch_features(providers, out, ids=id_list, queries=queries, progress=tick)
    except SongpopError as exc:
        raise fail(exc) from None
    finally:
        if providers is not None:
            providers.close()
    for note in summary.notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    providers_text = ", ".join(f"{k} {v}" for k, v in summary.by_provider.items()) or "none"
    _out.print(
        f"{summary.found:,} of {summary.asked:,} song(s) with features ({providers_text}; "
        f"{summary.resumed:,} from an interrupted run) written to {summary.output}; "
        f"{len(summary.not_found):,} not found by any provider; {len(bad):,} line(s) skipped",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the `data` command group to the root app."""
    app.add_typer(data_app, name="data", help="Find, fetch and verify the raw data; build songs.")

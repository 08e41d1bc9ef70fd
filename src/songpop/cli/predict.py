"""songpop CLI: `songpop predict`, the command-line face of `songpop.inference`.

One song from options (`--danceability 0.7 --energy 0.8 ...`, one option per feature of
`songpop.vocabulary`), records from `--json FILE`, or a whole file
with `--csv FILE --out FILE` (CSV or Parquet, any known track layout, streamed in chunks).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songpop import vocabulary
from songpop.cli.audio import _run, load_calibration_option
from songpop.cli.output import err, fail, on_cluster
from songpop.errors import InputError, LayoutError, SongpopError

_out = Console()


def _feature_help(name: str) -> str:
    feature = vocabulary.FEATURES[name]
    return f"{feature.description}: {feature.expected()}."


def _option_type(name: str) -> type:
    return int if vocabulary.FEATURES[name].integer else float


def predict_command(
    files: list[str] | None,
    title: str | None,
    artist: str | None,
    lookup: bool,
    online: bool,
    model: Path | None,
    json_file: Path | None,
    csv_file: Path | None,
    out: Path | None,
    rejects: Path | None,
    explain: bool,
    top: int,
    similar: int,
    plot: Path | None,
    chunksize: int,
    scheduler: str | None,
    overwrite: bool = False,
    task: str | None = None,
    verbose: bool = False,
    **features: float | None,
) -> None:
    """Predict a song's popularity level with a saved model.

    An audio file: songpop predict song.mp3 (analysed first; the answer shows the range of
    each level's probability as the estimated features move over their plausible band).

    A known song: songpop predict --title T [--artist A], or a Spotify link, URI or id
    (found in the local catalogue of the data folder; its real features are used).

    One song: its features as options (--danceability 0.7 --energy 0.8 ...).

    Records: --json FILE (one object or a list of objects).

    A batch: --csv FILE --out FILE (CSV or Parquet, any known track layout or plain feature
    columns); bad rows go to --rejects with the reason, the good ones are scored.

    Without --model, the last run's answer for a new song comes first: the chance to reach
    the Hot 100 among the releases of the song's year (--year, or the file's tags; else this
    year), with the artist's earlier chart record when --artist is given, and the level within
    its era; then the default model's details. --task seed (or another task) uses that task's
    default model instead.
    """
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.bundle import load_bundle, resolve_model

    given = {k: v for k, v in features.items() if v is not None}
    sources = [bool(given), json_file is not None, csv_file is not None, bool(files), bool(title)]
    if sum(sources) != 1:
        raise fail(
            InputError(
                "give exactly one input: audio FILE(s), a Spotify link, --title T [--artist A], "
                "feature options (--danceability ...), --json FILE, or --csv FILE --out FILE"
            )
        )
    if artist and not (title or given or files):
        raise fail(InputError("--artist goes with --title, feature options or audio files"))
    if model is not None and str(model).strip().lower() == "latest":
        model = None  # the last run, as without --model: its new-song answer first
    if task is not None and model is not None:
        raise fail(InputError("give --model or --task, not both"))
    if task is not None:
        # late: loads pyarrow, pandas, numpy (start-up)
        from songpop.bundle import resolve_model as _resolve

        try:
            model = _resolve(None, task=task)
        except SongpopError as exc:
            raise fail(exc) from None
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.context import MAX_SIMILAR

    if similar < 0 or similar > MAX_SIMILAR:
        raise fail(InputError(f"--similar {similar}: expected a number from 0 to {MAX_SIMILAR}"))
    if csv_file is not None and (similar or plot):
        raise fail(InputError("--similar and --plot are for single songs, not a --csv batch"))
    show = Show(explain=explain, top=top, similar=similar, plot=plot, verbose=verbose)
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.lookup import looks_like_spotify

    if title or (files and all(looks_like_spotify(str(f)) for f in files)):
        links = [str(f) for f in files or []]
        _predict_known(links, title, artist, model, out, show, online)
        return
    if files:
        _predict_audio([Path(f) for f in files], model, out, show, lookup, online, artist)
        return
    if csv_file is not None and out is None:
        raise fail(InputError("--csv needs --out FILE (where the scored rows go)"))
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.dask_cluster import scheduler_address

    address = scheduler_address(scheduler)
    spread = csv_file is not None and (
        csv_file.is_dir() or any(ch in str(csv_file) for ch in "*?[")
    )
    if csv_file is not None and (address or spread):
        _score_on_cluster(
            str(csv_file), out, model, chunksize, address or "local", explain, overwrite
        )
        return
    try:
        bundle = load_bundle(resolve_model(model))
        if csv_file is not None:
            if model is None:
                bundle = _batch_bundle(csv_file, bundle, chunksize)
            _score_batch(csv_file, out, rejects, bundle, chunksize, explain, top, overwrite)
            return
        from songpop.inference import predict  # late: loads pyarrow, pandas, numpy (start-up)

        parts = _new_song_parts(model)
        filled: dict[str, Any] = {}
        if given:  # some features: the rest from a typical song, said below
            # late: loads pyarrow, pandas, numpy (start-up)
            from songpop.inference.typical import fill_typical

            given, filled, filled_from = fill_typical(
                given, [bundle, parts.chance if parts is not None else None]
            )
        records: Any = dict(given, artist=artist) if given and artist else given
        records = records if given else _read_json(json_file)
        rows = [records] if isinstance(records, dict) else list(records)
        answers = _new_song_answers(rows, parts)
        if answers:  # the default model scores what the answer used (year, history filled)
            rows = records = _answered(rows, answers)
        predictions = predict(records, bundle, explain=explain, similar=show.neighbours)
    except SongpopError as exc:
        raise fail(exc) from None
    if out is not None:
        from songpop.io import write_json_atomic  # late: loads pyarrow, pandas, numpy (start-up)

        dicts = [p.to_dict() for p in predictions]
        for d, a in zip(dicts, answers or [], strict=False):
            d["new_song"] = a.to_dict()
        write_json_atomic(dicts, out)
        _out.print(f"{len(predictions)} prediction(s) written to {out}", markup=False)
    if filled:
        # late: loads pyarrow, pandas, numpy (start-up)
        from songpop.inference.typical import filled_words

        err.print(
            f"note: not given, so taken from a typical song ({filled_from}): "
            f"{filled_words(filled)}",
            highlight=False,
            markup=False,
        )
    _print_new_song(answers)
    _print_predictions(predictions, bundle, show, rows)


def _predict_audio(
    files: list[Path],
    model: Path | None,
    out: Path | None,
    show: Show,
    use_catalogue: bool = True,
    online: bool = False,
    artist: str | None = None,
) -> None:
    from songpop.audio import is_audio_path  # late: loads numpy (start-up)

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.bundle import load_bundle, resolve_model

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.audio import predict_audio

    for f in files:
        if not is_audio_path(f):
            raise fail(
                InputError(
                    f"{f}: not an audio file name (expected .mp3, .wav, .flac, .ogg, .opus, "
                    ".m4a ...); for a table use --csv FILE --out FILE, for records --json FILE"
                )
            )
    try:
        bundle = load_bundle(resolve_model(model))
        parts = _new_song_parts(model)
    except SongpopError as exc:
        raise fail(exc) from None
    songs, failures = _run(files, online=online, calibration=load_calibration_option(None))
    catalogue = _catalogue_or_none() if use_catalogue else None
    results = [
        predict_audio(
            song, bundle, explain=show.explain, catalogue=catalogue, similar=show.neighbours
        )
        for song in songs
    ]
    for f in failures:
        err.print(f"[bold red]error:[/] {escape(str(f.error))}", highlight=False, soft_wrap=True)
    if out is not None and results:
        from songpop.io import write_json_atomic  # late: loads pyarrow, pandas, numpy (start-up)

        write_json_atomic([r.to_dict() for r in results], out)
        err.print(f"{len(results)} prediction(s) written to {out}", markup=False)
    for song, result in zip(songs, results, strict=True):
        if parts is not None:
            try:
                # late: loads pyarrow, pandas, numpy (start-up)
                from songpop.inference.newsong import audio_answer

                answers = [audio_answer(song, result, parts, artist)]
            except SongpopError as exc:
                err.print(
                    f"note: no chance to chart for {song.path} ({exc})",
                    highlight=False,
                    markup=False,
                )
                answers = None
            _print_new_song(answers, title=str(song.path))
        _print_audio_prediction(result, bundle, show)
    if failures:
        raise typer.Exit(code=1 if results else 2)


def _predict_known(
    links: list[str],
    title: str | None,
    artist: str | None,
    model: Path | None,
    out: Path | None,
    show: Show,
    online: bool = False,
) -> None:
    """Songs found in the local catalogue (by title and artist, or Spotify link), else, with
    --online, through the feature APIs: predicted from their real features, with what really
    happened to them when the catalogue knows."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.bundle import load_bundle, resolve_model
    from songpop.inference import predict  # late: loads pyarrow, pandas, numpy (start-up)

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.find import find_songs, year_source

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.lookup import parse_spotify

    try:
        ids = [parse_spotify(link) for link in links]
        bundle = load_bundle(resolve_model(model))
        search = find_songs(ids, title, artist, online=online)
        for note in search.notes:
            err.print(f"note: {note}", highlight=False, markup=False)
        found = search.songs
        records = [c.record() for c in found]
        parts = _new_song_parts(model)
        answers = _new_song_answers(
            [dict(r, artist=c.artist, title=c.title) for r, c in zip(records, found, strict=True)],
            parts,
            [year_source(c) for c in found],
        )  # fmt: skip
        if answers:
            records = _answered(records, answers)
        predictions = predict(records, bundle, explain=show.explain, similar=show.neighbours)
    except SongpopError as exc:
        raise fail(exc) from None
    if out is not None:
        from songpop.io import write_json_atomic  # late: loads pyarrow, pandas, numpy (start-up)

        rows = []
        for c, p in zip(found, predictions, strict=True):
            used = {k: c.source for k in bundle.feature_names}
            rows.append({**p.to_dict(), "song": c.to_dict(), "sources": used})
        for row, a in zip(rows, answers or [], strict=False):
            row["new_song"] = a.to_dict()
        write_json_atomic(rows, out)
        err.print(f"{len(rows)} prediction(s) written to {out}", markup=False)
    checked = [bundle]
    if parts is not None and parts.chance.model_id != bundle.model_id:
        checked.append(parts.chance)
    for c in found:
        _out.print(
            f"{c.artist} – {c.title} ({c.when}): features from {c.source} "
            f"(match {c.score:g}, {c.how}); {chart_history_words(c)}",
            highlight=False,
            markup=False,
        )
        for line in _known_lines(checked, c):
            _out.print(f"[bold]Known song:[/] {escape(line)}", highlight=False)
    _print_new_song(answers)
    _print_predictions(predictions, bundle, show, records)


WEEKS_NOTE = "peak: best Hot 100 position; weeks: distinct weekly charts it was on"


def chart_history_words(c: Any) -> str:
    """A found song's Hot 100 history in the one definition songpop uses everywhere it shows
    one (`songpop.prepare.charts.aggregate_chart_songs`): weeks = the distinct weekly charts
    it appeared on, best = its highest position (1 is best)."""
    if c.charted:
        return f"on the Hot 100: best #{c.best_position}, {c.weeks_on_chart} weeks"
    return "never on the Hot 100" if c.charted is False else "chart history unknown"


def _known_lines(bundles: list[Any], found: Any) -> list[str]:
    """For each model, whether the found song is one of its training or test songs."""
    from songpop.inference.known import known_song  # late: loads pyarrow, pandas, numpy (start-up)

    lines = []
    for bundle in bundles:
        known = known_song(bundle, found.title, found.artist)
        if known is not None:
            lines.append(f"{known.line()}; {chart_history_words(found)}.")
    return lines


def _batch_bundle(path: Path, bundle: Any, chunksize: int) -> Any:
    """The run's default for a batch file, or, when the file has no release year the default
    needs, the chart-chance task's audio-only model, said in one line (a catalogue's year is
    never guessed)."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.batch import table_features

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.table import TableReader

    if "year" not in bundle.feature_names:
        return bundle
    try:
        TableReader(path, table_features(bundle), chunksize)
        return bundle
    except LayoutError as exc:
        if "'year'" not in str(exc):
            raise
    parts = _new_song_parts(None)
    fallback = parts.audio_only() if parts is not None else None
    if fallback is None:
        raise InputError(
            f"{path}: no release year column, which {bundle.model_id} needs; add a 'year' "
            "column or pass --model with an audio-only model"
        )
    from songpop.bundle import load_bundle  # late: loads pyarrow, pandas, numpy (start-up)

    other = load_bundle(fallback)
    err.print(
        f"note: {path} has no release year: scored with {other.model_id} (the audio alone) "
        f"instead of {bundle.model_id}; add a 'year' column (and 'artist') for the full model",
        highlight=False,
    )
    return other


def _new_song_parts(model: Path | None) -> Any:
    """The last run's new-song answer when no model was named (None otherwise, or when the
    run has none)."""
    if model is not None:
        return None
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.newsong import load_new_song

    return load_new_song()


def _new_song_answers(
    rows: list[Any], parts: Any, sources: list[str | None] | None = None
) -> list[Any] | None:
    """The new-song answer of each record (None without parts, or for a long list: the answer
    is for a song, not a catalogue)."""
    if (
        parts is None
        or not rows
        or len(rows) > NEW_SONG_MAX
        or not all(isinstance(r, dict) for r in rows)
    ):
        return None
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.newsong import answer_new_songs

    return answer_new_songs(rows, parts, year_sources=sources)


def _answered(rows: list[Any], answers: list[Any]) -> list[dict[str, Any]]:
    """The values the new-song answer scored (year, context and history filled), with each
    record's ids."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.validate import ID_FIELDS

    return [
        dict(a.record, **{k: r[k] for k in ID_FIELDS if isinstance(r, dict) and r.get(k)})
        for r, a in zip(rows, answers, strict=True)
    ]


NEW_SONG_MAX = 20
"""Records beyond which the CLI prints no new-song answer (use --csv for a catalogue)."""


def _print_new_song(answers: list[Any] | None, title: str | None = None) -> None:
    """The answer for a new song, first: the chance to chart, then the level within its era."""
    if not answers:
        return
    from rich.panel import Panel

    for i, a in enumerate(answers):
        lines = a.lines()
        body = f"[bold]{escape(lines[0])}[/]\n" + "\n".join(escape(x) for x in lines[1:])
        name = title or (f"song {i + 1}" if len(answers) > 1 else None)
        head = "The answer for a new song" + (f": {escape(name)}" if name else "")
        _out.print(Panel(body, title=head, expand=False))


def _catalogue_or_none() -> Any:
    """The local catalogue, or None (with a note) when the data folder has no track table."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.find import catalogue_or_none

    catalogue, why = catalogue_or_none()
    if catalogue is None:
        err.print(f"note: the file's tags are not looked up ({why})", highlight=False, markup=False)
    return catalogue


def _print_audio_prediction(result: Any, bundle: Any, show: Show) -> None:

    song = result.song
    p = result.prediction
    if result.known is not None:
        c = result.known
        _out.print(
            f"{song.path}: its tags name {c.artist} – {c.title} ({c.when}), found in "
            f"{c.source} (match {c.score:g}); predicted from those real features, not from the "
            "analysis (--no-lookup to use the analysis)",
            highlight=False,
            markup=False,
        )
        for line in _known_lines([bundle], c):
            _out.print(f"[bold]Known song:[/] {escape(line)}", highlight=False)
        _print_predictions([p], bundle, show, [result.values])
        return
    named = " – ".join(x for x in (song.tags.artist, song.tags.title) if x)
    table = Table(title=escape(f"{song.path}" + (f" ({named})" if named else "") + f": {p.words}"))
    table.add_column("level")
    table.add_column("probability", justify="right")
    table.add_column("range over the estimates", justify="right")
    table.add_column("likeliest in", justify="right")
    from songpop.prepare.label import class_words  # late: loads pyarrow, pandas, numpy (start-up)

    for c in bundle.levels:
        lo_hi = result.range.get(c) if result.range else None
        span = f"{lo_hi[0]:.2f} – {lo_hi[1]:.2f}" if lo_hi else "–"
        share = f"{result.levels[c]:.0%}" if result.levels else "–"
        table.add_row(class_words(c), f"{p.probabilities[c]:.3f}", span, share)
    _out.print(table)
    measured = [k for k, s in result.sources.items() if s in ("measured", "tags")]
    varied = result.uncertain
    _out.print(
        f"model {bundle.model_id}: measured {', '.join(measured) or 'nothing'}; "
        f"estimated or default (varied for the range): {', '.join(varied) or 'nothing'}",
        highlight=False,
    )
    if result.range is not None:
        _out.print(
            f"The range is the 10th-90th percentile of each probability over {result.scenarios} "
            "scenarios: the estimated values replaced by those of the model's reference songs "
            "closest in the measured features; likeliest in: the share of those scenarios in "
            "which the level comes out on top.",
            highlight=False,
        )
    _print_why([p], show, result.sources)
    _print_context([p], bundle, show, [result.values])


def _score_on_cluster(
    spec: str,
    out: Path,
    model: Path | None,
    chunksize: int,
    address: str,
    explain: bool,
    overwrite: bool = False,
) -> None:
    """A folder or glob of files (or --scheduler): one Dask task per file, same scoring code."""
    from songpop.bundle import resolve_model  # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.bundle.store import require_extras  # late: as above

    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.dask_cluster import check_output_folder, score_files, table_files

    if explain:
        raise fail(InputError("--explain is not available on the cluster path yet; score one "
                              "file without --scheduler"))  # fmt: skip
    try:
        bundle_path = resolve_model(model)
        # a missing optional group, a wrong input, or an output that would mix runs, is said
        # before any cluster starts
        require_extras(bundle_path)
        check_output_folder(out, table_files(spec), overwrite)
        summary = on_cluster(
            address, "scoring files",
            lambda client, tick: score_files(client, spec, out, bundle_path,
                                             chunksize=chunksize, progress=tick,
                                             overwrite=overwrite),
        )  # fmt: skip
    except SongpopError as exc:
        raise fail(exc) from None
    for error in summary["failed"].values():
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    where = (
        summary["output"]
        if summary["output"].endswith(".csv")
        else f"{summary['output']}/part-*.parquet"
    )
    _out.print(
        f"{summary['files']} file(s), {summary['rows_in']:,} rows: {summary['scored']:,} "
        f"scored into {where}, {summary['rejected']:,} rejected (rejects/part-*.csv)",
        highlight=False,
    )
    if summary["failed"]:
        raise typer.Exit(code=1)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise InputError(f"--json {path}: file not found")
    from songpop.io import loads_limited  # late: loads pyarrow, pandas, numpy (start-up)

    try:
        with open(path, "rb") as handle:
            data = handle.read(JSON_MAX_BYTES + 1)
        document = loads_limited(data, max_bytes=JSON_MAX_BYTES)
    except ValueError as exc:
        raise InputError(
            f"--json {path}: {exc}; for many songs use --csv FILE --out FILE"
            if "bytes" in str(exc)
            else f"--json {path}: {exc}"
        ) from None
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.saved import is_saved_answer, saved_records

    if is_saved_answer(document):  # a saved Spotify or ReccoBeats answer
        records, _, provider = saved_records(document, f"--json {path}")
        err.print(f"{path}: a saved {provider} answer, {len(records)} song(s)", markup=False)
        return records
    return document


JSON_MAX_BYTES = 64 * 1024 * 1024
"""Largest --json file read (a batch of songs is a --csv file, read in chunks)."""


def _score_batch(
    csv_file: Path,
    out: Path,
    rejects: Path | None,
    bundle: Any,
    chunksize: int,
    explain: bool,
    top: int,
    overwrite: bool = False,
) -> None:
    from songpop.inference import score_file  # late: loads pyarrow, pandas, numpy (start-up)

    summary = score_file(
        csv_file,
        out,
        bundle,
        rejects_path=rejects,
        chunksize=chunksize,
        explain=explain,
        top=top,
        overwrite=overwrite,
    )
    table = Table(title=f"Scored {csv_file} with {bundle.model_id}", show_header=False)
    table.add_row("layout", str(summary["layout"]))
    table.add_row("rows in", f"{summary['rows_in']:,}")
    table.add_row("scored", f"{summary['scored']:,}")
    table.add_row("rejected", f"{summary['rejected']:,}")
    for level, count in summary["levels"].items():
        table.add_row(f"level {level}", f"{count:,}")
    table.add_row("output", str(summary["output"]))
    if summary["explanation_unit"]:
        table.add_row("explained", f"why + contribution_<feature> ({summary['explanation_unit']})")
    if summary["rejects"]:
        table.add_row("rejects", str(summary["rejects"]))
    table.add_row("seconds", f"{summary['seconds']:.2f}")
    _out.print(table)


@dataclass(frozen=True)
class Show:
    """What to print beside each prediction (the options --explain, --top, --similar, --plot)."""

    explain: bool = False
    top: int = 5
    similar: int = 0
    plot: Path | None = None
    verbose: bool = False

    @property
    def neighbours(self) -> int:
        """How many similar songs to ask the core for: --similar N, or one line's worth with
        --explain."""
        return self.similar or (EXPLAIN_SIMILAR if self.explain else 0)


EXPLAIN_SIMILAR = 3
"""The nearest training songs named in one line of --explain output."""


def _print_predictions(
    predictions: list[Any], bundle: Any, show: Show, values: list[dict[str, Any]]
) -> None:
    from songpop.prepare.label import class_words  # late: loads pyarrow, pandas, numpy (start-up)

    table = Table(
        title=f"Predictions of {bundle.model_id} ({bundle.feature_set} features): "
        "the chance of each level"
    )
    has_ids = any(p.ids for p in predictions)
    if has_ids:
        table.add_column("song")
    table.add_column("predicted", style="bold")
    for name in bundle.levels:  # "low", "medium", "high"; "not a hit", "a hit"
        table.add_column(class_words(name).removesuffix(" popularity"), justify="right")
    for p in predictions:
        cells = []
        if has_ids:
            cells.append(escape(" – ".join(str(v) for v in p.ids.values())))
        cells.append(p.words)
        cells += [f"{p.probabilities[c]:.3f}" for c in bundle.levels]
        table.add_row(*cells)
    _out.print(table)
    _print_why(predictions, show)
    _print_context(predictions, bundle, show, values)
    for p in predictions:
        if p.ignored_fields:
            err.print(
                f"note: {bundle.model_id} does not use {', '.join(p.ignored_fields)}", markup=False
            )
            break


def _print_why(predictions: list[Any], show: Show, sources: dict[str, str] | None = None) -> None:
    """The strongest contributions of each explained prediction, as a table."""
    if not show.explain:
        return
    for i, p in enumerate(predictions):
        if p.explanation is None:
            continue
        title = f"Why {p.words}" + (f" (record {i + 1})" if len(predictions) > 1 else "")
        shown = p.explanation.contributions[: show.top]
        if show.verbose:
            title += f": contributions in {p.explanation.unit}"
        else:
            title += f": what pushed toward {p.words} (▲) and away from it (▼)"
        why = Table(title=title)
        why.add_column("feature")
        if sources is not None:
            why.add_column("source")
        why.add_column("effect", justify="left" if not show.verbose else "right")
        why.add_column("in plain words")
        largest = max((abs(c.contribution) for c in shown), default=0.0) or 1.0
        for c in shown:
            arrow = "▲" if c.direction == "up" else "▼"
            where = [sources.get(c.feature, "")] if sources is not None else []
            if show.verbose:
                name, effect = c.feature, f"{arrow} {c.contribution:+.3f}"
            else:
                name, effect = _feature_words(c.feature), f"{arrow} {_bar(c.contribution, largest)}"
            why.add_row(escape(name), *where, effect, escape(c.text))
        _out.print(why)
        if not show.verbose:
            unit = p.explanation.unit
            _out.print(f"(the bars compare the pushes; --verbose gives their numbers, in {unit})",
                       highlight=False, markup=False)  # fmt: skip


def _feature_words(name: str) -> str:
    """A feature's name for people ("duration" for duration_ms, "artist's best position")."""
    spec = vocabulary.FEATURES.get(name)
    return spec.label.lower() if spec is not None and spec.label else name.replace("_", " ")


def _bar(value: float, largest: float, width: int = 8) -> str:
    """A push as a bar of up to `width` blocks, scaled to the largest push shown."""
    return "█" * max(1, round(width * abs(value) / largest))


def _print_context(
    predictions: list[Any], bundle: Any, show: Show, values: list[dict[str, Any]]
) -> None:
    """Beside the numbers: how sure, how unusual, the nearest songs, what the levels mean, how
    good the model is; and the position charts with --plot."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.context import accuracy_line, level_lines

    many = len(predictions) > 1
    catalogue = _catalogue_quietly() if any(p.similar for p in predictions) else None
    for i, p in enumerate(predictions):
        tag = f"record {i + 1}: " if many else ""
        if p.similar and catalogue is not None:
            # late: loads pyarrow, pandas, numpy (start-up)
            from songpop.inference.known import as_charted

            p.similar = as_charted(p.similar, catalogue)
        if p.confidence:
            _out.print(f"{tag}{p.words}, {100 * p.probabilities[p.level]:.0f}%: "
                       f"{p.confidence}", highlight=False, markup=False)  # fmt: skip
        for warning in p.warnings:
            err.print(f"[yellow]warning:[/] {tag}unlike the training songs: {escape(warning)}",
                      highlight=False, soft_wrap=True)  # fmt: skip
        if p.similar and show.similar:
            _out.print(_similar_table(p.similar, f"{tag}The {len(p.similar)} nearest songs "
                                      "the model learned from"))  # fmt: skip
        elif p.similar:
            _out.print(f"{tag}Nearest songs the model learned from: "
                       + "; ".join(s.line() for s in p.similar), highlight=False,
                       markup=False)  # fmt: skip
    accuracy = accuracy_line(bundle)
    if accuracy:
        _out.print(f"{bundle.model_id}: {accuracy}", highlight=False, markup=False)
    _out.print("What the levels mean:", highlight=False)
    for line in level_lines(bundle):
        _out.print(f"  {line}", highlight=False, markup=False)
    if show.plot is not None:
        _write_plots(predictions, bundle, values, show.plot)


def _catalogue_quietly() -> Any:
    """The data folder's catalogue, to show similar songs' chart history as a lookup does;
    None when there is no data folder (the bundle's own table is shown then)."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.inputs.lookup import load_catalogue

    try:
        return load_catalogue()
    except SongpopError:
        return None


def _similar_table(songs: list[Any], title: str) -> Table:
    table = Table(title=title, caption=WEEKS_NOTE)
    for name, justify in (("song", "left"), ("year", "right"), ("peak", "right"),
                          ("weeks", "right"), ("popularity", "right"), ("level", "left"),
                          ("distance", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in songs:
        table.add_row(
            escape(f"{s.artist} – {s.title}"),
            s.when(),
            f"#{s.peak}" if s.peak is not None else "never charted",
            "–" if s.weeks is None else str(s.weeks),
            "–" if s.popularity is None else f"{s.popularity:.0f}",
            s.words,
            f"{s.distance:.2f}",
        )
    return table


def _write_plots(
    predictions: list[Any], bundle: Any, values: list[dict[str, Any]], path: Path
) -> None:
    """One SVG of where each song sits (`inference.context.positions_svg`): `path` for one
    song, `<stem>-<n><suffix>` for several."""
    # late: loads pyarrow, pandas, numpy (start-up)
    from songpop.inference.context import positions_svg
    from songpop.io import atomic_write  # late: loads pyarrow, pandas, numpy (start-up)

    for i, record in enumerate(values[: len(predictions)]):
        target = path if len(predictions) == 1 else path.with_name(
            f"{path.stem}-{i + 1}{path.suffix or '.svg'}"
        )  # fmt: skip
        svg = positions_svg(bundle, record)
        if not svg:
            err.print(f"note: {bundle.model_id} has no per-level statistics; no plot written")
            return
        with atomic_write(target) as handle:
            handle.write(svg)
        err.print(f"where the song sits: {target}", highlight=False, markup=False)


def _option(
    name: str, flag: str, default: Any, annotation: Any, help: str, **extra: Any
) -> inspect.Parameter:
    """A keyword-only parameter `name` of the command, given on the command line as `flag`."""
    option = typer.Option(default, flag, help=help, **extra)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
    )


def _song_options() -> list[inspect.Parameter]:
    """What the song is: audio files or links, a title, and where its values may come from."""
    return [
        inspect.Parameter(
            "files",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Argument(
                None,
                help="Audio file(s) to analyse and predict (mp3, wav, flac, ogg/opus; m4a/aac "
                "with ffmpeg), or Spotify track links / URIs / ids found in the local catalogue.",
                show_default=False,
            ),
            annotation=list[str] | None,
        ),
        _option(
            "title",
            "--title",
            None,
            str | None,
            "A song's title, looked up in the local catalogue (its real features are used).",
            rich_help_panel="Song",
        ),
        _option(
            "artist",
            "--artist",
            None,
            str | None,
            "The song's artist (with --title).",
            rich_help_panel="Song",
        ),
        _option(
            "lookup",
            "--lookup/--no-lookup",
            True,
            bool,
            "For an audio file whose tags name a song of the local catalogue, predict from that "
            "song's real features (--no-lookup: from the analysis).",
            rich_help_panel="Song",
        ),
        _option(
            "online",
            "--online/--offline",
            False,
            bool,
            "Ask ReccoBeats and the Spotify Web API for a song the local catalogue lacks; for "
            "an audio file, send up to three 30 s excerpts to ReccoBeats' upload analysis "
            "(--offline, the default, never touches the network).",
            rich_help_panel="Song",
        ),
    ]


def _model_options() -> list[inspect.Parameter]:
    """Which model answers."""
    return [
        _option(
            "model",
            "--model",
            None,
            Path | None,
            "A model: an id as `songpop models list` prints it (seed/audio/lgbm, of the last "
            "run), RUN/seed/audio/lgbm (another run), `latest`, or a bundle or run folder. "
            "Default: the last run's new-song answer and default model, found from any folder "
            "(./runs/LATEST, else the last `songpop run` registered in the songpop home).",
            rich_help_panel="Model",
        ),
        _option(
            "task",
            "--task",
            None,
            str | None,
            "Use this task's default model of the last run (seed, hit, chart, chart_chance, "
            "seed_era, chart_era) instead of the new-song answer.",
            rich_help_panel="Model",
        ),
    ]


def _io_options() -> list[inspect.Parameter]:
    """Records and batch files in, predictions out."""
    return [
        _option(
            "json_file",
            "--json",
            None,
            Path | None,
            "A JSON file: one record (object) or a list of records.",
            rich_help_panel="Input and output files",
        ),
        _option(
            "csv_file",
            "--csv",
            None,
            Path | None,
            "A batch file to score (CSV, CSV.gz or Parquet; any known track layout or "
            "plain feature columns). Needs --out.",
            rich_help_panel="Input and output files",
        ),
        _option(
            "out",
            "--out",
            None,
            Path | None,
            "Where to write the scored batch (.csv or .parquet), or the predictions "
            "of --json/options as JSON.",
            rich_help_panel="Input and output files",
        ),
        _option(
            "rejects",
            "--rejects",
            None,
            Path | None,
            "Where to write rows that fail validation, with the reason (default: "
            "<out>.rejects.csv, written only when there are rejects).",
            rich_help_panel="Input and output files",
        ),
        _option(
            "chunksize",
            "--chunksize",
            100_000,
            int,
            "Rows read at a time from a --csv batch.",
            rich_help_panel="Input and output files",
        ),
        _option(
            "overwrite",
            "--overwrite",
            False,
            bool,
            "Replace an --out (and --rejects) file that exists already, or clear another run's "
            "parts from an --out folder (Dask). Without it, an existing output is refused.",
            rich_help_panel="Input and output files",
        ),
        _option(
            "scheduler",
            "--scheduler",
            None,
            str | None,
            "Score on Dask: 'local' (an embedded cluster, one worker per core; the default for a "
            "folder or glob), tcp://host:8786, or a scheduler file. Default: $SONGPOP_SCHEDULER; "
            "one file without it is scored in this process.",
            rich_help_panel="Input and output files",
        ),
    ]


def _explain_options() -> list[inspect.Parameter]:
    """What is shown beside the prediction."""
    return [
        _option(
            "explain",
            "--explain",
            False,
            bool,
            "Show which features pushed the prediction up or down (with --csv: adds a `why` "
            "column and one contribution_<feature> column per feature).",
            rich_help_panel="Explanation",
        ),
        _option(
            "top",
            "--top",
            5,
            int,
            "How many features --explain shows (or names in `why`).",
            rich_help_panel="Explanation",
        ),
        _option(
            "verbose",
            "--verbose",
            False,
            bool,
            "With --explain: the features' own names and each contribution's number with its "
            "unit (log-odds or probability), as --out JSON gives them.",
            rich_help_panel="Explanation",
        ),
        _option(
            "similar",
            "--similar",
            0,
            int,
            "Show the N songs the model learned from that are nearest to this one (in the "
            "model's standardised features), with their chart history.",
            rich_help_panel="Explanation",
        ),
        _option(
            "plot",
            "--plot",
            None,
            Path | None,
            "Write an SVG of where the song sits: per feature, each level's training songs "
            "with this song marked.",
            rich_help_panel="Explanation",
        ),
    ]


def _feature_options() -> list[inspect.Parameter]:
    """One option per feature of the vocabulary (built here, not written out)."""
    return [
        _option(
            name,
            f"--{name.replace('_', '-')}",
            None,
            _option_type(name) | None,
            _feature_help(name),
            rich_help_panel="Song features",
        )
        for name in vocabulary.KNOWN_FEATURES
    ]


def _signature() -> inspect.Signature:
    """predict_command's parameters, by group (each its own panel in --help)."""
    return inspect.Signature(
        _song_options() + _model_options() + _io_options() + _explain_options() + _feature_options()
    )


def _command(**kwargs: Any) -> None:
    features = {name: kwargs.pop(name) for name in vocabulary.KNOWN_FEATURES}
    predict_command(**kwargs, **features)


_command.__doc__ = predict_command.__doc__
_command.__signature__ = _signature()  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    """Add `songpop predict` to the root app."""
    app.command("predict")(_command)

"""Build track data through the providers: `songpop data fetch-features`.

A list of Spotify ids (`--ids`), or every chart song (title + artist) of a chart file that
the local catalogue lacks (`--charts`, found through Spotify's search), is resolved to audio
features in batches. Every batch's answers are appended to `<out>.partial.jsonl` and flushed
before the next one starts, so an interrupted run loses nothing and a new run skips what was
done (the provider cache also keeps any id from being fetched twice). At the end the table is
written atomically in the Spotify API layout that `data build --tracks` reads (CSV, CSV.gz or
Parquet), with the provider of each row, and the partial file is removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from songpop import vocabulary
from songpop.errors import InputError
from songpop.io import write_csv_atomic, write_parquet_atomic

BATCH = 40
OUT_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(("id", "title", "artist", "year", "popularity", "isrc", "provider",
                   "query_title", "query_artist", *vocabulary.FEATURES))
)  # fmt: skip
"""The columns of the table written: ids and names, the provider, every feature once."""
OUT_SUFFIXES = (".csv", ".csv.gz", ".parquet")


@dataclass
class FetchSummary:
    """What a fetch did."""

    asked: int = 0
    found: int = 0
    not_found: list[str] = field(default_factory=list)
    resumed: int = 0
    bad_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    output: str = ""
    by_provider: dict[str, int] = field(default_factory=dict)


def read_ids(path: Path) -> tuple[list[str], list[str]]:
    """Spotify ids from a text file (one link, URI or id a line; blank and # lines skipped).

    Returns:
        (ids in order without repeats, problems: "line N: <why>").
    """
    from songpop.inference.inputs.lookup import parse_spotify  # late: loads filelock (start-up)

    if not path.is_file():
        raise InputError(f"--ids {path}: file not found")
    ids: dict[str, None] = {}
    problems = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            ids[parse_spotify(text)] = None
        except InputError as exc:
            problems.append(f"{path} line {n}: {exc}")
    return list(ids), problems


def chart_queries(chart_file: Path, catalogue: Any) -> list[tuple[str, str]]:
    """(title, artist) of every chart song whose normalised key the catalogue lacks."""
    from songpop.prepare.charts import aggregate_chart_songs  # late: loads unidecode (start-up)
    from songpop.sources.charts import read_charts  # late: loads pandera (start-up)

    songs = aggregate_chart_songs(read_charts(chart_file))
    known = set(zip(catalogue.index["norm_title"], catalogue.index["norm_artist"], strict=True))
    keys = zip(songs["norm_title"], songs["norm_artist"], strict=True)
    missing = [k not in known for k in keys]
    rows = songs.loc[missing, ["chart_title", "chart_artist"]]
    return list(dict.fromkeys(zip(rows["chart_title"], rows["chart_artist"], strict=True)))


def _partial(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


def _done(partial: Path) -> dict[str, dict[str, Any]]:
    """What an interrupted run already answered, by key (a torn last line is ignored)."""
    done: dict[str, dict[str, Any]] = {}
    if partial.is_file():
        for line in partial.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the line being written when the run was killed
            done[entry["key"]] = entry
    return done


def fetch_features(
    providers: Any,
    out: Path,
    *,
    ids: list[str] | None = None,
    queries: list[tuple[str, str]] | None = None,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> FetchSummary:
    """Resolve ids, or chart songs by title and artist, to features; write the track table.

    Args:
        providers: `providers.resolve.Providers`.
        out: the table to write (.csv, .csv.gz or .parquet).
        ids: Spotify ids.
        queries: (title, artist) pairs to search (needs Spotify's search).
        batch: keys per batch.
        progress: called with (done, total) after each batch.

    Returns:
        The counts, what no provider had, and where the table went.
    """

    if not str(out).endswith(OUT_SUFFIXES):
        raise InputError(f"--out {out}: expected a {', '.join(OUT_SUFFIXES)} file name")
    keys = [("id", i) for i in ids or []] + [("query", f"{t}\t{a}") for t, a in queries or []]
    partial = _partial(out)
    done = _done(partial)
    summary = FetchSummary(asked=len(keys), resumed=sum(1 for _, k in keys if k in done))
    todo = [(kind, k) for kind, k in keys if k not in done]
    finished = len(keys) - len(todo)
    with partial.open("a", encoding="utf-8") as log:
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            for entry in _resolve(providers, part):
                log.write(json.dumps(entry) + "\n")
                done[entry["key"]] = entry
            log.flush()
            os.fsync(log.fileno())
            finished += len(part)
            if progress is not None:
                progress(finished, len(keys))
    summary.notes = list(dict.fromkeys(providers.notes))
    rows = [done[k]["record"] for _, k in keys if done.get(k, {}).get("record")]
    summary.not_found = [k.replace("\t", " – ") for _, k in keys
                         if not done.get(k, {}).get("record")]  # fmt: skip
    summary.found = len(rows)
    table = pd.DataFrame(rows).reindex(columns=list(OUT_COLUMNS))
    for p in table["provider"].dropna():
        summary.by_provider[p] = summary.by_provider.get(p, 0) + 1
    if str(out).endswith(".parquet"):
        write_parquet_atomic(table, out)
    else:
        write_csv_atomic(table, out)
    partial.unlink(missing_ok=True)
    summary.output = str(out)
    return summary


def _resolve(providers: Any, part: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One batch: search the queries, then fetch the features of every id at once."""
    wanted: dict[str, str] = {}  # key -> id
    described: dict[str, dict[str, Any]] = {}
    for kind, key in part:
        if kind == "id":
            wanted[key] = key
            continue
        title, artist = key.split("\t", 1)
        hits = providers.search(title, artist, limit=1)
        if hits:
            wanted[key] = hits[0]["id"]
            described[hits[0]["id"]] = {**hits[0], "query_title": title, "query_artist": artist}
    found = providers.features(list(dict.fromkeys(wanted.values()))) if wanted else {}
    entries = []
    for _, key in part:
        sid = wanted.get(key)
        hit = found.get(sid) if sid else None
        record = None
        if hit is not None:
            record = {**described.get(sid, {}), **hit.record, "provider": hit.provider}
        entries.append({"key": key, "record": record})
    return entries

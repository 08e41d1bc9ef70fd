"""The declared registry of public upstream data files, and how to find or fetch them.

Each logical dataset has a file name inside the data folder (`charts/...`, `tracks/...`,
`seed/...`, as in ../shared/data), the sha256 of its *uncompressed* content (SOURCES.md), the
public upstream URL at a pinned commit, and, when the local file is derived from the upstream
download (a flat CSV from `all.json`, a column selection of `result.csv`), a derive function.

`locate(name)` returns the local file, fetching it with pooch when it is missing; offline, it
raises a `DataNotFoundError` that names the file, the folder to put it in and the URL. Hashing
is done by `verify` (which `songpop data fetch` calls), and its result is cached per file
(size + mtime) so it is paid once.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from songpop import config
from songpop.errors import DataNotFoundError, SchemaError
from songpop.io import atomic_path
from songpop.sources.layouts import HOT100_FLAT_COLUMNS, csv_header, open_binary

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
Derive = Callable[[Path, Path], None]
"""(downloaded upstream file, output file) -> None; writes the output file."""

_RAW = "https://raw.githubusercontent.com"
_HOT100_COMMIT = "fc20856963fbefefa1da7a6bdeb3f7919b71f21a"
_SEED_REPO = "alexq1an/Song-Popularity-Analysis"
_HIT_COMMIT = "0e453f2d5f2adbc9c27ff901831842cd5639db54"
ALL_JSON_URL = f"{_RAW}/mhollingshead/billboard-hot-100/{_HOT100_COMMIT}/all.json"
SAMPLE_DATES = ("1958-08-04", "1990-01-06", "2026-08-01", "2026-08-08")
SEED_MATCHED_COLUMNS = (
    "acousticness",
    "artists",
    "danceability",
    "duration_ms",
    "energy",
    "instrumentalness",
    "key",
    "liveness",
    "loudness",
    "name",
    "popularity",
    "speechiness",
    "tempo",
    "valence",
    "year",
)
FLAT_COLUMNS = HOT100_FLAT_COLUMNS
HOT_STUFF_COLUMNS = (
    "url",
    "WeekID",
    "Week Position",
    "Song",
    "Performer",
    "SongID",
    "Instance",
    "Previous Week Position",
    "Peak Position",
    "Weeks on Chart",
)


@dataclass(frozen=True)
class Dataset:
    """One logical dataset of the registry.

    Attributes:
        name: registry key, used on the command line (`songpop data fetch NAME`).
        filename: path inside the data folder.
        sha256: sha256 of the uncompressed content (SOURCES.md), or None when unknown.
        url: the public upstream download (pinned commit), or None when there is none.
        upstream_sha256: sha256 of the downloaded file itself, when known.
        derive: builds `filename` from the download; None means the download is the file.
        rows: expected data rows (header excluded; chart entries for JSON).
        layout: the reader layout (`songpop.sources.layouts.LAYOUTS`), None for seed tables.
        description: one line for `songpop data fetch`.
        default: fetched by `songpop data fetch` when no name is given.
        note: anything a user must know (e.g. a held-out split has no public download).
    """

    name: str
    filename: str
    sha256: str | None
    url: str | None
    description: str
    upstream_sha256: str | None = None
    derive: Derive | None = None
    rows: int | None = None
    layout: str | None = None
    default: bool = True
    note: str = ""

    def path(self, data_dir: PathLike) -> Path:
        """Where this dataset lives inside `data_dir`."""
        return Path(data_dir) / self.filename


# --- derive functions (pure transforms of an upstream download, written atomically) -------------
def _write_text_gz(text: str, out: Path) -> None:
    """Write `text` as UTF-8, gzip-compressed when `out` ends in .gz, atomically."""
    data = text.encode("utf-8")
    with atomic_path(out) as tmp:
        if out.suffix == ".gz":
            with gzip.GzipFile(tmp, "wb", mtime=0) as handle:
                handle.write(data)
        else:
            tmp.write_bytes(data)


def _csv_text(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def flat_rows_from_all_json(charts: list[dict[str, Any]]) -> list[list[str]]:
    """mhollingshead all.json charts -> flat rows (chart_date, this_week, ..., as text).

    Charts are taken in date order and entries in position order; missing values are "".
    """
    rows: list[list[str]] = []
    for chart in sorted(charts, key=lambda c: c["date"]):
        for entry in sorted(chart["data"], key=lambda e: e["this_week"]):
            rows.append([chart["date"]] + [_cell(entry.get(column)) for column in FLAT_COLUMNS[1:]])
    return rows


def hot_stuff_rows_from_flat(rows: list[list[str]]) -> list[list[str]]:
    """Flat chart rows -> rows of the data.world "Hot Stuff.csv" layout (SOURCES.md rules).

    url = billboard.com chart URL of the date; WeekID = M/D/YYYY; SongID = Song + Performer;
    Instance = 1 + the number of earlier re-entries of that SongID (a re-entry is an
    appearance after missing at least one chart; rows of one SongID on the same chart share it).
    """
    dates = sorted({row[0] for row in rows})
    chart_index = {date: index for index, date in enumerate(dates)}
    last_seen: dict[str, int] = {}
    instance: dict[str, int] = {}
    out: list[list[str]] = []
    for date, position, song, artist, last_week, peak, weeks in rows:
        song_id = song + artist
        index = chart_index[date]
        previous = last_seen.get(song_id)
        if previous is None:
            instance[song_id] = 1
        elif previous < index - 1:  # two versions on one chart share their instance
            instance[song_id] += 1
        last_seen[song_id] = index
        year, month, day = date.split("-")
        week_id = f"{int(month)}/{int(day)}/{int(year)}"
        url = f"http://www.billboard.com/charts/hot-100/{date}"
        out.append(
            [url, week_id, position, song, artist, song_id, str(instance[song_id]), last_week]
            + [peak, weeks]
        )
    return out


def _load_all_json(path: Path) -> list[dict[str, Any]]:
    with open_binary(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def derive_hot100_flat(upstream: Path, out: Path) -> None:
    """all.json -> charts/hot100_weekly_*.csv.gz (the flat CSV)."""
    rows = flat_rows_from_all_json(_load_all_json(upstream))
    _write_text_gz(_csv_text(rows, FLAT_COLUMNS), out)


def derive_hot_stuff(upstream: Path, out: Path) -> None:
    """all.json -> charts/hot_stuff_*_reconstructed.csv.gz (the Hot Stuff layout)."""
    rows = hot_stuff_rows_from_flat(flat_rows_from_all_json(_load_all_json(upstream)))
    _write_text_gz(_csv_text(rows, HOT_STUFF_COLUMNS), out)


def derive_all_sample(upstream: Path, out: Path) -> None:
    """all.json -> charts/all_sample.json: the four charts of `SAMPLE_DATES`, compact JSON."""
    charts = [c for c in _load_all_json(upstream) if c["date"] in SAMPLE_DATES]
    charts.sort(key=lambda c: c["date"])
    _write_text_gz(json.dumps(charts, ensure_ascii=False), out)


def derive_seed_matched(upstream: Path, out: Path) -> None:
    """result.csv (commit f355b5c) -> tracks/spotify_1921-2020_seed_matched.csv.gz.

    A pure column selection: the 15 columns of `SEED_MATCHED_COLUMNS`, values copied as text.
    """
    with open_binary(upstream) as handle:
        reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
        header = next(reader)
        missing = [c for c in SEED_MATCHED_COLUMNS if c not in header]
        if missing:
            raise SchemaError(f"{upstream}: result.csv lacks column(s) {missing}")
        picks = [header.index(c) for c in SEED_MATCHED_COLUMNS]
        rows = [[row[i] for i in picks] for row in reader]
    _write_text_gz(_csv_text(rows, SEED_MATCHED_COLUMNS), out)


def derive_gzip(upstream: Path, out: Path) -> None:
    """Store the download gzip-compressed under the registry's file name."""
    with open_binary(upstream) as handle:
        data = handle.read()
    _write_text_gz(data.decode("utf-8"), out)


def _seed(commit: str, path: str) -> str:
    return f"{_RAW}/{_SEED_REPO}/{commit}/{path}"


def _hit(decade: str) -> Dataset:
    return Dataset(
        name=f"hit_predictor_{decade}",
        filename=f"tracks/hit_predictor/dataset-of-{decade}.csv",
        sha256=None,
        url=f"{_RAW}/AlexAlvarez02/Capstone_Billboard-s_Top_100_Predictor/{_HIT_COMMIT}/"
        f"dataset-of-{decade}.csv",
        description=f"Spotify Hit Predictor, full {decade} file (upstream)",
        layout="hit_predictor",
        default=False,
        note="holds the artists held back from hit_predictor_dev: never train on it next to "
        "the dev file",
    )


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="hot100_weekly",
            filename="charts/hot100_weekly_1958-2026.csv.gz",
            sha256="fcf197f0f3d65c3dab0dcdf531af73a5b715b83ecf259edd897840540c8c5dba",
            url=ALL_JSON_URL,
            derive=derive_hot100_flat,
            rows=354_887,
            layout="hot100_flat",
            description="Billboard Hot 100, every weekly chart 1958-2026 (flat CSV)",
        ),
        Dataset(
            name="hot_stuff_reconstructed",
            filename="charts/hot_stuff_1958-2026_reconstructed.csv.gz",
            sha256="5a0f9869c748f77150f24ae152d93e9527839a3f104ed2e364a3cf82ce864992",
            url=ALL_JSON_URL,
            derive=derive_hot_stuff,
            rows=354_887,
            layout="hot_stuff",
            description='The same charts in the data.world "Hot Stuff.csv" layout',
        ),
        Dataset(
            name="hot100_sample_json",
            filename="charts/all_sample.json",
            # Not listed in SOURCES.md; the hash of the shared copy, checked by a data test.
            sha256="6e50f2de07932c71ec44c0cfa9591cbabb2ffaf2e5ac498459e6149e5db0a5db",
            url=ALL_JSON_URL,
            derive=derive_all_sample,
            rows=400,
            layout="hot100_json",
            description="Four weekly charts in the all.json layout",
        ),
        Dataset(
            name="hit_predictor_dev",
            filename="tracks/hit_predictor_dev.csv.gz",
            sha256="73e9a638de9e2b83128a8d37a8860bf0441560aad6399ee96749e8253b9fc29a",
            url=None,
            rows=32_900,
            layout="hit_predictor",
            description="Spotify Hit Predictor 1960s-2010s, development split (80% of artists)",
            note="a split made for this project, with 20% of artists held back for independent "
            "evaluation, so it must not be rebuilt from the upstream decade files",
        ),
        Dataset(
            name="tidytuesday_spotify_2020",
            filename="tracks/tidytuesday_spotify_songs_2020.csv.gz",
            sha256="9902920cfe4940f0914ebb6716801a42f7f19ac88fbd6693eaae7e2822b16845",
            url=f"{_RAW}/rfordatascience/tidytuesday/2c423bacc57e4632ff8550557e0bc823eefa31ab/"
            "data/2020/2020-01-21/spotify_songs.csv",
            upstream_sha256="9902920cfe4940f0914ebb6716801a42f7f19ac88fbd6693eaae7e2822b16845",
            derive=derive_gzip,
            rows=32_833,
            layout="tidytuesday_2020",
            description="TidyTuesday 2020-01-21 spotify_songs.csv",
        ),
        Dataset(
            name="spotify_1921_2020_seed_matched",
            filename="tracks/spotify_1921-2020_seed_matched.csv.gz",
            sha256="f1f5a9f198ea13ba952a729f8483a34f5925e983f00d6261b227734c93692be3",
            url=_seed("f355b5caa501dacc7df6db587cad9d29bcf96077", "result.csv"),
            upstream_sha256="07ea6e448bf17e3e45b2bf4a56a3af248a85d990c255747e44a1930a3a450ffb",
            derive=derive_seed_matched,
            rows=13_659,
            layout="kaggle_1921_2020_seed",
            description="Spotify 1921-2020 rows the original report's merge kept (15 columns)",
        ),
        Dataset(
            name="seed_billboard_aggregated",
            filename="seed/billboard_aggregated_d76b880.csv",
            sha256="af70364a9d2f8b34904faa65ba431ab303bdca6784d6bdd6e1d7e5905fa8fac2",
            url=_seed("d76b880d24287a75dbd8af12c6bcea2f56565bc2", "billboard.csv"),
            upstream_sha256="af70364a9d2f8b34904faa65ba431ab303bdca6784d6bdd6e1d7e5905fa8fac2",
            rows=26_676,
            description="The original report's Billboard aggregate (seed cross-check)",
        ),
        Dataset(
            name="seed_result_f355b5c",
            filename="seed/result_f355b5c.csv",
            sha256="07ea6e448bf17e3e45b2bf4a56a3af248a85d990c255747e44a1930a3a450ffb",
            url=_seed("f355b5caa501dacc7df6db587cad9d29bcf96077", "result.csv"),
            upstream_sha256="07ea6e448bf17e3e45b2bf4a56a3af248a85d990c255747e44a1930a3a450ffb",
            rows=13_659,
            description="The original merged table (seed cross-check)",
        ),
        Dataset(
            name="seed_result_c0a3e85",
            filename="seed/result_c0a3e85.csv",
            sha256="6e0175671c5546466d39d1bcbf9dfb8596fc35f772a8f4c5e4e69fe5470d8a2a",
            url=_seed("c0a3e851ac8ffda476ef9936079fbebc602efedd", "result.csv"),
            upstream_sha256="6e0175671c5546466d39d1bcbf9dfb8596fc35f772a8f4c5e4e69fe5470d8a2a",
            rows=13_659,
            description="A later merged table, positions as reversed percentages",
        ),
        Dataset(
            name="seed_result_75a8015",
            filename="seed/result_75a8015.csv",
            sha256="4e40e759d32a1be72cc37f263a0e2d66a1160eff3a661dc2cacda2683006a4b4",
            url=_seed("75a8015d36dc6a4059cffecd5c6e4ffff29526e4", "result.csv"),
            upstream_sha256="4e40e759d32a1be72cc37f263a0e2d66a1160eff3a661dc2cacda2683006a4b4",
            rows=10_511,
            description="The merged table after de-duplication, one row per song",
        ),
        Dataset(
            name="seed_features_to_predict",
            filename="seed/extracted_features_to_predict.csv",
            sha256="cc3e6e8f805e13dec333dc4735aff1c685bb18c44e1bd93737ad852c1e7da19f",
            url=_seed(
                "745f78a6666bb54139841be72c64af94ea10f09c",
                "DataProcessing%26Analysis/extracted_features_to_predict.csv",
            ),
            upstream_sha256="cc3e6e8f805e13dec333dc4735aff1c685bb18c44e1bd93737ad852c1e7da19f",
            rows=1,
            layout="spotify_api",
            description="One row of Spotify Web API audio features (the report's test song)",
        ),
        *(_hit(decade) for decade in ("60s", "70s", "80s", "90s", "00s", "10s")),
    )
}


def get(name: str) -> Dataset:
    """The registry entry `name`.

    Raises:
        DataNotFoundError: unknown name (lists the known ones).
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise DataNotFoundError(
            f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}"
        ) from None


# --- hashing and its cache -----------------------------------------------------------------------
def content_sha256(path: PathLike) -> str:
    """sha256 of a file's uncompressed content (gzip is decompressed first).

    Raises:
        SchemaError: the gzip data is truncated or corrupt.
    """
    digest = hashlib.sha256()
    try:
        with open_binary(path) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (EOFError, OSError) as exc:
        raise SchemaError(f"{path}: cannot read its content to hash it ({exc})") from exc
    return digest.hexdigest()


def count_rows(path: PathLike) -> int:
    """Data rows of a CSV file (header excluded) or entries of a chart JSON file."""
    path = Path(path)
    with open_binary(path) as handle:
        first = handle.read(1)
    if first in (b"[", b"{"):
        with open_binary(path) as handle:
            document = json.loads(handle.read().decode("utf-8"))
        if isinstance(document, list):
            return sum(len(c.get("data", [])) if isinstance(c, dict) else 1 for c in document)
        return len(document.get("audio_features", [document]))
    first = csv_header(path)[0]
    with open_binary(path) as handle:
        # Only the first column, as text (nothing to infer); quoted line breaks are one record.
        table = pacsv.read_csv(
            handle,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=[first], column_types={first: pa.string()}
            ),
        )
    return table.num_rows


def _cache_file() -> Path:
    """Where verification results are kept: the per-user cache, never the data folder (which
    may be shared and read-only)."""
    import pooch

    return Path(pooch.os_cache("songpop")) / "verified.json"


def _read_cache() -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(_cache_file().read_text(encoding="utf-8"))
    return {}


def _write_cache(key: str, record: dict[str, Any]) -> None:
    from filelock import FileLock, Timeout

    file = _cache_file()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        # read, merge and write under a lock: two processes verifying at once keep both results
        with FileLock(str(file.with_name(file.name + ".lock")), timeout=30):
            current = _read_cache()
            current[key] = record
            with atomic_path(file) as tmp:
                tmp.write_text(json.dumps(current, indent=1, sort_keys=True), encoding="utf-8")
    except (OSError, Timeout) as exc:  # no writable cache: verification is redone next time
        log.debug("cannot write verification cache %s: %s", file, exc)


@dataclass(frozen=True)
class Verified:
    """The outcome of checking one local file against the registry."""

    path: Path
    sha256: str
    rows: int
    ok: bool
    cached: bool


def verify(
    dataset: Dataset | str, data_dir: PathLike | None = None, *, use_cache: bool = True
) -> Verified:
    """Hash a local file (uncompressed content) and count its rows; compare with the registry.

    The result is cached by (path, size, mtime), so a second call on an unchanged file is free.

    Args:
        dataset: registry entry or name.
        data_dir: the data folder (default: `config.data_dir()`).
        use_cache: reuse a cached result for an unchanged file.

    Returns:
        The hash, row count, whether both match the registry, and whether it came from cache.

    Raises:
        DataNotFoundError: the file is missing.
        SchemaError: the file cannot be read.
    """
    ds = get(dataset) if isinstance(dataset, str) else dataset
    folder = config.data_dir(data_dir)
    path = ds.path(folder)
    if not path.is_file():
        raise DataNotFoundError(_missing_message(ds, folder, None))
    stat = path.stat()
    key = str(path.resolve())
    cached = _read_cache().get(key) if use_cache else None
    if cached and cached.get("size") == stat.st_size and cached.get("mtime_ns") == stat.st_mtime_ns:
        sha, rows, from_cache = cached["sha256"], int(cached["rows"]), True
    else:
        sha, rows, from_cache = content_sha256(path), count_rows(path), False
        record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha, "rows": rows}
        _write_cache(key, record)
    ok = (ds.sha256 is None or sha == ds.sha256) and (ds.rows is None or rows == ds.rows)
    return Verified(path, sha, rows, ok, from_cache)


# --- locating and fetching -----------------------------------------------------------------------
def _missing_message(ds: Dataset, data_dir: Path, cause: BaseException | None) -> str:
    target = ds.path(data_dir)
    text = f"data file {ds.filename} ({ds.description}) is missing: expected at {target}. "
    if ds.url:
        why = f" ({type(cause).__name__}: {cause})" if cause else ""
        if ds.derive:
            text += (
                f"It is built from {ds.url}, which could not be downloaded{why}. Run "
                f"`songpop data fetch {ds.name}` when online, or put a copy of the file in "
                f"{target.parent}/"
            )
        else:
            text += (
                f"It could not be downloaded from {ds.url}{why}. Download it by hand into "
                f"{target.parent}/"
            )
    else:
        text += f"It has no public download ({ds.note}); put the file in {target.parent}/"
    return text + f" (or point --data-dir / ${config.DATA_DIR_ENV} at a folder that holds it)."


def _download(url: str, known_hash: str | None, folder: Path, fname: str) -> Path:
    """Download `url` into `folder/fname` with pooch (checks `known_hash` when given).

    Tests replace this function: they never touch the network.
    """
    import pooch

    return Path(
        pooch.retrieve(
            url,
            known_hash=f"sha256:{known_hash}" if known_hash else None,
            fname=fname,
            path=folder,
            progressbar=False,
        )
    )


def fetch(dataset: Dataset | str, data_dir: PathLike | None = None) -> Path:
    """Download a dataset (and derive the local file from it); verify its sha256.

    Nothing is left half-written: the download goes to `data_dir/.upstream/`, the derived file
    is written atomically, and a file whose hash disagrees with the registry is removed.

    Raises:
        DataNotFoundError: no public URL, offline, or the download failed (names the file,
            the folder to put it in and the URL).
        SchemaError: the fetched file's hash differs from the registry.
    """
    ds = get(dataset) if isinstance(dataset, str) else dataset
    folder = config.data_dir(data_dir)
    target = ds.path(folder)
    if ds.url is None:
        raise DataNotFoundError(_missing_message(ds, folder, None))
    upstream_dir = folder / ".upstream" if ds.derive else target.parent
    # One name per URL, so that datasets derived from the same download (all.json) share it.
    url_tag = hashlib.sha256(ds.url.encode()).hexdigest()[:12]
    upstream_name = f"{url_tag}-{ds.url.rsplit('/', 1)[-1]}" if ds.derive else target.name
    new_dirs = [d for d in (upstream_dir, *upstream_dir.parents) if not d.exists()]
    try:
        upstream_dir.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s from %s", ds.name, ds.url)
        downloaded = _download(ds.url, ds.upstream_sha256, upstream_dir, upstream_name)
    except Exception as exc:  # noqa: BLE001 - any failure means "not available": say how to fix
        for made in new_dirs:  # leave no empty folders behind (deepest first)
            with contextlib.suppress(OSError):
                made.rmdir()
        raise DataNotFoundError(_missing_message(ds, folder, exc)) from exc
    if ds.derive:
        ds.derive(downloaded, target)
    if ds.sha256:
        got = content_sha256(target)
        if got != ds.sha256:
            target.unlink(missing_ok=True)
            raise SchemaError(
                f"{target}: built from {ds.url} but its content sha256 is {got}, not the "
                f"registry's {ds.sha256}; the upstream file changed. Get the expected file "
                f"and put it in {target.parent}/"
            )
    return target


FETCH_WAIT_S = 900.0
"""How long a process waits for another's download of the same file before fetching itself."""


def locate(
    name: str,
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    check: bool = False,
) -> Path:
    """The local path of a registry dataset, fetched when missing.

    Args:
        name: registry key (see `DATASETS`).
        data_dir: the data folder; default `--data-dir`/`$SONGPOP_DATA_DIR`/user cache.
        download: fetch a missing file (pooch); False raises instead.
        check: verify the sha256 of an existing file (cached per file; `fetch` always checks).

    Returns:
        The file's path.

    Raises:
        DataNotFoundError: missing and cannot be fetched (names file, folder and URL).
        SchemaError: `check` is on and the file's content differs from the registry.
    """
    ds = get(name)
    folder = config.data_dir(data_dir)
    path = ds.path(folder)
    if path.is_file():
        if check:
            result = verify(ds, folder)
            if not result.ok:
                raise SchemaError(_mismatch_message(ds, result))
        return path
    if not download:
        raise DataNotFoundError(_missing_message(ds, folder, None))
    # Two processes may want the same missing file at once (two builds, a build beside
    # `songpop data fetch`, tests side by side): one downloads it while the other (or one that
    # wants another file derived from the same download: the Hot 100 tables all come from one
    # all.json) waits, then finds it, or fetches it itself if the first one failed.
    from filelock import FileLock, Timeout

    what = ds.url if ds.url and ds.derive else str(path)
    tag = hashlib.sha256(f"{folder.resolve()}|{what}".encode()).hexdigest()[:16]
    try:
        lock = FileLock(str(config.cache_dir() / f"fetch-{tag}.lock"), timeout=FETCH_WAIT_S)
        lock.acquire()
    except (OSError, Timeout):  # no lock to be had: fetch as one process would
        return fetch(ds, folder)
    try:
        if path.is_file():
            return path
        return fetch(ds, folder)
    finally:
        lock.release()


def _mismatch_message(ds: Dataset, result: Verified) -> str:
    parts = []
    if ds.sha256 and result.sha256 != ds.sha256:
        parts.append(f"content sha256 {result.sha256}, expected {ds.sha256}")
    if ds.rows is not None and result.rows != ds.rows:
        parts.append(f"{result.rows} rows, expected {ds.rows}")
    return (
        f"{result.path}: not the registry's {ds.name} ({'; '.join(parts)}). Replace it with the "
        f"published file (see {ds.url or 'SOURCES.md'})."
    )


@dataclass(frozen=True)
class FetchReport:
    """One line of `songpop data fetch`: what happened to one dataset."""

    name: str
    path: Path
    status: str  # "ok", "fetched", "missing", "mismatch", "unreadable"
    rows: int | None
    message: str = ""


def fetch_all(
    names: Iterable[str] | None = None, data_dir: PathLike | None = None
) -> list[FetchReport]:
    """Find, fetch when missing, and verify datasets (default: every `default` one).

    Never raises for one dataset's failure: each outcome is reported.
    """
    folder = config.data_dir(data_dir)
    chosen = [get(n) for n in names] if names else [d for d in DATASETS.values() if d.default]
    reports: list[FetchReport] = []
    for ds in chosen:
        path = ds.path(folder)
        status = "ok"
        try:
            if not path.is_file():
                fetch(ds, folder)
                status = "fetched"
            result = verify(ds, folder)
        except DataNotFoundError as exc:
            reports.append(FetchReport(ds.name, path, "missing", None, str(exc)))
            continue
        except SchemaError as exc:
            reports.append(FetchReport(ds.name, path, "unreadable", None, str(exc)))
            continue
        if not result.ok:
            reports.append(
                FetchReport(ds.name, path, "mismatch", result.rows, _mismatch_message(ds, result))
            )
            continue
        reports.append(FetchReport(ds.name, path, status, result.rows))
    return reports


__all__ = [
    "DATASETS",
    "Dataset",
    "FetchReport",
    "Verified",
    "content_sha256",
    "count_rows",
    "fetch",
    "fetch_all",
    "get",
    "locate",
    "verify",
]

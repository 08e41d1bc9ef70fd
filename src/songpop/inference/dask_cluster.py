"""The Dask path: whole catalogues and folders of audio on a cluster.

songpop has no scheduler of its own. `connect` gives a `distributed.Client`: an embedded
`LocalCluster` sized to the machine ("local"), a running scheduler ("tcp://host:8786"), or a
scheduler file. Each task runs exactly the single-machine code:

- `score_files`: one task per input file, running `batch.score_file` on it into
  `<out>/part-NNNNN.parquet` (and `<out>/rejects/part-NNNNN.csv`); a task writes its outputs
  atomically under fixed names, so a task Dask re-runs after a worker died replaces, never
  duplicates. The bundle travels as its folder path and is loaded once per worker process
  (`_bundle`), never pickled per task. Scored + rejected = rows in, checked at the end.
- `analyze_folder`: one task per audio file, running `songpop.audio.analyze`; a file that
  fails is recorded with its error, files already in the output are skipped (resumable).

Importing this module loads neither dask nor any model library (workers import on demand).
"""

from __future__ import annotations

import glob
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from songpop.audio import is_audio_path
from songpop.audio.calibrate import load_calibration
from songpop.audio.online import OnlineAnalysis
from songpop.bundle import load_bundle
from songpop.errors import InputError, SongpopError
from songpop.inference.batch import score_file
from songpop.inference.inputs.audio import analysis_table, analyze_files
from songpop.io import atomic_path, write_csv_atomic, write_json_atomic, write_parquet_atomic

SCHEDULER_ENV = "SONGPOP_SCHEDULER"
CONNECT_TIMEOUT_S = 5
TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")


class ClusterError(SongpopError):
    """The Dask scheduler cannot be reached, or the cluster could not finish the work."""


def scheduler_address(option: str | None) -> str | None:
    """`--scheduler`, else `$SONGPOP_SCHEDULER`, else None (the single-process path)."""
    return option or os.environ.get(SCHEDULER_ENV) or None


def connect(address: str) -> Any:
    """A Dask client: "local" (an embedded LocalCluster, one single-threaded worker process per
    core), "tcp://host:port", or the path of a scheduler file.

    Raises:
        ClusterError: nothing answers there within `CONNECT_TIMEOUT_S` seconds.
    """
    import logging

    from distributed import Client

    # Dask's own INFO lines (nannies starting, the scheduler closing) are not the user's news
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        if address == "local":
            return Client(local_cluster())
        if address.endswith(".json") or Path(address).is_file():
            return Client(scheduler_file=address, timeout=CONNECT_TIMEOUT_S)
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S} s "
            f"({type(exc).__name__}); start one with `dask scheduler` and `dask worker "
            "<address>`, or use --scheduler local"
        ) from None


ONE_THREAD = {
    k: "1"
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}
"""Each worker of the embedded cluster is one process with one thread: its libraries (ONNX
Runtime, BLAS, numba) get one thread too, so that the workers do not fight over the cores."""


def local_cluster(workers: int | None = None) -> Any:
    """An embedded LocalCluster: `workers` single-threaded processes (default: one per core)."""
    from distributed import LocalCluster

    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=40, env=ONE_THREAD,
    )  # fmt: skip


def table_files(spec: str) -> list[Path]:
    """The input files of a batch: a file, a folder (its CSV/Parquet files), or a glob."""
    path = Path(spec)
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*")) if p.is_file() and _is_table(p)]
    elif any(ch in spec for ch in "*?["):
        found = [Path(p) for p in sorted(glob.glob(spec, recursive=True)) if _is_table(Path(p))]
    else:
        found = [path] if path.is_file() else []
    if not found:
        raise InputError(f"{spec}: no CSV or Parquet file there (expected a file, a folder of "
                         f"them, or a glob such as 'catalogue/*.parquet')")  # fmt: skip
    return found


def _is_table(p: Path) -> bool:
    return p.name.lower().endswith(TABLE_SUFFIXES) and not p.name.startswith(".")


_LOADED: dict[str, Any] = {}


def _bundle(path: str) -> Any:
    """The bundle at `path`, loaded once per worker process."""

    if path not in _LOADED:
        _LOADED[path] = load_bundle(path, eager=True)
    return _LOADED[path]


def _score_part(in_path: str, out_dir: str, index: int, bundle_path: str, chunksize: int) -> dict:
    """One task: `score_file` on one input file into its numbered part."""

    out = Path(out_dir) / f"part-{index:05d}.parquet"
    rejects = Path(out_dir) / "rejects" / f"part-{index:05d}.csv"
    try:
        summary = score_file(in_path, out, _bundle(bundle_path), rejects_path=rejects,
                             chunksize=chunksize, overwrite=True)  # fmt: skip
    except SongpopError as exc:
        return {"input": in_path, "error": str(exc), "rows_in": 0, "scored": 0, "rejected": 0}
    return summary


def score_files(
    client: Any,
    spec: str,
    out: Path,
    bundle_path: Path,
    *,
    chunksize: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Score every file of `spec` on the cluster into a partitioned Parquet dataset.

    The folder's `_summary.json` is the run's manifest: its id, its parts and the totals. A
    folder that holds parts of another run is refused unless `overwrite` (then those parts are
    removed first), so that the folder never mixes two runs.

    Args:
        client: `connect(...)`.
        spec: a file, folder or glob (`table_files`).
        out: the output folder (part-NNNNN.parquet, rejects/part-NNNNN.csv, _summary.json).
        bundle_path: the model bundle folder (each worker loads it once).
        chunksize: rows per chunk inside a task.
        progress: called with (files done, files) as tasks finish.
        overwrite: clear another run's parts from `out` (and replace a joined CSV).

    Returns:
        Totals (rows_in, scored, rejected, files, failed files with their errors) and the parts.

    Raises:
        ClusterError: the rows do not add up (scored + rejected != rows in).
        InputError: `out` holds another run's parts, or an input lies inside it.
    """
    from distributed import as_completed

    files = table_files(spec)
    one_csv = out if out.name.lower().endswith(".csv") else None
    out = check_output_folder(out, files, overwrite)
    (out / "rejects").mkdir(parents=True, exist_ok=True)
    # One key per task of this run: a key Dask still holds from an earlier run of this process
    # (the same file index) would hand back that run's result without writing the part again.
    run_token = uuid.uuid4().hex[:12]
    futures = [
        client.submit(
            _score_part,
            str(f),
            str(out),
            i,
            str(bundle_path),
            chunksize,
            key=f"songpop-score-{run_token}-{i}",
            pure=False,
        )  # fmt: skip
        for i, f in enumerate(files)
    ]
    results: list[dict[str, Any]] = [{}] * len(files)
    index = {f.key: i for i, f in enumerate(futures)}
    for done, future in enumerate(as_completed(futures), start=1):
        results[index[future.key]] = future.result()
        if progress is not None:
            progress(done, len(files))
    totals = {k: sum(int(r.get(k, 0)) for r in results) for k in ("rows_in", "scored", "rejected")}
    if totals["scored"] + totals["rejected"] != totals["rows_in"]:
        raise ClusterError(f"scored {totals['scored']:,} + rejected {totals['rejected']:,} != "
                           f"{totals['rows_in']:,} rows in")  # fmt: skip
    summary = {
        "run": f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}",
        **totals,
        "files": len(files),
        "failed": {r["input"]: r["error"] for r in results if "error" in r},
        "parts": [r.get("output") for r in results],
        "output": str(out),
    }
    write_json_atomic(summary, out / MANIFEST)
    if one_csv is not None:
        _join_csv([p for p in summary["parts"] if p], one_csv)
        summary["output"] = str(one_csv)
    return summary


MANIFEST = "_summary.json"
"""The run's manifest in its output folder: run id, totals, inputs' errors and parts."""


def check_output_folder(out: Path, files: list[Path], overwrite: bool) -> Path:
    """The folder the parts go to, after refusing (or, with `overwrite`, clearing) what would
    mix two runs; checked before anything is read.

    `out` ending in .csv is one joined CSV: its parts go to `<out>.parts`, songpop's own
    staging folder, which is always cleared.

    Raises:
        InputError: a file where the folder should be; an input file inside the folder; the
            folder holding another run's parts (or the joined CSV existing) without `overwrite`.
    """
    folder = out.with_name(out.name + ".parts") if out.name.lower().endswith(".csv") else out
    if folder is not out and out.exists() and not overwrite:
        raise InputError(f"--out {out}: a file is already there (an earlier run's?); add "
                         "--overwrite to replace it, or give another file name")  # fmt: skip
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder}: a file is there; give a folder for the scored parts")
    root = os.path.realpath(folder)
    inside = [f for f in files if os.path.realpath(f).startswith(root + os.sep)]
    if inside:
        raise InputError(f"--out {out}: holds the input {inside[0]}; the scored parts would "
                         "mix with the inputs. Give another folder")  # fmt: skip
    old = _parts(folder)
    if old and folder is out and not overwrite:
        raise InputError(
            f"--out {out}: holds {len(old)} file(s) of another run (part-*.parquet, "
            f"rejects/part-*.csv, {MANIFEST}); add --overwrite to clear them, or give an "
            "empty folder"
        )
    for path in old:
        path.unlink()
    return folder


def _parts(folder: Path) -> list[Path]:
    """What a scoring run leaves in its folder: parts, rejects parts, the manifest."""
    if not folder.is_dir():
        return []
    found = [*folder.glob("part-*.parquet"), *(folder / "rejects").glob("part-*.csv")]
    return sorted(found + [p for p in [folder / MANIFEST] if p.is_file()])


def _join_csv(parts: list[str], target: Path) -> None:
    """The scored parts, in input order, as one CSV (written atomically)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with atomic_path(target) as tmp:
        writer = None
        for part in parts:
            table = pq.read_table(part)
            if writer is None:
                writer = pacsv.CSVWriter(str(tmp), table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()


def _analyze_one(path: str, online: bool = False, calibration: str | None = None) -> dict[str, Any]:
    """One task: the analysis of one audio file, or its error. With `online`, ReccoBeats is
    asked from the worker (a failed upload keeps the local analysis, its note in `notes`);
    `calibration` is a calibration file the worker reads."""

    heard = fitted = None
    if calibration:
        fitted = load_calibration(calibration)
    if online:
        heard = OnlineAnalysis.from_environment()
    try:
        songs, failures = analyze_files([path], online=heard, calibration=fitted)
    finally:
        if heard is not None:
            heard.close()
    if failures:
        return {"file": path, "error": failures[0].error}
    row = analysis_table(songs).iloc[0].to_dict()
    if songs[0].notes:
        row["notes"] = " | ".join(songs[0].notes)
    return row


def audio_files(folder: Path) -> list[Path]:
    """The audio files under a folder (by suffix), in a stable order."""

    return [p for p in sorted(folder.rglob("*")) if p.is_file() and is_audio_path(p)]


def analyze_folder(
    client: Any,
    folder: Path,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    online: bool = False,
    calibration: str | None = None,
) -> dict[str, Any]:
    """Analyse every audio file under `folder` on the cluster into one table (`out`, .parquet
    or .csv); files already in `out` are skipped; failures go to `<out>.failures.csv`.
    `online` and `calibration` are passed to each task (`_analyze_one`).

    Returns:
        Counts: files, skipped (already done), analysed, failed.
    """
    import pandas as pd
    from distributed import as_completed

    files = audio_files(folder)
    previous = _read_table(out) if out.exists() else None
    done = set(previous["file"]) if previous is not None and "file" in previous else set()
    todo = [str(p) for p in files if str(p) not in done]
    futures = client.map(_analyze_one, todo, online=online, calibration=calibration, pure=False)
    rows, failures = [], []
    for n, future in enumerate(as_completed(futures), start=1):
        row = future.result()
        (failures if "error" in row else rows).append(row)
        if progress is not None:
            progress(n, len(todo))
    table = pd.DataFrame(rows)
    if previous is not None and len(previous):
        table = pd.concat([previous, table], ignore_index=True)
    if len(table):
        table = table.sort_values("file", kind="stable").reset_index(drop=True)
    writer = write_parquet_atomic if out.suffix.lower() == ".parquet" else write_csv_atomic
    writer(table, out)
    failures_path = out.with_name(out.name + ".failures.csv")
    if failures:
        write_csv_atomic(pd.DataFrame(failures), failures_path)
    return {
        "files": len(files),
        "skipped": len(files) - len(todo),
        "analysed": len(rows),
        "failed": len(failures),
        "failures": str(failures_path) if failures else None,
        "output": str(out),
    }


def _read_table(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)

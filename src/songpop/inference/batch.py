"""Batch files: a CSV or Parquet file of songs scored in chunks into an output written atomically.

`score_file` reads a file through the table adapter (`inputs.table.TableReader`), hands each
chunk to the one core (`predict.score_frame`), and appends the scored rows and the rejects to
their outputs, each written atomically (`TableWriter`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from songpop.errors import DataNotFoundError, InputError
from songpop.inference.core import REJECT_COLUMNS, score_frame, scored_rows
from songpop.inference.explain import explainer_for
from songpop.inference.history import HISTORY, needs_history
from songpop.inference.inputs.table import DEFAULT_CHUNKSIZE, TableReader
from songpop.io import atomic_path

if TYPE_CHECKING:
    from songpop.bundle import Bundle

log = logging.getLogger(__name__)


def table_features(bundle: Bundle) -> list[str]:
    """The model's features a batch file must hold: all of them, except the artist's chart
    history, which the bundle fills from the file's artist, title and year
    (`inference.history.fill_history_frame`)."""

    if needs_history(bundle) and bundle.artist_history() is not None:
        return [f for f in bundle.feature_names if f not in HISTORY]
    return list(bundle.feature_names)


def score_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    bundle: Bundle,
    *,
    rejects_path: str | os.PathLike[str] | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    explain: bool = False,
    top: int = 3,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Score a CSV or Parquet file of songs, in chunks, into a CSV or Parquet output.

    The input may be in any track layout `songpop.sources` knows (Kaggle, TidyTuesday, Hit
    Predictor, Spotify API fields) or have plain feature columns. The output has `row` (the
    1-based data row of the input), the identifying columns (track_id, title, artist where the
    input has them), `level` and one `proba_<class>` column per class. Rows that fail validation
    go to the rejects file (row, where, field, value, expected, reason) and are not scored. Both
    files are written atomically: if scoring fails midway, neither appears.

    Args:
        in_path: the input (.csv, .csv.gz, .parquet).
        out_path: the output (.parquet or .csv).
        bundle: the loaded model bundle.
        rejects_path: where to write the rejected rows; default `<out stem>.rejects.csv` next to
            the output, written only when there are rejects.
        chunksize: rows per chunk.
        explain: also write why each row got its level: `why` (the `top` strongest
            contributions in plain words) and `contribution_<feature>` for every feature
            (`songpop.inference.explain.explain_table`; their unit is in the summary).
        top: how many contributions `why` names.
        overwrite: replace an output file that exists already (else an InputError, before
            anything is read); an output that is the input, or both outputs the same file,
            is refused whatever this says.

    Returns:
        A summary: input, output, rejects, layout, model_id, rows_in, scored, rejected,
        levels (count per level), explanation_unit (None without `explain`), seconds.

    Raises:
        LayoutError: the file's columns match no layout and lack a feature the model needs.
        DataNotFoundError: the input does not exist.
        InputError: an output is the input, the two outputs are one file, or an output exists
            and `overwrite` is False.
    """
    t0 = time.perf_counter()
    in_path, out_path = Path(in_path), Path(out_path)
    if in_path.is_dir():
        raise InputError(f"{in_path}: is a folder; give a CSV or Parquet file")
    if not in_path.is_file():
        raise DataNotFoundError(f"{in_path}: input file not found")
    for what, target in (("--out", out_path), ("--rejects", rejects_path)):
        if target is not None and Path(target).is_dir():
            raise InputError(
                f"{what} {target}: a folder is there; give a file name (.csv or .parquet)"
            )
    explicit_rejects = rejects_path is not None
    rejects_path = (
        Path(rejects_path)
        if rejects_path is not None
        else out_path.with_name(stem(out_path) + ".rejects.csv")
    )
    check_outputs(in_path, out_path, rejects_path, explicit_rejects, overwrite)
    reader = TableReader(in_path, table_features(bundle), chunksize)
    counts = {"rows_in": 0, "scored": 0, "rejected": 0}
    levels = dict.fromkeys(bundle.levels, 0)
    empty_ids = pd.DataFrame(
        {"row": pd.Series(dtype="int64")}
        | {c: pd.Series(dtype="string") for c in reader.id_columns}
    )
    empty_scored = scored_rows(
        empty_ids, np.empty((0, len(bundle.feature_names))), bundle, explain=explain, top=top
    )
    empty_rejects = empty_ids.assign(
        **{c: pd.Series(dtype="string") for c in ("where", *REJECT_COLUMNS)}
    )
    unit = None
    if explain:
        unit = explainer_for(bundle).unit
    keep = ["row", *reader.id_columns]
    with (
        TableWriter(out_path, empty_scored) as out_writer,
        TableWriter(rejects_path, empty_rejects, keep_if_empty=explicit_rejects) as rej_writer,
    ):
        for chunk in reader:
            table = chunk.table.reset_index(drop=True)
            first = chunk.start + 1
            table.insert(0, "row", np.arange(first, first + len(table), dtype=np.int64))
            scored, rejects = score_frame(
                table, bundle, keep=keep, known_problems=chunk.problems, explain=explain, top=top
            )
            out_writer.write(scored)
            if len(rejects):
                rejects.insert(1, "where", [chunk.where(p) for p in rejects.pop("position")])
                rej_writer.write(rejects)
            counts["rows_in"] += len(table)
            counts["scored"] += len(scored)
            counts["rejected"] += len(rejects)
            for level, n in scored["level"].value_counts().items():
                levels[str(level)] += int(n)
    if not counts["rejected"] and not explicit_rejects and overwrite:
        with contextlib.suppress(FileNotFoundError):
            rejects_path.unlink()  # an earlier run's rejects: not this run's
    summary = {
        "input": str(in_path),
        "output": str(out_path),
        "rejects": str(rejects_path) if counts["rejected"] or explicit_rejects else None,
        "layout": reader.layout_name,
        "model_id": bundle.model_id,
        **counts,
        "levels": levels,
        "explanation_unit": unit,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    log.info("scored %s: %s", in_path, summary)
    return summary


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links, `..` or another spelling)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    in_path: Path, out_path: Path, rejects_path: Path, explicit_rejects: bool, overwrite: bool
) -> None:
    """Refuse, before anything is read, outputs that would destroy data.

    Raises:
        InputError: an output is the input; the scored rows and the rejects would go to one
            file; or an output exists and `overwrite` is False (the message says --overwrite).
    """
    for what, target in (("--out", out_path), ("--rejects", rejects_path)):
        if same_file(target, in_path):
            raise InputError(
                f"{what} {target}: is the input file; the scored rows would replace it. Give "
                "another file name"
            )
    if same_file(out_path, rejects_path):
        raise InputError(
            f"--out {out_path} and --rejects {rejects_path}: the same file; the rejects would "
            "replace the scored rows. Give two file names"
        )
    if overwrite:
        return
    targets = [("--out", out_path)] + ([("--rejects", rejects_path)] if explicit_rejects else [])
    targets += [] if explicit_rejects else [("the rejects file", rejects_path)]
    for what, target in targets:
        if target.exists():
            raise InputError(
                f"{what} {target}: a file is already there (an earlier run's?); add --overwrite "
                "to replace it, or give another file name"
            )


def stem(path: Path) -> str:
    """A file's name without its table suffix (".csv.gz", ".parquet", ".csv", ".pq")."""
    name = path.name
    for suffix in (".csv.gz", ".parquet", ".csv", ".pq"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


class TableWriter:
    """Append DataFrames to a CSV or Parquet file written atomically at the end.

    Args:
        path: the final file (.parquet / .pq for Parquet, else CSV).
        empty: the table written when nothing was appended (its columns make the header).
        keep_if_empty: write `empty` when nothing was appended; else leave no file.
    """

    def __init__(self, path: Path, empty: pd.DataFrame, keep_if_empty: bool = True) -> None:
        self.path = path
        self.empty = empty
        self.keep_if_empty = keep_if_empty
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self.rows = 0
        self._writer: Any = None
        self._schema: Any = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> TableWriter:

        self._tmp = self._stack.enter_context(atomic_path(self.path))
        return self

    def write(self, df: pd.DataFrame) -> None:
        """Append the rows of `df` (its columns must match the first table's)."""
        # pyarrow writes both formats: its CSV writer is several times faster than pandas'.
        import pyarrow as pa
        import pyarrow.csv as pv
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = (
                pq.ParquetWriter(self._tmp, table.schema)
                if self.parquet
                else pv.CSVWriter(self._tmp, table.schema)
            )
        else:
            table = table.cast(self._schema)
        self._writer.write_table(table)
        self.rows += len(df)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if self._writer is not None:
            self._writer.close()
        started = self._writer is not None
        if exc_type is None and not started and not self.keep_if_empty:
            # Nothing to write and nobody asked for the file: leave no file behind.
            self._stack.pop_all()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            return False
        if exc_type is None and not started:
            if self.parquet:
                self.empty.to_parquet(self._tmp, index=False)
            else:
                self.empty.to_csv(self._tmp, index=False)
        return bool(self._stack.__exit__(exc_type, exc, tb))

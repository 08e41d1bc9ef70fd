"""The one prediction path: records in, a level and class probabilities out.

Every interface (the `songpop predict` command, the HTTP API, the web page, batch scoring) calls
the functions here:

- `predict(records, bundle, explain=False)`: one record (a dict), a list of them, or a
  DataFrame; each is validated against the bundle's features and `config.FEATURE_RANGES`.
- `predict_frame(df, bundle)`: vectorised scoring of a table of valid rows.
- `score_file(in_path, out_path, bundle)`: a CSV or Parquet file of any track layout, streamed
  in chunks; bad rows go to a rejects file with the reason, good rows are scored, the output is
  written atomically.

Speed: a fitted scikit-learn Pipeline re-validates its input at every step, which costs
milliseconds on a single row. When a pipeline is made of simple steps (column selection,
scalers, one-hot encoding, imputation, then a LightGBM or scikit-learn classifier), it is
compiled once per bundle into plain numpy operations; the compiled form is checked against the
pipeline's own `predict_proba` on reference rows before it is used, and any pipeline that cannot
be compiled (or disagrees) is simply called as is.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from songpop import config
from songpop.bundle import Bundle, is_categorical
from songpop.errors import BundleError, InputError, LayoutError

log = logging.getLogger(__name__)

ID_FIELDS: tuple[str, ...] = ("id", "song_id", "track_id", "title", "artist")
"""Fields a record may carry to identify itself; echoed back, never used as features."""

KNOWN_FEATURES: tuple[str, ...] = tuple(
    dict.fromkeys(config.AUDIO_FEATURES + config.CONTEXT_FEATURES + tuple(config.FEATURE_RANGES))
)
"""Every feature name songpop knows; a record may carry ones its model does not use."""

DEFAULT_CHUNKSIZE = 100_000
_REJECT_COLUMNS = ("field", "value", "expected", "reason")
_WALK_ROWS = 2_000  # from this many rows on, LightGBM goes through the compiled walk
_SCORE_ROWS = 16_384  # rows scored at a time: their intermediate arrays stay in the cache
_MAX_LISTED_PROBLEMS = 10


# --- results and errors -------------------------------------------------------------------------


@dataclass
class Prediction:
    """The prediction for one record.

    Attributes:
        level: the most probable class ("low"/"medium"/"high", or "not_hit"/"hit").
        probabilities: class → probability, in the bundle's class order; they sum to 1.
        model_id: the id of the model that made it.
        explanation: when asked for, the features' contributions to `level`, strongest first
            (`songpop.explain.Contribution`).
        ids: the identifying fields the record carried (id, title, artist...).
        ignored_fields: known features the record gave that this model does not use.
    """

    level: str
    probabilities: dict[str, float]
    model_id: str
    explanation: list[Any] | None = None
    ids: dict[str, Any] = field(default_factory=dict)
    ignored_fields: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (explanation entries as dicts)."""
        out = asdict(self)
        if self.explanation is not None:
            out["explanation"] = [
                c.to_dict() if hasattr(c, "to_dict") else c for c in self.explanation
            ]
        return out


@dataclass
class Problem:
    """One invalid value of a record or row.

    Attributes:
        record: the 0-based position of the record (or row) in its batch.
        field: the field (column) at fault, or None when the record itself is wrong.
        value: the value given (None when missing).
        expected: what was expected, e.g. "a number from 0 to 1".
        message: the full sentence, naming the field.
    """

    record: int
    field: str | None
    value: Any
    expected: str
    message: str


class RecordError(InputError):
    """Records given for prediction are invalid; `problems` lists every bad value."""

    def __init__(self, problems: list[Problem], single: bool = True, total: int | None = None):
        self.problems = problems
        shown = problems[:_MAX_LISTED_PROBLEMS]
        parts = [p.message if single else f"record {p.record + 1}: {p.message}" for p in shown]
        more = (total if total is not None else len(problems)) - len(shown)
        tail = f"; and {more} more problem(s)" if more > 0 else ""
        super().__init__("invalid input: " + "; ".join(parts) + tail)


def describe_feature(name: str) -> str:
    """What a valid value of `name` is, in words: "a number from 0 to 1", "an integer ..."."""
    if name not in config.FEATURE_RANGES:
        return "a number"
    low, high = config.FEATURE_RANGES[name]
    unit = config.FEATURE_UNITS.get(name)
    integer = isinstance(low, int) and isinstance(high, int)
    kind = "an integer" if integer else "a number"
    text = f"{kind} from {_fmt(low)} to {_fmt(high)}"
    if unit and name == "key":
        text += f" ({unit})"
    elif unit and unit != name:
        text += f" {unit}"
    return text


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", "") if float(value).is_integer() else f"{value:g}"


# --- validation ---------------------------------------------------------------------------------


def validate_record(
    record: Any, feature_names: Sequence[str], index: int = 0
) -> tuple[list[float], list[Problem], list[str]]:
    """Check one record and return its feature values in order.

    Args:
        record: a mapping of field → value.
        feature_names: the model's features, in order.
        index: the record's position, for the problems.

    Returns:
        (the feature values as floats in `feature_names` order, the problems found, the known
        features given that the model does not use).
    """
    if not isinstance(record, Mapping):
        msg = f"expected an object of feature values, got {type(record).__name__}"
        return [], [Problem(index, None, None, "an object", msg)], []
    problems: list[Problem] = []
    needed = set(feature_names)
    unknown = [
        k for k in record if k not in needed and k not in KNOWN_FEATURES and k not in ID_FIELDS
    ]
    for key in unknown:
        allowed = ", ".join(feature_names)
        problems.append(
            Problem(
                index,
                str(key),
                record[key],
                f"one of {allowed}",
                f"unknown field {key!r}; the model's features are {allowed}",
            )
        )
    ignored = [k for k in record if k not in needed and k in KNOWN_FEATURES]
    values: list[float] = []
    for name in list(feature_names) + ignored:
        if name not in record:
            problems.append(
                Problem(
                    index,
                    name,
                    None,
                    describe_feature(name),
                    f"{name}: missing; expected {describe_feature(name)}",
                )
            )
            values.append(math.nan)
            continue
        number, problem = _check_value(name, record[name], index)
        if problem:
            problems.append(problem)
        values.append(number)
    return values[: len(feature_names)], problems, ignored


def _whole_number(name: str) -> bool:
    """Whether a feature takes whole numbers only (category codes, years, decades)."""
    return is_categorical(name) or name in config.TIME_FEATURES


def _check_value(name: str, value: Any, index: int) -> tuple[float, Problem | None]:
    expected = describe_feature(name)
    if value is None:
        return math.nan, Problem(
            index, name, None, expected, f"{name}: missing (null); expected {expected}"
        )
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        got = f"{type(value).__name__} {value!r}" if value is not None else "null"
        return math.nan, Problem(
            index, name, value, expected, f"{name}: wrong type ({got}); expected {expected}"
        )
    number = float(value)
    if not math.isfinite(number):
        return math.nan, Problem(
            index,
            name,
            value,
            expected,
            f"{name}: {value!r} is not a finite number; expected {expected}",
        )
    if name in config.FEATURE_RANGES:
        low, high = config.FEATURE_RANGES[name]
        if not low <= number <= high:
            return number, Problem(
                index,
                name,
                value,
                expected,
                f"{name}: {value!r} is out of range; expected {expected}",
            )
        if _whole_number(name):
            if not number.is_integer():
                return number, Problem(
                    index,
                    name,
                    value,
                    expected,
                    f"{name}: {value!r} is not a whole number; expected {expected}",
                )
    return number, None


def validate_frame(
    df: pd.DataFrame, feature_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Check every row of a table at once.

    Args:
        df: a table with (at least) the feature columns.
        feature_names: the model's features, in order.

    Returns:
        (X: float64 array of the features, rows × features; ok: a boolean array, True for valid
        rows; problems: one row per bad value with columns row (0-based position), field,
        value, expected, reason).

    Raises:
        LayoutError: a feature column is absent from the table altogether.
    """
    missing = [f for f in feature_names if f not in df.columns]
    if missing:
        raise LayoutError(
            f"the table has no column(s) {', '.join(repr(m) for m in missing)} that the model "
            f"needs; columns found: {list(map(str, df.columns))}"
        )
    n = len(df)
    X = np.empty((n, len(feature_names)), dtype=np.float64)
    ok = np.ones(n, dtype=bool)
    found: list[pd.DataFrame] = []
    for j, name in enumerate(feature_names):
        column = df[name]
        values = _as_float(column)
        X[:, j] = values
        absent = column.isna().to_numpy()
        known = ~np.isnan(values)
        bad_type = ~known & ~absent
        frac = np.zeros(n, dtype=bool)
        if name in config.FEATURE_RANGES:
            low, high = config.FEATURE_RANGES[name]
            out_word = "out of range"
            with np.errstate(invalid="ignore"):
                out = known & ((values < low) | (values > high))
                if _whole_number(name):
                    frac = known & ~out & (values != np.round(values))
        else:
            out_word = "not a finite number"
            out = np.isinf(values)
        bad = absent | bad_type | out | frac
        if bad.any():
            ok &= ~bad
            where = np.flatnonzero(bad)
            # the four masks are disjoint: each bad value has one reason
            reason = np.select(
                [absent[where], bad_type[where], out[where]],
                ["missing", "not a number", out_word],
                default="not a whole number",
            ).astype(object)
            found.append(
                pd.DataFrame(
                    {
                        "row": where,
                        "field": name,
                        "value": column.iloc[where].astype(object).to_numpy(),
                        "expected": describe_feature(name),
                        "reason": reason,
                    }
                )
            )
    columns = ["row", "field", "value", "expected", "reason"]
    problems = (
        pd.concat(found, ignore_index=True).sort_values("row", kind="stable")
        if found
        else pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    )
    return X, ok, problems.reset_index(drop=True)


def _as_float(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column):
        return np.full(len(column), np.nan)
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64").to_numpy(na_value=np.nan)
    return pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


# --- predicting ---------------------------------------------------------------------------------


def predict(
    records: Mapping[str, Any] | Sequence[Mapping[str, Any]] | pd.DataFrame,
    bundle: Bundle,
    *,
    explain: bool = False,
) -> list[Prediction]:
    """Predict the level of each record.

    Args:
        records: one record (a dict of feature → value, optionally with id/title/artist), a list
            of them, or a DataFrame with one row per record.
        bundle: the loaded model bundle.
        explain: also say which features pushed each prediction up or down.

    Returns:
        One Prediction per record, in order.

    Raises:
        RecordError: a record is invalid (every problem is listed, naming the field and the
            allowed range); nothing is predicted then.
    """
    single = isinstance(records, Mapping)
    if isinstance(records, pd.DataFrame):
        items: list[Any] = records.to_dict("records")
        items = [{k: _unbox(v) for k, v in r.items()} for r in items]
    elif single:
        items = [records]
    elif isinstance(records, str | bytes) or not isinstance(records, Sequence):
        raise InputError(
            f"expected a record (an object of feature values) or a list of them, "
            f"got {type(records).__name__}"
        )
    else:
        items = list(records)
    if not items:
        return []
    features = bundle.feature_names
    rows, problems, ignored_per = [], [], []
    for i, item in enumerate(items):
        values, found, ignored = validate_record(item, features, i)
        rows.append(values)
        problems += found
        ignored_per.append(ignored)
    if problems:
        raise RecordError(problems, single=single)
    X = np.asarray(rows, dtype=np.float64)
    proba = predict_proba_array(bundle, X)
    classes = bundle.classes
    top = proba.argmax(axis=1)
    explanations: list[Any] = [None] * len(items)
    if explain:
        from songpop.explain import explain_rows

        explanations = explain_rows(bundle, X, [classes[k] for k in top])
    out = []
    for i, item in enumerate(items):
        out.append(
            Prediction(
                level=classes[top[i]],
                probabilities={c: float(p) for c, p in zip(classes, proba[i], strict=True)},
                model_id=bundle.model_id,
                explanation=explanations[i],
                ids={k: item[k] for k in ID_FIELDS if k in item},
                ignored_fields=ignored_per[i],
            )
        )
    return out


def _unbox(value: Any) -> Any:
    if value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def predict_proba_array(bundle: Bundle, X: np.ndarray) -> np.ndarray:
    """Class probabilities for a float array of valid rows (columns in `bundle.feature_names`).

    Uses the bundle's compiled fast path when there is one, else the estimator itself. Large
    arrays are scored in parts of at most `_SCORE_ROWS` rows, whose intermediate arrays stay
    small (measured twice on 200k rows with the seed LightGBM: about a fifth faster than in
    one piece).
    """
    if len(X) > _SCORE_ROWS:
        # Near-equal parts, so that no small tail falls below the compiled walk's threshold.
        parts = np.array_split(X, -(-len(X) // _SCORE_ROWS))
        return np.concatenate([predict_proba_array(bundle, part) for part in parts])
    fast = fast_model(bundle)
    if fast is not None:
        try:
            return fast(X)
        except _Fallback:
            pass
    if not hasattr(bundle.estimator, "predict_proba"):
        raise BundleError(
            f"model {bundle.model_id} ({bundle.path}) gives no class probabilities "
            "(no predict_proba); it cannot be used for predictions"
        )
    frame = _frame(X, bundle.feature_names)
    return np.asarray(bundle.estimator.predict_proba(frame), dtype=np.float64)


def _frame(X: np.ndarray, feature_names: Sequence[str]) -> pd.DataFrame:
    """The feature matrix as the DataFrame the pipelines were fitted on (integer codes as int)."""
    data = {}
    for j, name in enumerate(feature_names):
        column = X[:, j]
        if is_categorical(name) and not np.isnan(column).any():
            data[name] = column.astype(np.int64)
        else:
            data[name] = column
    return pd.DataFrame(data, columns=list(feature_names))


def predict_frame(
    df: pd.DataFrame, bundle: Bundle, *, keep: Sequence[str] | None = None
) -> pd.DataFrame:
    """Score a table of rows at once.

    Args:
        df: a table with the model's feature columns (any others are ignored).
        bundle: the loaded model bundle.
        keep: columns of `df` to copy to the output; default: the identifying columns present
            (`ID_FIELDS`, plus `row`).

    Returns:
        The kept columns, then `level` and one `proba_<class>` column per class, one row per
        input row in the same order.

    Raises:
        RecordError: some rows are invalid (use `score_file` or `validate_frame` to score the
            good rows and report the bad ones).
    """
    X, ok, problems = validate_frame(df, bundle.feature_names)
    if not ok.all():
        listed = [
            Problem(
                int(r.row),
                r.field,
                r.value,
                r.expected,
                f"row {int(r.row) + 1}: {r.field}: {r.reason} ({r.value!r}); expected {r.expected}",
            )
            for r in problems.head(_MAX_LISTED_PROBLEMS).itertuples()
        ]
        raise RecordError(listed, single=True, total=len(problems))
    keep = list(keep) if keep is not None else [c for c in ("row", *ID_FIELDS) if c in df.columns]
    return _scored(df[keep].reset_index(drop=True), X, bundle)


def _scored(ids: pd.DataFrame, X: np.ndarray, bundle: Bundle) -> pd.DataFrame:
    proba = predict_proba_array(bundle, X) if len(X) else np.empty((0, len(bundle.classes)))
    classes = np.asarray(bundle.classes, dtype=object)
    out = ids.copy()
    out["level"] = pd.array(classes[proba.argmax(axis=1)] if len(X) else [], dtype="string")
    for k, name in enumerate(bundle.classes):
        out[f"proba_{name}"] = proba[:, k]
    return out


# --- batch files --------------------------------------------------------------------------------


def score_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    bundle: Bundle,
    *,
    rejects_path: str | os.PathLike[str] | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    explain: bool = False,
    top: int = 3,
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
            (`songpop.explain.explain_table`; their unit is in the summary).
        top: how many contributions `why` names.

    Returns:
        A summary: input, output, rejects, layout, model_id, rows_in, scored, rejected,
        levels (count per level), explanation_unit (None without `explain`), seconds.

    Raises:
        LayoutError: the file's columns match no layout and lack a feature the model needs.
        DataNotFoundError: the input does not exist.
    """
    from songpop.errors import DataNotFoundError

    t0 = time.perf_counter()
    in_path, out_path = Path(in_path), Path(out_path)
    if not in_path.is_file():
        raise DataNotFoundError(f"{in_path}: input file not found")
    explicit_rejects = rejects_path is not None
    rejects_path = (
        Path(rejects_path)
        if rejects_path is not None
        else out_path.with_name(_stem(out_path) + ".rejects.csv")
    )
    reader = _ChunkReader(in_path, bundle.feature_names, chunksize)
    counts = {"rows_in": 0, "scored": 0, "rejected": 0}
    levels = dict.fromkeys(bundle.classes, 0)
    empty_ids = pd.DataFrame(
        {"row": pd.Series(dtype="int64")}
        | {c: pd.Series(dtype="string") for c in reader.id_columns}
    )
    empty_X = np.empty((0, len(bundle.feature_names)))
    empty_rejects = empty_ids.assign(
        **{c: pd.Series(dtype="string") for c in ("where", *_REJECT_COLUMNS)}
    )
    unit = None
    if explain:
        from songpop.explain import explain_table, explainer_for

        unit = explainer_for(bundle).unit

    def scored_rows(ids: pd.DataFrame, X: np.ndarray) -> pd.DataFrame:
        scored = _scored(ids, X, bundle)
        if not explain:
            return scored
        why, _ = explain_table(bundle, X, list(scored["level"]), top=top)
        return pd.concat([scored, why], axis=1)

    with (
        _TableWriter(out_path, scored_rows(empty_ids, empty_X)) as out_writer,
        _TableWriter(rejects_path, empty_rejects, keep_if_empty=explicit_rejects) as rej_writer,
    ):
        for start, table, conversion_problems in reader:
            X, ok, problems = validate_frame(table, bundle.feature_names)
            problems = _merge_problems(conversion_problems, problems, reader.feature_sources)
            if len(problems):
                ok[problems["row"].to_numpy(dtype=np.int64)] = False
            ids = table[reader.id_columns].reset_index(drop=True)
            ids.insert(0, "row", np.arange(start + 1, start + len(table) + 1, dtype=np.int64))
            scored = scored_rows(ids[ok].reset_index(drop=True), X[ok])
            out_writer.write(scored)
            if len(problems):
                rej_writer.write(_rejects_frame(problems, ids, start, reader.row_word))
            counts["rows_in"] += len(table)
            counts["scored"] += int(ok.sum())
            counts["rejected"] += int((~ok).sum())
            for level, n in scored["level"].value_counts().items():
                levels[str(level)] += int(n)
    seconds = time.perf_counter() - t0
    summary = {
        "input": str(in_path),
        "output": str(out_path),
        "rejects": str(rejects_path) if counts["rejected"] or explicit_rejects else None,
        "layout": reader.layout_name,
        "model_id": bundle.model_id,
        **counts,
        "levels": levels,
        "explanation_unit": unit,
        "seconds": round(seconds, 3),
    }
    log.info("scored %s: %s", in_path, summary)
    return summary


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".parquet", ".csv", ".pq"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _merge_problems(
    conversion: pd.DataFrame, checks: pd.DataFrame, feature_sources: Mapping[str, str]
) -> pd.DataFrame:
    """Problems of one chunk: a conversion problem explains a value better than "missing"."""
    if conversion is None or conversion.empty:
        return checks
    to_feature = {src: feat for feat, src in feature_sources.items()}
    conv = pd.DataFrame(
        {
            "row": conversion["row"].astype(np.int64),
            "field": conversion["column"].map(lambda c: to_feature.get(c, c)),
            "value": conversion["value"],
            "expected": conversion["expected"],
            "reason": "not " + conversion["expected"].astype(str),
        }
    )
    conv = conv[conv["field"].isin(list(feature_sources))]
    if conv.empty:
        return checks
    key = set(zip(conv["row"], conv["field"], strict=True))
    keep = [(r, f) not in key for r, f in zip(checks["row"], checks["field"], strict=True)]
    merged = pd.concat([conv, checks[keep]], ignore_index=True)
    return merged.sort_values(["row", "field"], kind="stable").reset_index(drop=True)


def _rejects_frame(
    problems: pd.DataFrame, ids: pd.DataFrame, start: int, row_word: Callable[[int], str]
) -> pd.DataFrame:
    """One line per rejected row, its problems joined with "; "."""
    grouped = problems.groupby("row", sort=True)
    rows = np.asarray(list(grouped.groups.keys()), dtype=np.int64)
    joined = grouped.agg(
        field=("field", lambda s: "; ".join(map(str, s))),
        value=("value", lambda s: "; ".join(map(repr, s))),
        expected=("expected", lambda s: "; ".join(map(str, s))),
        reason=("reason", lambda s: "; ".join(map(str, s))),
    ).reset_index(drop=True)
    frame = ids.iloc[rows].reset_index(drop=True)
    frame.insert(1, "where", [row_word(start + int(r)) for r in rows])
    for column in _REJECT_COLUMNS:
        frame[column] = joined[column].astype("string")
    return frame


class _ChunkReader:
    """Yield (start row, canonical chunk, conversion problems) from a CSV or Parquet file."""

    def __init__(self, path: Path, feature_names: Sequence[str], chunksize: int) -> None:
        from songpop.sources import layouts as lay

        self.path = path
        self.origin = str(path)
        self.features = list(feature_names)
        self.chunksize = max(1, int(chunksize))
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        if self.parquet:
            import pyarrow.parquet as pq

            self._pq = pq.ParquetFile(path)
            header = list(self._pq.schema_arrow.names)
            self.row_word = lay.table_row_label
        else:
            header = lay.csv_header(path)
            self.row_word = lay.csv_row_label
        self.header = header
        self.layout = None
        try:
            self.layout = lay.match_layout(header, self.origin, "tracks")
        except LayoutError as exc:
            missing = [f for f in self.features if f not in header]
            if missing:
                raise LayoutError(
                    f"{exc}; nor does it have the plain feature column(s) "
                    f"{', '.join(repr(m) for m in missing)} the model needs"
                ) from exc
        if self.layout is not None:
            absent = [f for f in self.features if self.layout.source_column(f, header) is None]
            if absent:
                raise LayoutError(
                    f"{self.origin}: the {self.layout.name} layout has no "
                    f"{', '.join(repr(a) for a in absent)}, which model needs; use a model of "
                    "the audio feature set"
                )
            self.layout_name = self.layout.name
            self.feature_sources = {
                f: self.layout.source_column(f, header) or f for f in self.features
            }
            self.id_columns = [
                c
                for c in ("track_id", "title", "artist")
                if self.layout.source_column(c, header) is not None
            ]
        else:
            self.layout_name = "plain"
            self.feature_sources = {f: f for f in self.features}
            self.id_columns = [c for c in ID_FIELDS if c in header]
        self.decade = None
        if self.layout is not None and self.layout.name == "hit_predictor":
            from songpop.sources.tracks import decade_from_filename

            self.decade = decade_from_filename(path)
        self.columns = [*self.features, *self.id_columns]  # the canonical columns a batch needs
        self.read_columns = self._read_columns()

    def _read_columns(self) -> set[str]:
        """The file's columns the batch needs (by stripped name): features and ids only."""
        wanted = list(self.columns)
        if self.layout is None:
            return set(wanted)
        if "decade" in wanted:
            wanted.append("year")  # a decade may be derived from the release year
        found = (self.layout.source_column(c, self.header) for c in wanted)
        return {str(c).strip() for c in found if c is not None}

    def _raw_chunks(self) -> Iterator[pd.DataFrame]:
        if self.parquet:
            columns = [c for c in self.header if str(c).strip() in self.read_columns]
            for batch in self._pq.iter_batches(batch_size=self.chunksize, columns=columns):
                yield batch.to_pandas()
            return
        from songpop.sources.layouts import is_gzip

        text_columns = set(self.layout.text_columns) if self.layout else set(ID_FIELDS)
        dtype = {c: "string" for c in self.header if c in text_columns}
        yield from pd.read_csv(
            self.path,
            chunksize=self.chunksize,
            usecols=lambda c: str(c).strip() in self.read_columns,
            dtype=dtype,
            compression="gzip" if is_gzip(self.path) else None,
            keep_default_na=True,
            skipinitialspace=False,
        )

    def __iter__(self) -> Iterator[tuple[int, pd.DataFrame, pd.DataFrame | None]]:
        start = 0
        for raw in self._raw_chunks():
            raw = raw.reset_index(drop=True)
            if self.layout is not None:
                from songpop.sources.tracks import canonicalize_tracks_lenient

                table, problems = canonicalize_tracks_lenient(
                    raw,
                    self.origin,
                    self.layout.name,
                    self.decade,
                    columns=self.columns,
                )
            else:
                table, problems = raw, None
            yield start, table, problems
            start += len(raw)


class _TableWriter:
    """Append DataFrames to a CSV or Parquet file written atomically at the end."""

    def __init__(self, path: Path, empty: pd.DataFrame, keep_if_empty: bool = True) -> None:
        self.path = path
        self.empty = empty
        self.keep_if_empty = keep_if_empty
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self.rows = 0
        self._started = False
        self._writer: Any = None
        self._schema: Any = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _TableWriter:
        from songpop.io import atomic_path

        self._tmp = self._stack.enter_context(atomic_path(self.path))
        return self

    def write(self, df: pd.DataFrame) -> None:
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
        self._started = True
        self.rows += len(df)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if self._writer is not None:
            self._writer.close()
        if exc_type is None and not self._started and not self.keep_if_empty:
            # Nothing to write and nobody asked for the file: leave no file behind.
            self._stack.pop_all()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            return False
        if exc_type is None and not self._started:
            if self.parquet:
                self.empty.to_parquet(self._tmp, index=False)
            else:
                self.empty.to_csv(self._tmp, index=False)
        return self._stack.__exit__(exc_type, exc, tb)


# --- the compiled fast path ---------------------------------------------------------------------


class _Fallback(Exception):
    """The compiled path cannot handle this input; use the estimator itself."""


def fast_model(bundle: Bundle) -> Callable[[np.ndarray], np.ndarray] | None:
    """The bundle's compiled predict_proba (float array → probabilities), or None.

    Compiled once per bundle and checked against `estimator.predict_proba` on reference rows.
    """
    if "fast_model" not in bundle._cache:
        bundle._cache["fast_model"] = _build_fast_model(bundle)
    return bundle._cache["fast_model"]


def _build_fast_model(bundle: Bundle) -> Callable[[np.ndarray], np.ndarray] | None:
    try:
        fast = _compile(bundle.estimator, bundle.feature_names)
    except _Unsupported as exc:
        log.debug("model %s: no fast path (%s)", bundle.model_id, exc)
        return None
    probe = _probe_rows(bundle)
    try:
        expected = np.asarray(bundle.estimator.predict_proba(_frame(probe, bundle.feature_names)))
        got = fast(probe)
    except Exception as exc:  # any surprise: keep the estimator's own path
        log.debug("model %s: fast path failed its check (%s)", bundle.model_id, exc)
        return None
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-7, atol=1e-9):
        log.warning(
            "model %s: compiled path disagrees with the pipeline; not used", bundle.model_id
        )
        return None
    return fast


def _probe_rows(bundle: Bundle, n: int = 64) -> np.ndarray:
    """Rows to check the compiled path on: the reference sample, plus random valid rows."""
    rng = np.random.default_rng(config.SEED)
    rows = []
    for name in bundle.feature_names:
        low, high = config.FEATURE_RANGES.get(name, (0.0, 1.0))
        if isinstance(low, int) and isinstance(high, int):
            rows.append(rng.integers(low, high + 1, n).astype(float))
        else:
            rows.append(rng.uniform(low, high, n))
    X = np.column_stack(rows)
    sample = bundle.reference_sample()
    if sample is not None and all(f in sample.columns for f in bundle.feature_names):
        ref = sample[bundle.feature_names].astype("float64").to_numpy(na_value=np.nan)
        ref = ref[~np.isnan(ref).any(axis=1)]
        X = np.vstack([ref, X])
    return X


class _Unsupported(Exception):
    """A step the compiler does not know."""


def _compile(
    estimator: Any, feature_names: Sequence[str] | None
) -> Callable[[np.ndarray], np.ndarray]:
    steps = list(getattr(estimator, "steps", [("model", estimator)]))
    final = steps[-1][1]
    transforms = []
    names_in = getattr(estimator, "feature_names_in_", None)
    if feature_names is not None and names_in is not None and list(names_in) != list(feature_names):
        if set(names_in) - set(feature_names):
            raise _Unsupported("pipeline input columns differ from the bundle's features")
        order = np.asarray([list(feature_names).index(n) for n in names_in])
        transforms.append(lambda X, o=order: X[:, o])
    for _, step in steps[:-1]:
        if step is None or step == "passthrough" or hasattr(step, "fit_resample"):
            continue  # samplers only act while fitting
        transforms.append(_compile_transform(step))
    proba = _compile_final(final, feature_names if len(transforms) == 0 else None)

    def run(X: np.ndarray) -> np.ndarray:
        for transform in transforms:
            X = transform(X)
        return proba(X)

    return run


def _compile_transform(step: Any) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(step, ColumnTransformer):
        return _compile_column_transformer(step)
    if isinstance(step, Pipeline):
        parts = [_compile_transform(s) for _, s in step.steps if s not in (None, "passthrough")]

        def chain(X: np.ndarray) -> np.ndarray:
            for part in parts:
                X = part(X)
            return X

        return chain
    return _compile_elementwise(step)


def _compile_column_transformer(ct: Any) -> Callable[[np.ndarray], np.ndarray]:
    names_in = list(getattr(ct, "feature_names_in_", []))
    parts = []
    for _name, trans, columns in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        index = _column_index(columns, names_in)
        if len(index) == 0:
            continue
        fn = _compile_elementwise(trans) if not _is_pipeline(trans) else _compile_transform(trans)
        parts.append((index, fn))
    if not parts:
        raise _Unsupported(f"ColumnTransformer {ct!r} outputs nothing")

    def run(X: np.ndarray) -> np.ndarray:
        return np.hstack([fn(X[:, index]) for index, fn in parts])

    return run


def _is_pipeline(obj: Any) -> bool:
    return hasattr(obj, "steps")


def _column_index(columns: Any, names_in: list[str]) -> np.ndarray:
    if isinstance(columns, str):
        columns = [columns]
    elif isinstance(columns, int | np.integer):
        columns = [int(columns)]
    elif isinstance(columns, slice):
        return np.arange(len(names_in))[columns]
    elif callable(columns):
        raise _Unsupported("callable column selector")
    columns = list(columns)
    if columns and all(isinstance(c, bool | np.bool_) for c in columns):
        return np.flatnonzero(columns)
    if all(isinstance(c, int | np.integer) for c in columns):
        return np.asarray(columns, dtype=np.int64)
    try:
        return np.asarray([names_in.index(str(c)) for c in columns], dtype=np.int64)
    except ValueError as exc:
        raise _Unsupported(f"column not found: {exc}") from exc


def _compile_elementwise(step: Any) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        FunctionTransformer,
        MaxAbsScaler,
        MinMaxScaler,
        OneHotEncoder,
        RobustScaler,
        StandardScaler,
    )

    if isinstance(step, str) and step == "passthrough":
        return lambda X: X
    if type(step) is FunctionTransformer and step.func is None:
        return lambda X: X  # how a fitted ColumnTransformer stores "passthrough"
    if type(step) is StandardScaler:
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None
        return lambda X: _affine(X, mean, scale)
    if type(step) is RobustScaler:
        return lambda X: _affine(X, step.center_, step.scale_)
    if type(step) is MaxAbsScaler:
        return lambda X: X / step.scale_
    if type(step) is MinMaxScaler:
        low, high = step.feature_range

        def minmax(X: np.ndarray) -> np.ndarray:
            Z = X * step.scale_ + step.min_
            return np.clip(Z, low, high) if step.clip else Z

        return minmax
    if type(step) is SimpleImputer and not step.add_indicator:
        fill = np.asarray(step.statistics_, dtype=np.float64)
        return lambda X: np.where(np.isnan(X), fill, X)
    if type(step) is OneHotEncoder:
        return _compile_one_hot(step)
    raise _Unsupported(f"step {type(step).__name__}")


def _affine(X: np.ndarray, center: Any, scale: Any) -> np.ndarray:
    if center is not None:
        X = X - center
    if scale is not None:
        X = X / scale
    return X


def _compile_one_hot(enc: Any) -> Callable[[np.ndarray], np.ndarray]:
    if getattr(enc, "drop_idx_", None) is not None or getattr(enc, "_infrequent_enabled", False):
        raise _Unsupported("one-hot encoder with drop or infrequent categories")
    try:
        categories = [np.asarray(c, dtype=np.float64) for c in enc.categories_]
    except (TypeError, ValueError) as exc:
        raise _Unsupported("non-numeric categories") from exc
    strict = enc.handle_unknown == "error"

    def run(X: np.ndarray) -> np.ndarray:
        blocks = []
        for j, cats in enumerate(categories):
            block = (X[:, j, None] == cats[None, :]).astype(np.float64)
            if strict and not block.any(axis=1).all():
                raise _Fallback  # let the encoder raise its own error
            blocks.append(block)
        return np.hstack(blocks)

    return run


def _compile_final(
    final: Any, feature_names: Sequence[str] | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, VotingClassifier

    if type(final).__module__.startswith("lightgbm") and hasattr(final, "booster_"):
        return _compile_lightgbm(final)
    if isinstance(final, RandomForestClassifier | ExtraTreesClassifier):
        forest = _Forest.from_sklearn(final)
        return forest.predict_proba
    if isinstance(final, CalibratedClassifierCV) and all(
        _is_rbf_svc(cc.estimator) for cc in final.calibrated_classifiers_
    ):
        return _compile_calibrated_svc(final)
    if isinstance(final, VotingClassifier) and final.voting == "soft":
        members = [_compile(member, feature_names) for member in final.estimators_]
        weights = final._weights_not_none

        def vote(Z: np.ndarray) -> np.ndarray:
            return np.average([member(Z) for member in members], axis=0, weights=weights)

        return vote
    if not hasattr(final, "predict_proba"):
        raise _Unsupported(f"final step {type(final).__name__} has no predict_proba")
    import sklearn

    def generic(Z: np.ndarray) -> np.ndarray:
        with (
            sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(final.predict_proba(Z), dtype=np.float64)

    return generic


def _compile_lightgbm(final: Any) -> Callable[[np.ndarray], np.ndarray]:
    """LightGBM's booster for a few rows; a compiled tree walk for large batches.

    The compiled walk is checked against the booster on the first rows of the first large batch
    and dropped (with a warning) if it disagrees.
    """
    booster = final.booster_
    iteration = getattr(final, "best_iteration_", None) or None
    binary = final.n_classes_ <= 2
    state: dict[str, Any] = {}

    def by_booster(Z: np.ndarray) -> np.ndarray:
        p = booster.predict(Z, num_iteration=iteration, num_threads=1)
        return np.column_stack([1.0 - p, p]) if binary else p

    def forest() -> _Forest | None:
        if "forest" not in state:
            try:
                state["forest"] = _Forest.from_lightgbm(final, iteration)
            except _Unsupported as exc:
                log.debug("no compiled LightGBM walk (%s)", exc)
                state["forest"] = None
        return state["forest"]

    def run(Z: np.ndarray) -> np.ndarray:
        if len(Z) < _WALK_ROWS or forest() is None:
            return by_booster(Z)
        if "checked" not in state:
            head = Z[:256]
            state["checked"] = np.allclose(
                state["forest"].predict_proba(head), by_booster(head), rtol=1e-7, atol=1e-9
            )
            if not state["checked"]:
                log.warning("compiled LightGBM walk disagrees with the booster; not used")
                state["forest"] = None
                return by_booster(Z)
        return state["forest"].predict_proba(Z)

    return run


@dataclass
class _Forest:
    """Decision trees flattened into arrays, walked by a numba kernel.

    Node n's children are `child[2n]` (x <= threshold) and `child[2n + 1]` (x > threshold);
    a leaf points to itself (threshold +inf), so every row takes exactly `depth[t]` steps in tree
    t with no branch to mispredict, and a block of rows is walked through one tree at a time
    while that tree sits in the cache. A leaf adds its value to class `tree_class[t]` (LightGBM:
    one tree per class and iteration) or, when that is -1, its row of `value` to every class (a
    random forest's leaf probabilities). `link` turns the sums into probabilities: "softmax"
    (LightGBM multiclass), "sigmoid" (LightGBM binary) or "mean" (random forest).
    """

    feature: np.ndarray
    threshold: np.ndarray
    child: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: np.ndarray
    tree_class: np.ndarray
    n_out: int
    link: str
    scale: float = 1.0
    float32_inputs: bool = False

    @classmethod
    def _stack(
        cls,
        trees: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        tree_class: Sequence[int],
        n_out: int,
        link: str,
        **kw: Any,
    ) -> _Forest:
        """Join per-tree (feature, threshold, left, right, value) arrays; -1 children = leaf."""
        features, thresholds, children, values, roots, depths = [], [], [], [], [], []
        offset = 0
        for feature, threshold, left, right, value in trees:
            n = len(feature)
            leaf = left < 0
            own = np.arange(n)
            lo = np.where(leaf, own, left) + offset
            hi = np.where(leaf, own, right) + offset
            children.append(np.column_stack([lo, hi]).ravel())
            features.append(np.where(leaf, 0, feature))
            thresholds.append(np.where(leaf, np.inf, threshold))
            values.append(value.reshape(n, -1))
            roots.append(offset)
            depths.append(_tree_depth(left, right))
            offset += n
        return cls(
            feature=np.concatenate(features).astype(np.uint32),
            threshold=np.concatenate(thresholds).astype(np.float64),
            child=np.concatenate(children).astype(np.uint32),
            value=np.ascontiguousarray(np.concatenate(values), dtype=np.float64),
            roots=np.asarray(roots, dtype=np.uint32),
            depth=np.asarray(depths, dtype=np.int64),
            tree_class=np.asarray(tree_class, dtype=np.int64),
            n_out=n_out,
            link=link,
            **kw,
        )

    @classmethod
    def from_sklearn(cls, forest: Any) -> _Forest:
        """A fitted RandomForestClassifier / ExtraTreesClassifier (single output)."""
        if getattr(forest, "n_outputs_", 1) != 1:
            raise _Unsupported("multi-output forest")
        trees = []
        for tree in forest.estimators_:
            t = tree.tree_
            value = t.value[:, 0, :].astype(np.float64)
            total = value.sum(axis=1, keepdims=True)
            value = value / np.where(total > 0, total, 1.0)
            trees.append((t.feature, t.threshold, t.children_left, t.children_right, value))
        k = len(forest.classes_)
        # scikit-learn compares float32 inputs with its thresholds
        return cls._stack(
            trees, [-1] * len(trees), k, "mean", scale=1.0 / len(trees), float32_inputs=True
        )

    @classmethod
    def from_lightgbm(cls, model: Any, iteration: int | None) -> _Forest:
        """A fitted LGBMClassifier whose splits are all numeric `<=`."""
        dump = model.booster_.dump_model(num_iteration=iteration)
        per_iter = int(dump["num_tree_per_iteration"])
        objective = str(dump.get("objective", ""))
        if objective.startswith("multiclass") and per_iter > 1 and "ova" not in objective:
            link, scale = "softmax", 1.0
        elif objective.startswith("binary") and per_iter == 1:
            link = "sigmoid"
            scale = 1.0
            if "sigmoid:" in objective:
                scale = float(objective.split("sigmoid:")[1].split()[0])
        else:
            raise _Unsupported(f"objective {objective!r}")
        trees = [_lightgbm_tree(info["tree_structure"]) for info in dump["tree_info"]]
        classes = [i % per_iter for i in range(len(trees))]
        return cls._stack(trees, classes, per_iter, link, scale=scale)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities of the rows of X (float64, transformed features)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if self.float32_inputs:
            X = X.astype(np.float32).astype(np.float64)
        serial, parallel = _forest_kernels()
        kernel = serial if len(X) < 2_000 else parallel
        raw = kernel(
            X,
            self.feature,
            self.threshold,
            self.child,
            self.value,
            self.roots,
            self.depth,
            self.tree_class,
            self.n_out,
        )
        if self.link == "mean":
            return raw * self.scale
        if self.link == "sigmoid":
            p = 1.0 / (1.0 + np.exp(-self.scale * raw[:, 0]))
            return np.column_stack([1.0 - p, p])
        raw -= raw.max(axis=1, keepdims=True)
        np.exp(raw, out=raw)
        raw /= raw.sum(axis=1, keepdims=True)
        return raw


def _tree_depth(left: np.ndarray, right: np.ndarray) -> int:
    depth = np.zeros(len(left), dtype=np.int64)
    for node in range(len(left)):  # children come after their parent in both layouts
        for c in (left[node], right[node]):
            if c >= 0:
                depth[c] = depth[node] + 1
    return int(depth.max())


def _lightgbm_tree(root: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    """One dumped LightGBM tree as node arrays in pre-order (children after their parent)."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []

    def visit(node: Mapping[str, Any]) -> int:
        index = len(feature)
        feature.append(0)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        value.append(0.0)
        if "split_feature" not in node:
            value[index] = float(node["leaf_value"])
            return index
        if node.get("decision_type") != "<=" or node.get("missing_type", "None") not in (
            "None",
            "NaN",
        ):
            raise _Unsupported(f"split {node.get('decision_type')} / {node.get('missing_type')}")
        feature[index] = int(node["split_feature"])
        threshold[index] = float(node["threshold"])
        left[index] = visit(node["left_child"])
        right[index] = visit(node["right_child"])
        return index

    visit(root)
    return (
        np.asarray(feature),
        np.asarray(threshold),
        np.asarray(left),
        np.asarray(right),
        np.asarray(value),
    )


_KERNELS: list[Callable[..., np.ndarray]] = []
_BLOCK = 256  # rows walked through one tree at a time
prange = range  # numba.prange once the kernels are compiled (numba is imported only then)


def _walk(X, feature, threshold, child, value, roots, depth, tree_class, n_out):  # pragma: no cover
    # Blocks of rows go through one tree at a time, all rows of the block one level at a time:
    # the rows' walks are independent, so the processor overlaps them. Unsigned indices spare
    # numba its negative-index checks.
    n = X.shape[0]
    out = np.zeros((n, n_out))
    XT = np.ascontiguousarray(X.T)
    two = np.uint32(2)
    for block in prange((n + _BLOCK - 1) // _BLOCK):
        lo = block * _BLOCK
        m = min(n, lo + _BLOCK) - lo
        xb = XT[:, lo : lo + m].copy()
        nodes = np.empty(_BLOCK, np.uint32)
        for t in range(roots.shape[0]):
            root, steps, k = roots[t], depth[t], tree_class[t]
            for i in range(m):
                nodes[i] = root
            for _ in range(steps):
                for i in range(m):
                    node = nodes[i]
                    nodes[i] = child[two * node + np.uint32(xb[feature[node], i] > threshold[node])]
            if k >= 0:
                for i in range(m):
                    out[lo + i, k] += value[nodes[i], 0]
            else:
                for i in range(m):
                    for j in range(n_out):
                        out[lo + i, j] += value[nodes[i], j]
    return out


def _forest_kernels() -> list[Callable[..., np.ndarray]]:
    """(serial, parallel) numba kernels summing the leaf values each row reaches; built once.

    Compiled on first use and cached on disk by numba, so later processes load them quickly.
    """
    global prange
    if not _KERNELS:
        import numba

        options = {"cache": True, "nogil": True, "error_model": "numpy"}
        serial = numba.njit(**options)(_walk)
        prange = numba.prange
        parallel = numba.njit(parallel=True, **options)(_walk)
        _KERNELS.extend([serial, parallel])
    return _KERNELS


def _is_rbf_svc(model: Any) -> bool:
    from sklearn.svm import SVC

    return (
        type(model) is SVC
        and model.kernel == "rbf"
        and not model.break_ties
        and not hasattr(model.support_vectors_, "toarray")
    )


class _FastSVC:
    """An RBF SVC's decision function with the kernel computed by matrix products (BLAS).

    libsvm evaluates the kernel one pair of vectors at a time; here a block of rows meets every
    support vector in one product. Follows scikit-learn's conventions: one-vs-one values from
    the private `_dual_coef_` / `_intercept_`, the sign flip of the binary case, and the
    one-vs-rest shape through scikit-learn's own `_ovr_decision_function`.
    """

    _estimator_type = "classifier"

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.classes_ = svc.classes_
        self.sv = np.ascontiguousarray(svc.support_vectors_, dtype=np.float64)
        self.sv_sq = (self.sv**2).sum(axis=1)
        self.gamma = float(svc._gamma)
        self.dual = np.asarray(svc._dual_coef_, dtype=np.float64)
        self.intercept = np.asarray(svc._intercept_, dtype=np.float64)
        starts = np.concatenate([[0], np.cumsum(svc.n_support_)])
        k = len(svc.classes_)
        self.pairs = [
            (slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1]), i, j)
            for i in range(k)
            for j in range(i + 1, k)
        ]

    def __sklearn_tags__(self) -> Any:
        return self.svc.__sklearn_tags__()

    def decision_function(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.utils.multiclass import _ovr_decision_function

        Z = np.asarray(Z, dtype=np.float64)
        k = len(self.classes_)
        dec = np.empty((len(Z), len(self.pairs)))
        step = 1024
        for lo in range(0, len(Z), step):
            z = Z[lo : lo + step]
            d2 = (z**2).sum(axis=1)[:, None] + self.sv_sq[None, :] - 2.0 * (z @ self.sv.T)
            np.maximum(d2, 0.0, out=d2)
            d2 *= -self.gamma
            kernel = np.exp(d2, out=d2)
            for p, (si, sj, i, j) in enumerate(self.pairs):
                dec[lo : lo + step, p] = (
                    kernel[:, si] @ self.dual[j - 1, si]
                    + kernel[:, sj] @ self.dual[i, sj]
                    + self.intercept[p]
                )
        if k == 2:
            return -dec.ravel()
        if self.svc.decision_function_shape == "ovr":
            return _ovr_decision_function(dec < 0, -dec, k)
        return dec


def _compile_calibrated_svc(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """CalibratedClassifierCV over RBF SVCs: scikit-learn's calibration on a fast SVC."""
    import copy

    parts = []
    for cc in model.calibrated_classifiers_:
        fast = copy.copy(cc)
        fast.estimator = _FastSVC(cc.estimator)
        parts.append(fast)

    def run(Z: np.ndarray) -> np.ndarray:
        return np.mean([part.predict_proba(Z) for part in parts], axis=0)

    return run

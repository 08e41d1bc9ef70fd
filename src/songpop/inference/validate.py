"""Validation of songs against the vocabulary: one vectorised check for records and tables.

`check_column(name, values)` is the one place a feature's values are judged (range, whole
numbers, finiteness). `validate_frame` applies it to the columns of a table; `validate_records`
first sorts out what only records can get wrong (a missing key, a null, a string or a boolean
where a number belongs, an unknown field), then runs the same check on what is left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from songpop import vocabulary
from songpop.errors import LayoutError
from songpop.inference.results import Problem

ID_FIELDS: tuple[str, ...] = ("id", "song_id", "track_id", "title", "artist")
"""Fields a record may carry to identify itself; echoed back, never used as features."""

PROBLEM_COLUMNS: tuple[str, ...] = ("row", "field", "value", "expected", "reason")
WHOLE_ROW = "(row)"
"""The `field` of a problem with a whole record (e.g. a CSV line with the wrong field count)."""


def describe_feature(name: str) -> str:
    """What a valid value of `name` is, in words: "a number from 0 to 1", "an integer ..."."""
    return vocabulary.expected(name)


def check_column(name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Judge the known (non-NaN) values of one feature.

    Args:
        name: the feature.
        values: float64 values; NaN marks a value judged elsewhere (missing or not a number).

    Returns:
        (out: values outside the range, or infinite for an unknown name; fraction: values
        that should be whole numbers and are not; the word for `out`).
    """
    out, frac = vocabulary.check_values(name, values)
    word = "out of range" if name in vocabulary.FEATURES else "not a finite number"
    return out, frac, word


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
        values = as_float(column)
        X[:, j] = values
        absent = column.isna().to_numpy()
        bad_type = np.isnan(values) & ~absent
        out, frac, out_word = check_column(name, values)
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
    problems = (
        pd.concat(found, ignore_index=True).sort_values("row", kind="stable")
        if found
        else pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    )
    return X, ok, problems.reset_index(drop=True)


def as_float(column: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for missing or non-numeric values (booleans are not numbers)."""
    if pd.api.types.is_bool_dtype(column):
        return np.full(len(column), np.nan)
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64").to_numpy(na_value=np.nan)
    return pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def validate_records(
    items: Sequence[Any], feature_names: Sequence[str]
) -> tuple[np.ndarray, list[Problem], list[list[str]]]:
    """Check records (mappings of field → value) and return their feature matrix.

    Args:
        items: the records.
        feature_names: the model's features, in order.

    Returns:
        (X: float64 rows × features, NaN where a value is bad; every problem found, in record
        order; per record, the known features it gave that the model does not use).
    """
    features = list(feature_names)
    needed = set(features)
    allowed = ", ".join(features)
    X = np.full((len(items), len(features)), np.nan)
    problems: list[Problem] = []
    ignored_per: list[list[str]] = []
    # Per record, values that cannot even be numbers; then one vectorised check per feature.
    extra: list[tuple[int, str, float]] = []  # (record, ignored feature, value) checked too
    for i, record in enumerate(items):
        if not isinstance(record, Mapping):
            msg = f"expected an object of feature values, got {type(record).__name__}"
            problems.append(Problem(i, None, None, "an object", msg))
            ignored_per.append([])
            continue
        for key in record:
            if key not in needed and key not in vocabulary.FEATURES and key not in ID_FIELDS:
                problems.append(
                    Problem(
                        i,
                        str(key),
                        record[key],
                        f"one of {allowed}",
                        f"unknown field {key!r}; the model's features are {allowed}",
                    )
                )
        ignored = [k for k in record if k not in needed and k in vocabulary.FEATURES]
        ignored_per.append(ignored)
        for name in features + ignored:
            number, problem = _as_number(name, record, i)
            if problem is not None:
                problems.append(problem)
            elif name in needed:
                X[i, features.index(name)] = number
            else:
                extra.append((i, name, number))
    for j, name in enumerate(features):
        problems += _range_problems(name, np.arange(len(items)), X[:, j])
    for name in dict.fromkeys(n for _, n, _ in extra):
        rows = [(i, v) for i, n, v in extra if n == name]
        index = np.asarray([i for i, _ in rows])
        problems += _range_problems(name, index, np.asarray([v for _, v in rows]))
    problems.sort(key=lambda p: p.record)
    return X, problems, ignored_per


def _as_number(name: str, record: Mapping[str, Any], index: int) -> tuple[float, Problem | None]:
    """A record's value as a float, or the problem that keeps it from being a number."""
    expected = describe_feature(name)
    if name not in record:
        return math.nan, Problem(
            index, name, None, expected, f"{name}: missing; expected {expected}"
        )
    value = record[name]
    if value is None:
        return math.nan, Problem(
            index, name, None, expected, f"{name}: missing (null); expected {expected}"
        )
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        got = f"{type(value).__name__} {value!r}"
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
    return number, None


def _range_problems(name: str, records: np.ndarray, values: np.ndarray) -> list[Problem]:
    out, frac, _ = check_column(name, values)
    expected = describe_feature(name)
    problems = []
    for k in np.flatnonzero(out | frac):
        value = _plain(values[k])
        word = "is out of range" if out[k] else "is not a whole number"
        problems.append(
            Problem(
                int(records[k]),
                name,
                value,
                expected,
                f"{name}: {value!r} {word}; expected {expected}",
            )
        )
    return problems


def _plain(value: float) -> float | int:
    """A checked value as the user most likely typed it (3, not 3.0)."""
    return int(value) if float(value).is_integer() else float(value)

"""The one prediction path: a table of songs becomes levels and probabilities here.

- `score_frame(frame, bundle)`: the core. Validates every row against the vocabulary, scores
  the good ones, returns them with the bad ones and their reasons. The batch path (one process
  or a Dask partition) calls it on each part of a file.
- `predict(records, bundle)`: one record (a dict), a list of them, or a DataFrame; each is
  validated, and any invalid record stops the call with every problem named.
- `predict_frame(df, bundle)`: a table of rows that must all be valid.

Every interface (the CLI, the HTTP API, the web page, batch files) goes through these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from songpop.errors import InputError
from songpop.inference.context import confidence_note, similar_songs, unusual
from songpop.inference.explain import explain_rows, explain_table
from songpop.inference.history import fill_history, fill_history_frame
from songpop.inference.results import MAX_LISTED_PROBLEMS, Prediction, Problem, RecordError
from songpop.inference.scoring import predict_proba
from songpop.inference.validate import ID_FIELDS, WHOLE_ROW, validate_frame, validate_records
from songpop.prepare.label import class_words

if TYPE_CHECKING:
    from songpop.bundle import Bundle

REJECT_COLUMNS: tuple[str, ...] = ("field", "value", "expected", "reason")


def score_frame(
    frame: pd.DataFrame,
    bundle: Bundle,
    *,
    keep: Sequence[str] | None = None,
    known_problems: pd.DataFrame | None = None,
    explain: bool = False,
    top: int = 3,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the valid rows of a table and report the invalid ones.

    Args:
        frame: rows with (at least) the model's feature columns; any others are ignored.
        bundle: the loaded model bundle.
        keep: columns of `frame` copied to both outputs (default: the identifying columns
            present, `ID_FIELDS`, and `row`).
        known_problems: problems found before (e.g. a value a reader could not convert), with
            columns row (0-based position in `frame`), field, value, expected, reason; they
            replace the check's own reason for the same row and field.
        explain: add `why` (the `top` strongest contributions in plain words) and one
            `contribution_<feature>` column per feature to the scored rows.
        top: how many contributions `why` names.

    Returns:
        (scored: the kept columns, `level` and one `proba_<class>` column per class, for the
        valid rows in order; rejects: the kept columns of each invalid row, then field, value,
        expected and reason, each joined with "; " when a row has several problems, plus
        `position`, the row's 0-based position in `frame`).

    Raises:
        LayoutError: a feature column is absent from the table altogether.
    """
    frame = fill_history_frame(frame, bundle)  # a model that reads the artist's record
    X, ok, problems = validate_frame(frame, bundle.feature_names)
    problems = merge_problems(known_problems, problems, bundle.feature_names)
    if len(problems):
        ok[problems["row"].to_numpy(dtype=np.int64)] = False
    if keep is None:
        keep = [c for c in ("row", *ID_FIELDS) if c in frame.columns]
    ids = frame[list(keep)].reset_index(drop=True)
    scored = scored_rows(ids[ok].reset_index(drop=True), X[ok], bundle, explain=explain, top=top)
    return scored, rejected_rows(problems, ids)


def scored_rows(
    ids: pd.DataFrame, X: np.ndarray, bundle: Bundle, *, explain: bool = False, top: int = 3
) -> pd.DataFrame:
    """`ids` with `level` and `proba_<class>` columns for the valid rows `X` (and the why)."""
    proba = predict_proba(bundle, X)
    classes = np.asarray(bundle.classes, dtype=object)
    out = ids.copy()
    out["level"] = pd.array(classes[proba.argmax(axis=1)] if len(X) else [], dtype="string")
    column = {str(name): k for k, name in enumerate(bundle.classes)}
    for name in bundle.levels:  # low, medium, high: the natural order, not the model's
        out[f"proba_{name}"] = proba[:, column[name]]
    if explain:
        why, _ = explain_table(bundle, X, list(out["level"]), top=top)
        out = pd.concat([out, why], axis=1)
    return out


def rejected_rows(problems: pd.DataFrame, ids: pd.DataFrame) -> pd.DataFrame:
    """One line per rejected row: its ids, then its problems joined with "; "."""
    if problems.empty:
        empty = ids.iloc[:0].copy()
        for column in REJECT_COLUMNS:
            empty[column] = pd.Series(dtype="string")
        empty["position"] = pd.Series(dtype="int64")
        return empty
    grouped = problems.groupby("row", sort=True)
    rows = np.asarray(list(grouped.groups.keys()), dtype=np.int64)
    joined = grouped.agg(
        field=("field", lambda s: "; ".join(map(str, s))),
        value=("value", lambda s: "; ".join(map(repr, s))),
        expected=("expected", lambda s: "; ".join(map(str, s))),
        reason=("reason", lambda s: "; ".join(map(str, s))),
    ).reset_index(drop=True)
    out = ids.iloc[rows].reset_index(drop=True)
    for column in REJECT_COLUMNS:
        out[column] = joined[column].astype("string")
    out["position"] = rows
    return out


def merge_problems(
    known: pd.DataFrame | None, checks: pd.DataFrame, feature_names: Sequence[str]
) -> pd.DataFrame:
    """A table's problems: a known problem (a failed conversion) explains a value better, and a
    problem with the whole record (`WHOLE_ROW`) replaces every check of that row."""
    if known is None or known.empty:
        return checks
    known = known[known["field"].isin([*feature_names, WHOLE_ROW])]
    if known.empty:
        return checks
    key = set(zip(known["row"], known["field"], strict=True))
    whole = set(known.loc[known["field"] == WHOLE_ROW, "row"])
    keep = [
        (r, f) not in key and r not in whole
        for r, f in zip(checks["row"], checks["field"], strict=True)
    ]
    merged = pd.concat([known, checks[keep]], ignore_index=True)
    return merged.sort_values(["row", "field"], kind="stable").reset_index(drop=True)


def predict(
    records: Mapping[str, Any] | Sequence[Mapping[str, Any]] | pd.DataFrame,
    bundle: Bundle,
    *,
    explain: bool = False,
    similar: int = 0,
) -> list[Prediction]:
    """Predict the level of each record, with what a reader needs to weigh it.

    Every prediction carries its level in plain words, how often the model was right on
    held-out songs when it was as sure, and warnings when the song is unlike every training
    song (`songpop.inference.context`).

    Args:
        records: one record (a dict of feature → value, optionally with id/title/artist), a list
            of them, or a DataFrame with one row per record.
        bundle: the loaded model bundle.
        explain: also say which features pushed each prediction up or down.
        similar: also give this many of the nearest training songs and their chart history.

    Returns:
        One Prediction per record, in order.

    Raises:
        RecordError: a record is invalid (every problem is listed, naming the field and the
            allowed range); nothing is predicted then.
    """
    single = isinstance(records, Mapping)
    if isinstance(records, pd.DataFrame):
        items: list[Any] = [
            {k: _unbox(v) for k, v in r.items()} for r in records.to_dict("records")
        ]
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
    items = fill_history(items, bundle)
    X, problems, ignored_per = validate_records(items, bundle.feature_names)
    if problems:
        raise RecordError(problems, single=single)
    proba = predict_proba(bundle, X)
    classes = bundle.classes
    column = {str(name): k for k, name in enumerate(classes)}
    top = proba.argmax(axis=1)
    explanations: list[Any] = [None] * len(items)
    if explain:
        years = [_year_of(item) for item in items]
        explanations = explain_rows(bundle, X, [classes[k] for k in top], years)
    neighbours = similar_songs(bundle, X, similar)
    warnings = unusual(bundle, X)
    return [
        Prediction(
            level=classes[top[i]],
            probabilities={c: float(proba[i, column[c]]) for c in bundle.levels},
            model_id=bundle.model_id,
            explanation=explanations[i],
            ids={k: item[k] for k in ID_FIELDS if k in item},
            ignored_fields=ignored_per[i],
            words=class_words(classes[top[i]]),
            confidence=confidence_note(bundle, float(proba[i, top[i]])),
            warnings=warnings[i],
            similar=neighbours[i],
        )
        for i, item in enumerate(items)
    ]


def _year_of(item: Any) -> float | None:
    """A record's release year (or the middle of its decade), for explanations in its era."""
    if not isinstance(item, Mapping):
        return None
    for key, shift in (("year", 0), ("decade", 5)):
        value = item.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value) + shift
    return None


def _unbox(value: Any) -> Any:
    if value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def predict_frame(
    df: pd.DataFrame, bundle: Bundle, *, keep: Sequence[str] | None = None
) -> pd.DataFrame:
    """Score a table whose rows must all be valid.

    Args:
        df: a table with the model's feature columns (any others are ignored).
        bundle: the loaded model bundle.
        keep: columns of `df` to copy to the output; default: the identifying columns present
            (`ID_FIELDS`, plus `row`).

    Returns:
        The kept columns, then `level` and one `proba_<class>` column per class, one row per
        input row in the same order.

    Raises:
        RecordError: some rows are invalid (use `score_frame` to score the good rows and
            report the bad ones).
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
            for r in problems.head(MAX_LISTED_PROBLEMS).itertuples()
        ]
        raise RecordError(listed, single=True, total=len(problems))
    keep = list(keep) if keep is not None else [c for c in ("row", *ID_FIELDS) if c in df.columns]
    return scored_rows(df[keep].reset_index(drop=True), X, bundle)

"""The model-ready matrix: feature sets, the leakage guard, the split, per-family preprocessing.

Two feature sets are always reported apart:

* ``audio``: the report's inputs, `config.AUDIO_FEATURES` (ten numbers plus `key`, which the
  preprocessing one-hot encodes: 22 model inputs);
* ``audio+context``: the same plus the release year (or the decade where the source has no
  year), mode, time signature and explicit, each only where the table actually holds it;
* ``year``: the release year (or decade) alone: the baseline every other set must beat, since
  popularity drifts with the era (a model that knows only *when* a song came out);
* ``history``: audio + context + the artist's Hot 100 record before the release year
  (`config.HISTORY_FEATURES`; the chart-chance task's tables hold it).

Chart-derived columns (`config.CHART_COLUMNS`) and label inputs (`config.LABEL_COLUMNS`) never
become features: `check_features` refuses them wherever a feature list is built.

Preprocessing lives inside the estimator's pipeline, so it is fitted on training folds only:
numbers are imputed (median) and scaled for the distance, kernel, linear and neural families and
left unscaled for trees; the vocabulary's categories (`key`, `mode`, `time_signature`,
`explicit`) are one-hot encoded. Where
resampling is used it is SMOTENC (not SMOTE: `key` is categorical) in an imbalanced-learn
pipeline, so synthetic rows are only ever made from training rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTENC
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from songpop import config, vocabulary
from songpop.errors import LayoutError, SchemaError, SongpopError

log = logging.getLogger(__name__)

FEATURE_SETS: tuple[str, ...] = ("audio", "audio+context", "measured", "year", "history")
FEATURE_SET_LABELS: dict[str, str] = config.FEATURE_SET_LABELS
LABEL_COLUMN = config.LABEL_COLUMN

# Context columns tried for "audio+context", in this order. The time column is the year where
# the table has it, else the decade (the Hit Predictor only knows the decade).
TIME_COLUMNS: tuple[str, ...] = ("year", "decade")
OTHER_CONTEXT: tuple[str, ...] = tuple(c for c in config.CONTEXT_FEATURES if c not in TIME_COLUMNS)
CONTEXT_MIN_COVERAGE = 0.9
"""A context column joins the features only when at least this share of rows holds a value."""

CATEGORICAL_FEATURES: tuple[str, ...] = vocabulary.CATEGORICAL_FEATURES
"""Integer codes without an order (key, mode, time signature, explicit): one-hot encoded."""

# Which model families see scaled numbers. Trees split on thresholds and need no scaling.
SCALED_FAMILIES: frozenset[str] = frozenset({"linear", "distance", "kernel", "neural"})
UNSCALED_FAMILIES: frozenset[str] = frozenset({"tree", "boosting", "dummy", "ensemble"})
FAMILIES: frozenset[str] = SCALED_FAMILIES | UNSCALED_FAMILIES

FORBIDDEN_FEATURES: frozenset[str] = frozenset(config.CHART_COLUMNS + config.LABEL_COLUMNS)


class LeakageError(SongpopError):
    """A chart-derived or label column was about to become a model feature."""


def check_features(feature_names: Sequence[str]) -> list[str]:
    """Refuse any chart-derived or label column in a feature list.

    Args:
        feature_names: the proposed model inputs.

    Returns:
        The names as a list, unchanged.

    Raises:
        LeakageError: naming the offending columns.
    """
    names = [str(n) for n in feature_names]
    leaked = [n for n in names if n in FORBIDDEN_FEATURES]
    if leaked:
        raise LeakageError(
            f"feature list contains chart-derived or label column(s) {leaked}; these define "
            "the label and must never be model inputs (config.CHART_COLUMNS, LABEL_COLUMNS)"
        )
    return names


def context_columns(songs: pd.DataFrame) -> list[str]:
    """The context columns this table holds for at least `CONTEXT_MIN_COVERAGE` of its rows.

    Args:
        songs: a song table.

    Returns:
        At most one time column (year, else decade) followed by mode, time_signature and
        explicit, each only where present and filled.
    """
    n = max(len(songs), 1)

    def covered(col: str) -> bool:
        return col in songs.columns and songs[col].notna().sum() / n >= CONTEXT_MIN_COVERAGE

    chosen = [c for c in TIME_COLUMNS if covered(c)][:1]
    chosen += [c for c in OTHER_CONTEXT if covered(c)]
    return chosen


def history_columns(songs: pd.DataFrame) -> list[str]:
    """The artist-history columns this table holds for at least `CONTEXT_MIN_COVERAGE` of its
    rows (all of them, or none)."""
    n = max(len(songs), 1)
    held = [
        c
        for c in config.HISTORY_FEATURES
        if c in songs.columns and songs[c].notna().sum() / n >= CONTEXT_MIN_COVERAGE
    ]
    return held if len(held) == len(config.HISTORY_FEATURES) else []


def feature_columns(songs: pd.DataFrame, feature_set: str) -> list[str]:
    """The input columns of a feature set on this table, in model order.

    Args:
        songs: a song table (songs.parquet or a test table).
        feature_set: one of `FEATURE_SETS`.

    Returns:
        Audio features, then the context columns the table holds (for "audio+context"); an
        "audio+context" set without any context column present returns just the audio columns,
        which the caller should treat as "not available here". For "measured": the measured
        audio features, the measured context columns the table holds (mode, time signature)
        and its time column (year, else decade).

    Raises:
        SchemaError: unknown feature set.
        LayoutError: an audio feature column is missing, naming it.
    """
    if feature_set not in FEATURE_SETS:
        raise SchemaError(f"feature set {feature_set!r}: expected one of {FEATURE_SETS}")
    if feature_set == "year":  # empty when the table holds neither a year nor a decade
        return check_features([c for c in context_columns(songs) if c in TIME_COLUMNS])
    missing = [c for c in config.AUDIO_FEATURES if c not in songs.columns]
    if missing:
        raise LayoutError(
            f"song table lacks audio feature column(s) {missing}; expected all of "
            f"{list(config.AUDIO_FEATURES)}"
        )
    names = list(config.AUDIO_FEATURES)
    if feature_set in ("audio+context", "history"):
        names += context_columns(songs)
    if feature_set == "history":
        names += history_columns(songs)
    if feature_set == "measured":
        measured = vocabulary.MEASURED_FEATURES
        names = [n for n in names if n in measured]
        context = context_columns(songs)
        names += [c for c in context if c in measured or c in TIME_COLUMNS]
    return check_features(names)


def feature_matrix(songs: pd.DataFrame, feature_names: Sequence[str]) -> pd.DataFrame:
    """The numeric feature table: float64 columns (NaN for missing), in `feature_names` order.

    Nullable pandas integers (`Int64`) become float64 with NaN, which every scikit-learn step
    accepts; the categorical codes keep their integer values.

    Args:
        songs: the table.
        feature_names: columns to take (checked against the leakage guard).

    Returns:
        A new DataFrame with the same index as `songs`.

    Raises:
        LeakageError: a forbidden column was asked for.
        SchemaError: a column is not numeric, naming it and an example value.
    """
    names = check_features(feature_names)
    out = {}
    for col in names:
        values = pd.to_numeric(songs[col], errors="coerce")
        bad = values.isna() & songs[col].notna()
        if bad.any():
            row = bad.idxmax()
            raise SchemaError(
                f"column {col!r} must be numeric; row {row} holds {songs.at[row, col]!r}"
            )
        out[col] = values.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(out, index=songs.index)


def labels(songs: pd.DataFrame, column: str = LABEL_COLUMN) -> pd.Series:
    """The label column as plain Python strings (pandas' string dtype never reaches sklearn).

    Raises:
        LayoutError: the table has no such column.
        SchemaError: the column holds missing labels or fewer than two classes.
    """
    if column not in songs.columns:
        raise LayoutError(
            f"song table has no {column!r} column (the label); build it with "
            "`songpop data build` or add a column of class names"
        )
    values = songs[column]
    if values.isna().any():
        row = values.isna().idxmax()
        raise SchemaError(f"column {column!r} is empty at row {row}; every song needs a label")
    y = pd.Series(
        values.astype(str).to_numpy(dtype=object), index=songs.index, name=column, dtype=object
    )
    if y.nunique() < 2:
        raise SchemaError(f"column {column!r} holds a single class {y.iloc[0]!r}; need two or more")
    return y


def categorical_positions(feature_names: Sequence[str]) -> list[int]:
    """Positions of the one-hot encoded columns within `feature_names`."""
    return [i for i, n in enumerate(feature_names) if n in CATEGORICAL_FEATURES]


def make_preprocessor(
    family: str, feature_names: Sequence[str], *, scaler: str = "standard"
) -> ColumnTransformer:
    """The preprocessing for one model family, to be the first step of its pipeline.

    Numbers: median imputation, then `StandardScaler` (or `MinMaxScaler`, as the report used for
    KNN and SVC) for the scaled families, nothing more for trees. Categorical codes: most
    frequent imputation, then one-hot encoding (unknown codes at predict time are ignored).
    Columns are selected by position, so the step works on arrays and DataFrames alike.

    Args:
        family: a model family (see `FAMILIES`).
        feature_names: the input columns in order.
        scaler: "standard" or "minmax" (scaled families only).

    Returns:
        An unfitted ColumnTransformer whose output is dense.

    Raises:
        SchemaError: unknown family or scaler.
        LeakageError: a forbidden column in `feature_names`.
    """
    names = check_features(feature_names)
    if family not in FAMILIES:
        raise SchemaError(f"model family {family!r}: expected one of {sorted(FAMILIES)}")
    if scaler not in ("standard", "minmax"):
        raise SchemaError(f"scaler {scaler!r}: expected 'standard' or 'minmax'")
    cat = categorical_positions(names)
    num = [i for i in range(len(names)) if i not in cat]
    num_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if family in SCALED_FAMILIES:
        num_steps.append(("scale", StandardScaler() if scaler == "standard" else MinMaxScaler()))
    cat_steps = [
        ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]
    return ColumnTransformer(
        [("num", Pipeline(num_steps), num), ("cat", Pipeline(cat_steps), cat)],
        remainder="drop",
        sparse_threshold=0.0,
    )


def make_model_pipeline(
    family: str,
    feature_names: Sequence[str],
    model: Any,
    *,
    resample: bool = False,
    scaler: str = "standard",
    seed: int = config.SEED,
) -> ImbPipeline:
    """Preprocessing (and optional SMOTENC) followed by `model`, as one imbalanced-learn pipeline.

    With `resample=True` the steps are: impute (numbers first, then categorical codes) →
    SMOTENC (categorical codes kept as categories) → scale / one-hot → model. The resampler is a
    sampler step, so imbalanced-learn applies it in `fit` only: predictions and every test fold
    go straight through, and synthetic rows are made from training rows alone.

    Args:
        family: the model family.
        feature_names: the input columns in order.
        model: an unfitted estimator.
        resample: oversample minority classes with SMOTENC inside the pipeline.
        scaler: "standard" or "minmax".
        seed: random seed of the resampler.

    Returns:
        An unfitted pipeline with steps named "prep" (and "impute", "resample") and "model".
    """
    names = check_features(feature_names)
    if not resample:
        return ImbPipeline(
            [("prep", make_preprocessor(family, names, scaler=scaler)), ("model", model)]
        )
    cat = categorical_positions(names)
    num = [i for i in range(len(names)) if i not in cat]
    impute = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median", keep_empty_features=True), num),
            ("cat", SimpleImputer(strategy="most_frequent", keep_empty_features=True), cat),
        ],
        sparse_threshold=0.0,
    )
    reordered = [names[i] for i in num] + [names[i] for i in cat]
    steps: list[tuple[str, Any]] = [("impute", impute)]
    cat_after = categorical_positions(reordered)
    if cat_after:
        steps.append(("resample", SMOTENC(categorical_features=cat_after, random_state=seed)))
    else:  # SMOTENC needs a categorical column; without one plain SMOTE is the same method
        from imblearn.over_sampling import SMOTE

        steps.append(("resample", SMOTE(random_state=seed)))
    steps += [("prep", make_preprocessor(family, reordered, scaler=scaler)), ("model", model)]
    return ImbPipeline(steps)


# --- splits -------------------------------------------------------------------------------------


def stratified_split(
    y: pd.Series, *, test_size: float = 0.2, seed: int = config.SEED
) -> tuple[np.ndarray, np.ndarray]:
    """A stratified train/test split of row positions, made before anything is fitted.

    Args:
        y: the labels (any index).
        test_size: the share of test rows.
        seed: random seed.

    Returns:
        `(train_positions, test_positions)`, sorted integer positions into `y`.
    """
    positions = np.arange(len(y))
    train, test = train_test_split(
        positions, test_size=test_size, random_state=seed, stratify=np.asarray(y)
    )
    return np.sort(train), np.sort(test)


def ordered_split(
    n_rows: int, *, test_size: float, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """`train_test_split` on row positions in the table's current order, not stratified.

    This is the original project's protocol (`train_test_split(X, y, test_size, random_state)`):
    which rows land in the test set depends only on their order, so the caller sorts the table
    the way the original was sorted first (see `songpop.reproduce`).

    Args:
        n_rows: number of rows.
        test_size: the share of test rows.
        random_state: the original seed.

    Returns:
        `(train_positions, test_positions)` in the order `train_test_split` returns them.
    """
    return train_test_split(np.arange(n_rows), test_size=test_size, random_state=random_state)

"""Save and load a trained model as a folder: the estimator plus `bundle.json`.

A bundle folder holds

- the estimator: `estimator.skops` (a scikit-learn / imbalanced-learn / LightGBM object saved
  with skops). A torch model inside it (songpop's `TorchMLPClassifier`, which exposes
  `export_state()` / `from_state()`: a pipeline's last step, an ensemble's member) is stored
  beside it as `torch_<i>_state.pt` (the torch `state_dict`) and `torch_<i>.json` (its
  hyper-parameters and fitted attributes), with a `TorchSlot` standing in for it in the skops
  file;
- `reference_sample.parquet`: a small seeded sample of the training features (the background of
  model-agnostic explanations), when reference data is given;
- `songs.parquet`: the training songs as a person knows them (title, artist, year, peak
  position, weeks on the chart, Spotify popularity, class) with their numeric features, for the
  similar charting songs of a prediction (`songpop.inference.context`), when given;
- `bundle.json`: model id, task, feature names in order, classes, label strategy, feature set,
  metrics, sha256 of the training table, library versions, created time, the sha256 of every
  other file, and reference statistics of the training features (percentiles overall and within
  the top class and within each class, category shares, typical values, each numeric feature's
  mean and spread and how far training songs lie from their nearest neighbour) for
  plain-language explanations, per-feature positions and the out-of-range warning, and what
  each class means (`meaning`: its songs, years and score range).

Loading verifies every file's sha256 and loads skops files only when each object type in them is
on an explicit allow-list; anything else is a `BundleError` naming the file and the type.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from songpop import config, vocabulary
from songpop.bundle.checks import check_estimator
from songpop.bundle.compiled import (
    TOLERANCE,
    check_graph,
    check_probabilities,
    run,
    session,
    to_onnx,
)
from songpop.bundle.frame import feature_frame
from songpop.errors import BundleError, MissingExtraError
from songpop.io import (
    json_safe,
    loads_limited,
    recover_dir,
    replace_dir,
    temp_prefix,
    umask,
    write_json_atomic,
)
from songpop.prepare.label import natural_order, top_class
from songpop.vocabulary import is_categorical

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "songpop-bundle"
BUNDLE_VERSION = 1
META_FILE = "bundle.json"
ESTIMATOR_FILE = "estimator.skops"
TORCH_STATE_FILE = "torch_{slot}_state.pt"
TORCH_PARAMS_FILE = "torch_{slot}.json"
REFERENCE_SAMPLE_FILE = "reference_sample.parquet"
ONNX_FILE = "estimator.onnx"
REFERENCE_SAMPLE_ROWS = 200
SONGS_FILE = "songs.parquet"
ARTIST_HISTORY_FILE = "artist_history.parquet"
"""The weekly charts per (artist, title, year) (`prepare.history.artist_years`): a bundle whose
features include the artist's earlier chart record fills them from it."""
SHOWN_COLUMNS: tuple[str, ...] = (
    "title",
    "artist",
    "year",
    "decade",
    "best_position",
    "weeks_on_chart",
    "popularity",
    "level",
)
"""The columns of a training song shown beside a prediction (never model inputs)."""
CLASS_PERCENTILES: tuple[int, ...] = tuple(range(0, 101, 5))
"""The percentiles kept per feature within each class (for the position charts)."""
NEAREST_SAMPLE = 2000
NEAREST_QUANTILE = 99.0
"""How far is "far from every training song": the 99th percentile of the distance from a
training song (a seeded sample of 2,000) to its nearest other training song, in the standardised
space of the numeric features (`songpop.inference.context`)."""

MAX_META_BYTES = 32 * 1024 * 1024
"""Largest `bundle.json` (and torch parameters file) read; songpop writes a few hundred KB."""

PERCENTILES: tuple[int, ...] = tuple(range(0, 101))
"""The percentiles kept per feature in `bundle.json` (0, 1, ..., 100)."""

# The object types, beyond the ones skops trusts by itself, that a songpop skops file may hold:
# exactly what the registry's models contain once fitted (tests/model/test_bundle_types.py saves
# every registry model and checks that its types are all here). Full names, never a prefix: a
# prefix such as "numpy." would also admit `numpy.testing._private.utils.runstring`, which
# calls `exec`.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "collections.OrderedDict",
        "imblearn.over_sampling._smote.base.SMOTE",
        "imblearn.over_sampling._smote.base.SMOTENC",
        "imblearn.pipeline.Pipeline",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "numpy.dtype",
        "scipy.sparse._csr.csr_matrix",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.metrics._classification.accuracy_score",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._scorer._Scorer",
        "sklearn.model_selection._search_successive_halving.HalvingGridSearchCV",
        "sklearn.model_selection._split.StratifiedKFold",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.tree._tree.Tree",
        "sklearn.utils._bunch.Bunch",
        "songpop.bundle.store.TorchSlot",
    }
)
TORCH_CLASSES: frozenset[str] = frozenset({"songpop.models.mlp.TorchMLPClassifier"})
"""The torch models a bundle's torch slot may rebuild (by full class name)."""

_LIBRARIES: tuple[str, ...] = (
    "songpop",
    "numpy",
    "pandas",
    "scikit-learn",
    "imbalanced-learn",
    "lightgbm",
    "skops",
    "torch",
)


class Bundle:
    """A model folder, checked and ready to score.

    The estimator itself (skops, and torch for the MLP) is loaded on first use: scoring goes
    through the bundle's ONNX graph when it has one (`songpop.bundle.compiled`), so a
    prediction from a new process need not import scikit-learn, LightGBM or torch at all.
    `load_bundle(path, eager=True)` loads it at once (the API does, so that a refused bundle
    stops the server at start-up). A bundle pickles, before and after predictions: the ONNX
    Runtime session is rebuilt where it is unpickled (e.g. on a Dask worker).

    Attributes:
        path: the bundle folder.
        model_id: the model's id (e.g. "seed/audio/lgbm").
        meta: the whole `bundle.json`.
        classes: class labels in the order of `predict_proba`'s columns.
        feature_names: the input columns the estimator expects, in order.
    """

    def __init__(
        self,
        path: Path,
        model_id: str,
        estimator: Any,
        meta: dict[str, Any],
        classes: list[str],
        feature_names: list[str],
    ) -> None:
        self.path = Path(path)
        self.model_id = model_id
        self.meta = meta
        self.classes = classes
        self.feature_names = feature_names
        self._estimator = estimator
        self._graph: bytes | None = None
        self._session: Any = None
        self._sample: Any = _UNREAD
        self._songs: Any = _UNREAD
        self._derived: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Bundle({self.model_id!r}, path={str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bundle) and (self.path, self.model_id, self.meta) == (
            other.path,
            other.model_id,
            other.meta,
        )

    __hash__ = object.__hash__

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_session"] = None  # an ONNX Runtime session does not pickle; rebuilt on use
        state["_derived"] = {}  # explainers, neighbour indexes: rebuilt on use
        return state

    def derived(self, name: str, make: Callable[[], Any]) -> Any:
        """What `make()` builds from this bundle (an explainer, a neighbour index), built once
        per loaded bundle and kept with it; never pickled, never written."""
        if name not in self._derived:
            self._derived[name] = make()
        return self._derived[name]

    @property
    def estimator(self) -> Any:
        """The fitted estimator; `predict_proba(DataFrame of feature_names)` gives the class
        probabilities in `classes` order. Loaded (and its object types checked) on first use."""
        if self._estimator is None:
            self._estimator = _load_estimator(self.path, self.meta)
        return self._estimator

    @property
    def compiled(self) -> dict[str, Any] | None:
        """How the ONNX graph was checked against the estimator, or None without a graph."""
        return (self.meta.get("layout") or {}).get("onnx")

    def session(self) -> Any:
        """The ONNX Runtime session over the bundle's graph, or None when it has none."""
        if self.compiled is None:
            return None
        if self._session is None:
            where = str(self.path / ONNX_FILE)
            if self._graph is None:
                self._graph = _read_graph(self.path, self.meta)
            self._session = session(self._graph, where)
        return self._session

    @property
    def task(self) -> str | None:
        """The task the model was trained for (e.g. "seed", "hit"), when recorded."""
        return self.meta.get("task")

    @property
    def label_strategy(self) -> str:
        """How the training labels were made (`config.LABEL_STRATEGIES`)."""
        return self.meta["label_strategy"]

    @property
    def feature_set(self) -> str:
        """ "audio" or "audio+context"."""
        return self.meta["feature_set"]

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics recorded when the model was saved."""
        return self.meta.get("metrics", {})

    @property
    def reference(self) -> dict[str, Any] | None:
        """Reference statistics of the training features, or None when none were saved."""
        return self.meta.get("reference")

    @property
    def levels(self) -> list[str]:
        """The classes in their natural order (low, medium, high; not_hit, hit): the order in
        which every table, answer and page shows them (`classes` keeps the model's order)."""
        return [str(c) for c in natural_order(list(self.classes))]

    @property
    def top_class(self) -> str:
        """The most popular class ("high", "hit", ...)."""
        return top_class(self.classes)

    def reference_sample(self) -> pd.DataFrame | None:
        """A small sample of the training features (for explanations), or None."""
        if self._sample is _UNREAD:
            known = REFERENCE_SAMPLE_FILE in self.meta.get("files", {})
            path = bundle_file(self.path, self.meta, REFERENCE_SAMPLE_FILE) if known else None
            self._sample = pd.read_parquet(path) if path is not None else None
        return self._sample

    def songs(self) -> pd.DataFrame | None:
        """The training songs with their history and numeric features (`SONGS_FILE`), or
        None when the bundle was saved without them."""
        if self._songs is _UNREAD:
            known = SONGS_FILE in self.meta.get("files", {})
            path = bundle_file(self.path, self.meta, SONGS_FILE) if known else None
            self._songs = pd.read_parquet(path) if path is not None else None
        return self._songs

    def artist_history(self) -> pd.DataFrame | None:
        """The artist history table (`ARTIST_HISTORY_FILE`), or None without one."""
        if ARTIST_HISTORY_FILE not in self.meta.get("files", {}):
            return None
        return self.derived(
            "artist_history",
            lambda: pd.read_parquet(bundle_file(self.path, self.meta, ARTIST_HISTORY_FILE)),
        )

    @property
    def meaning(self) -> dict[str, Any] | None:
        """What each class means (`prepare.label.describe_levels`), when recorded."""
        return self.meta.get("meaning")


_UNREAD = object()


# --- saving -------------------------------------------------------------------------------------


def save_bundle(
    estimator: Any,
    out_dir: str | os.PathLike[str],
    *,
    model_id: str,
    feature_names: list[str] | tuple[str, ...],
    classes: list[str] | tuple[str, ...],
    label_strategy: str,
    feature_set: str,
    metrics: dict[str, Any],
    train_table_sha256: str,
    reference_X: pd.DataFrame | None = None,
    reference_y: Any = None,
    task: str | None = None,
    compile: bool = True,
    songs: pd.DataFrame | None = None,
    meaning: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
    artist_history: pd.DataFrame | None = None,
) -> Path:
    """Save a fitted estimator and its metadata as a bundle folder, atomically.

    With `compile`, the estimator is also converted to an ONNX graph (`estimator.onnx`), kept
    only when it gives the estimator's probabilities on real and random rows
    (`songpop.bundle.compiled`); `bundle.json` records how closely (`layout.onnx`).

    The folder is built next to `out_dir` under a temporary name and renamed into place, so a
    reader never sees a half-written bundle; an existing bundle at `out_dir` is replaced.

    Args:
        estimator: a fitted scikit-learn compatible estimator (usually a Pipeline).
        out_dir: the bundle folder to create.
        model_id: the model's id, e.g. "lightgbm".
        feature_names: the input columns in the order the estimator expects.
        classes: class labels in the order of `estimator.predict_proba`'s columns.
        label_strategy: one of `config.LABEL_STRATEGIES`.
        feature_set: "audio" or "audio+context".
        metrics: JSON-safe metrics to record (accuracy, intervals...).
        train_table_sha256: the sha256 of the training table.
        reference_X: the training features, for reference statistics (optional).
        reference_y: the training labels aligned with `reference_X` (optional; needed for the
            statistics within the top class).
        task: the task name, e.g. "seed" or "hit".
        compile: also save an ONNX graph of the estimator when one can be made.
        songs: the training songs aligned with `reference_X` (their `SHOWN_COLUMNS` are kept,
            with the numeric features, as `SONGS_FILE`; optional).
        meaning: what each class means (`prepare.label.describe_levels`; optional).
        reference: `reference_stats(reference_X, reference_y, classes)` when already computed
            (it is the same for every model trained on the same rows); else computed here.
        artist_history: the weekly charts per (artist, title, year), for a model whose
            features include the artist's earlier chart record (`ARTIST_HISTORY_FILE`).

    Returns:
        The bundle folder.

    Raises:
        BundleError: the estimator's classes disagree with `classes`, or reference data lacks a
            feature.
    """
    out_dir = Path(out_dir)
    feature_names = [str(f) for f in feature_names]
    classes = [str(c) for c in classes]
    fitted_classes = getattr(estimator, "classes_", None)
    if fitted_classes is not None and [str(c) for c in fitted_classes] != classes:
        raise BundleError(
            f"bundle {out_dir}: classes {classes} differ from the estimator's "
            f"classes_ {[str(c) for c in fitted_classes]}"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(out_dir)  # what a killed save left behind
    prefix = temp_prefix(out_dir.name)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=prefix, suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it 0700; its files get the usual mode
    try:
        layout = _write_estimator(estimator, tmp)
        if reference_X is not None:
            missing = [f for f in feature_names if f not in reference_X.columns]
            if missing:
                raise BundleError(f"bundle {out_dir}: reference_X lacks feature(s) {missing}")
            ref_X = reference_X[feature_names]
            if reference is None:
                reference = reference_stats(ref_X, reference_y, classes)
            sample = ref_X.sample(
                n=min(REFERENCE_SAMPLE_ROWS, len(ref_X)), random_state=config.SEED
            ).reset_index(drop=True)
            sample.to_parquet(tmp / REFERENCE_SAMPLE_FILE, index=False)
            if songs is not None:
                _write_songs(songs, ref_X, tmp / SONGS_FILE)
        if artist_history is not None:
            artist_history.to_parquet(tmp / ARTIST_HISTORY_FILE, index=False)
        if compile:
            _write_graph(estimator, feature_names, reference_X, tmp, layout)
        meta = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "model_id": model_id,
            "task": task,
            "estimator_class": _class_path(estimator),
            "layout": layout,
            "feature_names": feature_names,
            "classes": classes,
            "label_strategy": label_strategy,
            "feature_set": feature_set,
            "metrics": json_safe(metrics),
            "train_table_sha256": train_table_sha256,
            "library_versions": library_versions(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "reference": reference,
            "meaning": json_safe(meaning) if meaning is not None else None,
            "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.name != META_FILE},
        }
        write_json_atomic(meta, tmp / META_FILE)
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved bundle %s to %s", model_id, out_dir)
    return out_dir


def _write_songs(songs: pd.DataFrame, X: pd.DataFrame, path: Path) -> None:
    """The training songs' shown columns and numeric features, as one Parquet file."""
    if len(songs) != len(X):
        raise BundleError(f"songs has {len(songs)} rows; reference_X has {len(X)}")
    shown = songs[[c for c in SHOWN_COLUMNS if c in songs.columns]].reset_index(drop=True)
    numeric = [c for c in X.columns if not is_categorical(c)]
    features = X[numeric].astype("float32").reset_index(drop=True)
    table = pd.concat([shown, features.add_prefix("f_")], axis=1)
    table["level"] = table["level"].astype(str) if "level" in table else None
    table.to_parquet(path, index=False, compression="zstd")


def _write_graph(
    estimator: Any,
    feature_names: list[str],
    reference_X: pd.DataFrame | None,
    folder: Path,
    layout: dict[str, Any],
) -> None:
    """Write `estimator.onnx` when the estimator converts and agrees (see `bundle.compiled`)."""

    rows = check_rows(feature_names, reference_X)
    made = to_onnx(estimator, feature_names, rows)
    if made is None:
        return
    data, record = made
    (folder / ONNX_FILE).write_bytes(data)
    layout["onnx"] = {"file": ONNX_FILE, **record}


CHECK_ROWS = 1_000
"""Rows of training data an ONNX graph is checked on (plus as many random valid rows / 4)."""


def check_rows(feature_names: list[str], reference_X: pd.DataFrame | None) -> np.ndarray:
    """Rows to check a compiled model on: training rows and random rows over each valid range."""

    rng = np.random.default_rng(config.SEED)
    n = CHECK_ROWS // 4
    columns = []
    for name in feature_names:
        spec = vocabulary.feature(name)
        low, high = (spec.low, spec.high) if spec else (0.0, 1.0)
        if spec is not None and spec.integer:
            columns.append(rng.integers(int(low), int(high) + 1, n).astype(float))
        else:
            columns.append(rng.uniform(low, high, n))
    rows = [np.column_stack(columns)]
    if reference_X is not None and len(reference_X):
        real = reference_X[feature_names].astype("float64").to_numpy(na_value=np.nan)
        real = real[~np.isnan(real).any(axis=1)]
        if len(real) > CHECK_ROWS:
            real = real[rng.choice(len(real), CHECK_ROWS, replace=False)]
        rows.insert(0, real)
    return np.vstack(rows)


class TorchSlot:
    """Stands, inside a saved estimator, for a torch model stored beside it (slot number)."""

    def __init__(self, slot: int = 0) -> None:
        self.slot = slot


def _is_torch_model(obj: Any) -> bool:
    """A fitted estimator that saves itself as a torch state (songpop's TorchMLPClassifier)."""
    return (
        hasattr(obj, "export_state")
        and hasattr(type(obj), "from_state")
        and getattr(obj, "module_", None) is not None
    )


def _map_estimators(value: Any, replace: Any, memo: dict[int, Any]) -> Any:
    """Walk an estimator's attributes, lists, tuples and dicts; swap what `replace` maps.

    `replace(obj)` returns the stand-in for `obj`, or None to keep walking into it. Estimators,
    lists and dicts are changed in place; tuples are rebuilt. Shared objects are mapped once.
    """
    from sklearn.base import BaseEstimator

    key = id(value)
    if key in memo:
        return memo[key]
    new = replace(value)
    if new is not None:
        memo[key] = new
        return new
    memo[key] = value
    if isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = _map_estimators(item, replace, memo)
    elif isinstance(value, tuple):
        items = [_map_estimators(item, replace, memo) for item in value]
        if type(value) is tuple and any(a is not b for a, b in zip(items, value, strict=True)):
            memo[key] = value = tuple(items)
    elif isinstance(value, dict):
        for k in list(value):
            value[k] = _map_estimators(value[k], replace, memo)
    elif isinstance(value, BaseEstimator):
        for k, item in list(vars(value).items()):
            mapped = _map_estimators(item, replace, memo)
            if mapped is not item:
                value.__dict__[k] = mapped
    return value


TORCH_SHIM = "sklearn.externals.array_api_compat.torch"
"""scikit-learn's array-API adapter for torch arrays, which imports torch."""
_SKOPS_IMPORT = threading.Lock()
"""One import of skops at a time: another thread must not see the half-made module (nor the
adapter's placeholder)."""


def import_skops() -> ModuleType:
    """`skops.io`, imported without the torch its walk of scikit-learn would import.

    At import, skops lists its trusted types from `sklearn.utils.all_estimators()`, whose
    `pkgutil.walk_packages` imports every package under sklearn, the torch array-API adapter
    among them, and that imports torch: 1.1 of skops's 1.7 s here (2026-12-07). songpop never
    runs scikit-learn on torch arrays, so for that walk alone the adapter is made unimportable
    (None in `sys.modules`, Python's documented way; the walk skips a package that does not
    import), as on a machine without torch. The trusted types are the same either way
    (tests/unit/test_bundle_security.py checks it), and the adapter imports normally after.
    """
    with _SKOPS_IMPORT:
        blocked = "skops.io" not in sys.modules and TORCH_SHIM not in sys.modules
        if blocked:
            sys.modules[TORCH_SHIM] = None  # type: ignore[assignment]
        try:
            import skops.io as sio
        finally:
            if blocked and TORCH_SHIM in sys.modules and sys.modules[TORCH_SHIM] is None:
                del sys.modules[TORCH_SHIM]
    return sio


def _write_estimator(estimator: Any, folder: Path) -> dict[str, Any]:
    """Write the estimator's files into `folder` and describe how to load them.

    Torch models anywhere inside the estimator (a pipeline's last step, an ensemble's member)
    are stored as `torch_<i>_state.pt` (the state_dict) + `torch_<i>.json` (hyper-parameters
    and fitted attributes) and replaced by a `TorchSlot` in the skops file.
    """
    import copy

    sio = import_skops()
    found: list[Any] = []
    _map_estimators(estimator, lambda o: found.append(o) if _is_torch_model(o) else None, {})
    slots: list[dict[str, str]] = []
    if found:
        import torch

        estimator = copy.deepcopy(estimator)  # the caller's estimator stays as it was
        models: dict[int, TorchSlot] = {}

        def stand_in(obj: Any) -> TorchSlot | None:
            if not _is_torch_model(obj):
                return None
            slot = len(slots)
            state = dict(obj.export_state())
            state_file = TORCH_STATE_FILE.format(slot=slot)
            params_file = TORCH_PARAMS_FILE.format(slot=slot)
            torch.save(state.pop("state_dict"), folder / state_file)
            state["class_path"] = _class_path(obj)
            (folder / params_file).write_text(
                json.dumps(json_safe(state), indent=2) + "\n", encoding="utf-8"
            )
            slots.append({"state": state_file, "params": params_file})
            models[slot] = TorchSlot(slot)
            return models[slot]

        estimator = _map_estimators(estimator, stand_in, {})
    sio.dump(estimator, folder / ESTIMATOR_FILE)
    return {"kind": "skops", "torch_slots": slots}


def reference_stats(
    X: pd.DataFrame, y: Any, classes: list[str] | tuple[str, ...]
) -> dict[str, Any]:
    """Statistics of the training features that plain-language explanations refer to.

    Args:
        X: the training features.
        y: the training labels aligned with `X`, or None.
        classes: the class labels; the top class is `top_class(classes)`.

    Returns:
        A JSON-safe dict: `n_rows`, `top_class`, `n_top`, `percentiles` (the list of
        percentiles, and per numeric feature the values at them overall and within the top
        class), `categories` (per categorical feature, each value's share overall and within
        the top class) and `typical` (median, or most frequent category, per feature).
    """
    top = top_class(classes)
    in_top = None
    if y is not None:
        y_arr = np.asarray(y).astype(str)
        if len(y_arr) != len(X):
            raise BundleError(f"reference_y has {len(y_arr)} rows; reference_X has {len(X)}")
        in_top = y_arr == top
    stats: dict[str, Any] = {
        "n_rows": int(len(X)),
        "top_class": top,
        "n_top": int(in_top.sum()) if in_top is not None else None,
        "percentiles": {"q": list(PERCENTILES), "overall": {}, "top": {}},
        "categories": {"overall": {}, "top": {}},
        "typical": {},
        "by_class": {"q": list(CLASS_PERCENTILES), "classes": {}},
        "scale": {},
    }
    y_str = np.asarray(y).astype(str) if y is not None else None
    q = np.asarray(PERCENTILES, dtype=float)
    for name in X.columns:
        values = pd.to_numeric(X[name], errors="coerce").astype("float64").to_numpy()
        ok = ~np.isnan(values)
        if is_categorical(name):
            overall = _shares(values[ok])
            stats["categories"]["overall"][name] = overall
            if in_top is not None:
                stats["categories"]["top"][name] = _shares(values[ok & in_top])
            stats["typical"][name] = int(max(overall, key=overall.get)) if overall else None
            continue
        if ok.any():
            stats["percentiles"]["overall"][name] = _round(np.percentile(values[ok], q))
            stats["typical"][name] = float(np.median(values[ok]))
        if in_top is not None and (ok & in_top).any():
            stats["percentiles"]["top"][name] = _round(np.percentile(values[ok & in_top], q))
        if ok.any():
            spread = float(np.std(values[ok]))
            stats["scale"][name] = [float(np.mean(values[ok])), spread if spread > 0 else 1.0]
        if y_str is not None:
            for cls in natural_order(list(classes)):
                mine = ok & (y_str == str(cls))
                if mine.any():
                    per = stats["by_class"]["classes"].setdefault(str(cls), {})
                    per[name] = _round(np.percentile(values[mine], CLASS_PERCENTILES))
    stats["nearest"] = _nearest_distance(X, stats["scale"])
    return stats


def standardise(
    X: pd.DataFrame | np.ndarray, scale: dict[str, list[float]], names: list[str]
) -> np.ndarray:
    """The numeric features `names` of `X` in standard units (missing values at the mean)."""
    if isinstance(X, pd.DataFrame):
        values = X[names].astype("float64").to_numpy(na_value=np.nan)
    else:
        values = np.asarray(X, dtype=np.float64)
    mean = np.asarray([scale[n][0] for n in names])
    spread = np.asarray([scale[n][1] for n in names])
    z = (values - mean) / spread
    return np.where(np.isnan(z), 0.0, z)


def _nearest_distance(X: pd.DataFrame, scale: dict[str, list[float]]) -> dict[str, Any] | None:
    """The NEAREST_QUANTILE-th percentile of a training song's distance to its nearest other
    training song (standardised numeric features): the "far from every song" threshold."""
    names = [n for n in X.columns if n in scale]
    if len(X) < 3 or not names:
        return None
    from sklearn.neighbors import NearestNeighbors

    Z = standardise(X, scale, names)
    rng = np.random.default_rng(config.SEED)
    rows = rng.choice(len(Z), size=min(NEAREST_SAMPLE, len(Z)), replace=False)
    index = NearestNeighbors(n_neighbors=2).fit(Z)
    distance, _ = index.kneighbors(Z[rows])
    return {
        "features": names,
        "quantile": NEAREST_QUANTILE,
        "distance": float(np.percentile(distance[:, 1], NEAREST_QUANTILE)),
        "median": float(np.median(distance[:, 1])),
    }


def _shares(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    cats, counts = np.unique(values.astype(int), return_counts=True)
    return {
        str(int(c)): round(float(n) / len(values), 6) for c, n in zip(cats, counts, strict=True)
    }


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in values]


# --- loading ------------------------------------------------------------------------------------


def load_bundle(path: str | os.PathLike[str], *, eager: bool = False) -> Bundle:
    """Load a bundle folder after checking every file's sha256 and every object type.

    A bundle with an ONNX graph is scored through it; its estimator is then loaded (and its
    object types checked) on first use, unless `eager`.

    Args:
        path: the bundle folder (or its `bundle.json`).
        eager: load the estimator now, whatever the bundle holds.

    Returns:
        The loaded bundle.

    Raises:
        BundleError: the folder or a file is missing, a file's sha256 differs from the one
            recorded (tampered or corrupted), or a file holds an object type outside the
            allow-list; the message names the file (and the type).
        MissingExtraError: the bundle holds an MLP and PyTorch is not installed.
    """
    path = Path(path)
    if path.name == META_FILE:
        path = path.parent
    meta = read_meta(path)
    require_extras(path, meta)
    verify_files(path, meta)
    layout = meta.get("layout", {"kind": "skops"})
    if not isinstance(layout, dict) or layout.get("kind") != "skops":
        kind = layout.get("kind") if isinstance(layout, dict) else layout
        raise BundleError(f"{path / META_FILE}: unknown estimator layout {kind!r}")
    graph = _read_graph(path, meta) if layout.get("onnx") else None
    estimator = _load_estimator(path, meta) if eager or graph is None else None
    bundle = Bundle(
        path=path,
        model_id=str(meta["model_id"]),
        estimator=estimator,
        meta=meta,
        classes=[str(c) for c in meta["classes"]],
        feature_names=[str(f) for f in meta["feature_names"]],
    )
    bundle._graph = graph
    return bundle


def _read_graph(path: Path, meta: dict[str, Any]) -> bytes:
    """The bundle's ONNX graph, after `compiled.check_graph` (no external data, no custom or
    control-flow operators, songpop's inputs and outputs)."""

    file = bundle_file(path, meta, ONNX_FILE)
    data = file.read_bytes()
    check_graph(
        data, str(file), n_features=len(meta["feature_names"]), n_classes=len(meta["classes"])
    )
    return data


def _load_estimator(path: Path, meta: dict[str, Any]) -> Any:
    """The bundle's estimator: the skops file (types checked first), torch slots put back, then
    its arrays checked (`bundle.checks`) before anything predicts with it."""

    file = bundle_file(path, meta, ESTIMATOR_FILE)
    estimator = _load_skops(file)
    slots = (meta.get("layout") or {}).get("torch_slots") or []
    if not isinstance(slots, list) or not all(isinstance(slot, dict) for slot in slots):
        raise BundleError(f"{path / META_FILE}: layout.torch_slots must be a list of objects")
    if slots:
        models = [_load_torch(path, meta, slot) for slot in slots]

        def put_back(obj: Any) -> Any:
            if not isinstance(obj, TorchSlot):
                return None
            if not isinstance(obj.slot, int) or not 0 <= obj.slot < len(models):
                raise BundleError(f"{file}: torch slot {obj.slot!r} is not among the "
                                  f"{len(models)} in {META_FILE}")  # fmt: skip
            return models[obj.slot]

        estimator = _map_estimators(estimator, put_back, {})
    check_estimator(estimator, len(meta["feature_names"]), str(file))
    return estimator


def verify_bundle(path: str | os.PathLike[str]) -> list[str]:
    """Check a bundle the way loading does, and more: every check it passed, in words.

    Every file's sha256, every file inside the folder, the estimator's object types, the
    torch slots, the ONNX graph (loaded, and giving the estimator's probabilities on the
    bundle's reference rows within its recorded difference) and a prediction on those rows.

    Raises:
        BundleError: the first check that fails, naming the file and what is wrong.
    """

    bundle = load_bundle(path, eager=True)
    meta = bundle.meta
    passed = [
        f"{len(meta['files'])} file(s) match the sha256 in {META_FILE}, all inside the folder",
        f"estimator {meta.get('estimator_class')}: only trusted object types",
    ]
    slots = (meta.get("layout") or {}).get("torch_slots") or []
    if slots:
        passed.append(f"{len(slots)} torch model(s) rebuilt from weights only")
    passed.append("estimator arrays consistent (tree nodes, split features, index ranges)")
    n_classes = len(bundle.classes)
    if bundle.compiled is not None:
        where = str(bundle.path / ONNX_FILE)
        random_rows = check_rows(bundle.feature_names, None)
        run(bundle.session(), random_rows, n_classes=n_classes, where=where)
        passed.append(
            f"ONNX graph: only songpop's operators, no external data, no control flow; "
            f"{len(random_rows)} random rows give {n_classes} finite probabilities summing to 1"
        )
    sample = bundle.reference_sample()
    if sample is None or sample.empty:
        passed.append("no reference rows: no prediction tried")
        return passed
    X = sample[bundle.feature_names].astype("float64").to_numpy(na_value=np.nan)
    X = X[~np.isnan(X).any(axis=1)]
    expected = np.asarray(
        bundle.estimator.predict_proba(feature_frame(X, bundle.feature_names)), dtype=np.float64
    )
    if expected.shape != (len(X), n_classes):
        raise BundleError(f"{path}: the estimator gives {expected.shape[-1]} probabilities per "
                          f"row; {META_FILE} names {n_classes} classes")  # fmt: skip
    check_probabilities(expected, f"{path}: the estimator")
    if bundle.compiled is not None:
        got = run(bundle.session(), X, n_classes=n_classes, where=str(bundle.path / ONNX_FILE))
        diff = float(np.abs(got - expected).max()) if len(X) else 0.0
        if diff > TOLERANCE:
            raise BundleError(
                f"{path}: the ONNX graph differs from the estimator by {diff:.3g} on the "
                f"reference rows (at most {TOLERANCE:g} allowed)"
            )
        passed.append(
            f"ONNX graph loads and agrees with the estimator (largest difference {diff:.2g})"
        )
    if not np.allclose(expected.sum(axis=1), 1.0, atol=1e-6):
        raise BundleError(f"{path}: the estimator's probabilities do not sum to 1")
    passed.append(f"predicts {len(X)} reference rows: classes {', '.join(bundle.classes)}")
    return passed


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a bundle's `bundle.json` without loading the estimator.

    Raises:
        BundleError: the folder or `bundle.json` is missing, unreadable or incomplete.
    """
    meta_path = Path(path) / META_FILE
    if meta_path.is_symlink():
        raise BundleError(f"{meta_path}: is a symbolic link; a bundle's {META_FILE} must be a "
                          "file of its own folder")  # fmt: skip
    if not meta_path.is_file():
        raise BundleError(f"{path} is not a model bundle: {META_FILE} not found")
    try:
        with open(meta_path, "rb") as handle:
            data = handle.read(MAX_META_BYTES + 1)
        meta = loads_limited(data, max_bytes=MAX_META_BYTES)
    except (OSError, ValueError) as exc:
        raise BundleError(f"{meta_path}: cannot read bundle metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{meta_path}: not a songpop bundle (field 'format' != {BUNDLE_FORMAT!r})"
        )
    required = ("model_id", "feature_names", "classes", "label_strategy", "feature_set", "files")
    missing = [k for k in required if k not in meta]
    if missing:
        raise BundleError(f"{meta_path}: missing field(s) {missing}")
    _check_meta_fields(meta, meta_path)
    return meta


def _check_meta_fields(meta: dict[str, Any], meta_path: Path) -> None:
    """The types of the fields every reader of a bundle relies on."""

    def names(value: Any, least: int) -> bool:
        return (
            isinstance(value, list)
            and len(value) >= least
            and all(isinstance(v, str) and v for v in value)
            and len(set(value)) == len(value)
        )

    problems = {
        "model_id": "a non-empty text" if not isinstance(meta["model_id"], str) else None,
        "feature_names": None if names(meta["feature_names"], 1) else "a list of distinct names",
        "classes": None if names(meta["classes"], 2) else "a list of at least two distinct names",
        "label_strategy": None if isinstance(meta["label_strategy"], str) else "a text",
        "feature_set": None if isinstance(meta["feature_set"], str) else "a text",
        "files": None
        if isinstance(meta["files"], dict)
        and all(isinstance(v, str) for v in meta["files"].values())
        else "an object mapping file names to sha256 values",
        "layout": None
        if isinstance(meta.get("layout", {}), dict)
        and isinstance((meta.get("layout") or {}).get("onnx") or {}, dict)
        else "an object",
    }
    for field, expected in problems.items():
        if expected is not None:
            raise BundleError(f"{meta_path}: field {field!r} must be {expected}")
    for field in ("reference", "meaning", "metrics"):
        if meta.get(field) is not None and not isinstance(meta[field], dict):
            raise BundleError(f"{meta_path}: field {field!r} must be an object or null")


def bundle_file(path: Path, meta: dict[str, Any], name: Any) -> Path:
    """A file of the bundle, confined to its folder and covered by its recorded sha256.

    Raises:
        BundleError: `name` is not a plain file name listed in `bundle.json`'s `files`, or the
            file (through a link) lies outside the bundle folder.
    """
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise BundleError(f"{path / META_FILE}: file entry {name!r} is not a plain file name")
    if name not in meta.get("files", {}):
        raise BundleError(
            f"{path / META_FILE}: {name!r} is not among the bundle's hashed files; refusing it"
        )
    file = path / name
    if file.resolve().parent != path.resolve():
        raise BundleError(f"{file}: leads outside the bundle folder {path}; refusing it")
    return file


def verify_files(path: Path, meta: dict[str, Any]) -> None:
    """Check that every file recorded in `meta["files"]` exists with its recorded sha256."""
    if not isinstance(meta["files"], dict):
        raise BundleError(f"{path / META_FILE}: 'files' must map file names to sha256 values")
    for name, expected in meta["files"].items():
        file = bundle_file(path, meta, name)
        if not file.is_file():
            raise BundleError(f"{file}: file missing from the bundle")
        actual = sha256_file(file)
        if actual != expected:
            raise BundleError(
                f"{file}: sha256 {actual} differs from the {expected} recorded in {META_FILE}; "
                "the file was modified or corrupted"
            )


def _load_skops(file: Path) -> Any:
    sio = import_skops()

    try:
        untrusted = sio.get_untrusted_types(file=file)
    except Exception as exc:  # skops raises several types on a damaged archive
        raise BundleError(f"{file}: not a readable skops file ({exc})") from exc
    refused = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
    if refused:
        raise BundleError(
            f"{file}: refusing to load object type(s) {', '.join(refused)}: a songpop bundle "
            "holds only the types its own models are made of (songpop.bundle.store."
            "TRUSTED_TYPES)"
        )
    try:
        return sio.load(file, trusted=list(untrusted))
    except Exception as exc:
        raise BundleError(f"{file}: cannot load the estimator ({exc})") from exc


def require_extras(path: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> None:
    """Refuse a bundle that needs an optional group which is not installed: one holding a torch
    model (an MLP) needs PyTorch, whether or not it also has an ONNX graph (explanations, the
    API and the cluster's workers load the estimator). `load_bundle` asks before it checks or
    reads any other file; the cluster path asks before a worker starts.

    Raises:
        MissingExtraError: naming the bundle and the command that installs what it needs.
        BundleError: `bundle.json` is missing or unreadable (when `meta` is not given).
    """
    meta = read_meta(path) if meta is None else meta
    layout = meta.get("layout")
    torch_slots = isinstance(layout, dict) and bool(layout.get("torch_slots"))
    if torch_slots and not config.extra_installed("mlp"):
        raise MissingExtraError(config.missing_extra_message(f"{path}: this bundle's MLP", "mlp"))


def _load_torch(path: Path, meta: dict[str, Any], slot: dict[str, str]) -> Any:
    """Rebuild one torch model from its JSON parameters and state_dict.

    Raises:
        BundleError: the slot's files are unreadable or name an unknown class.
    """
    import torch  # late: without it `load_bundle` refused the bundle (require_extras)

    params_file, state_file = (bundle_file(path, meta, slot.get(k)) for k in ("params", "state"))
    try:
        state = loads_limited(params_file.read_bytes(), max_bytes=MAX_META_BYTES)
    except (OSError, ValueError) as exc:
        raise BundleError(
            f"{params_file}: cannot read the torch model's parameters ({exc})"
        ) from None
    if not isinstance(state, dict):
        raise BundleError(f"{params_file}: expected an object of the torch model's parameters")
    class_path = str(state.pop("class_path", ""))
    if class_path not in TORCH_CLASSES:
        raise BundleError(f"{params_file}: refusing to load object type {class_path!r}")
    cls = _import_class(class_path, params_file)
    try:
        state["state_dict"] = torch.load(state_file, weights_only=True)
        return cls.from_state(state)
    except Exception as exc:
        raise BundleError(f"{state_file}: cannot load the torch model ({exc})") from exc


def _import_class(class_path: str, file: Path) -> type:
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise BundleError(f"{file}: cannot import {class_path!r} ({exc})") from exc


# --- helpers ------------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a bundle depends on (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"

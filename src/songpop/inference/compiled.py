"""A saved model compiled to ONNX, run by ONNX Runtime: the fast way to score.

A fitted scikit-learn / imbalanced-learn / LightGBM pipeline is converted with skl2onnx (and
onnxmltools' LightGBM converter) when its bundle is saved (`to_onnx`); the graph is checked
against the estimator's own `predict_proba` on real and random rows before it is kept, and the
largest difference is recorded in `bundle.json`. Scoring a row then costs tens of microseconds
instead of the milliseconds scikit-learn spends validating its input at every step.

Precision: ONNX Runtime's imputer and tree operators take float32 only, so every graph works in
float32 (probabilities agree with the estimator's to about 1e-7), and a tree compares a value
with its threshold in float32: where a value lies within float32 rounding of a split, the tree
may take the other branch. A graph is kept only when no probability differs by
more than `TOLERANCE` on the check rows; otherwise the bundle is scored by the estimator itself.

Models the converters do not know (songpop's PyTorch MLP, an ensemble holding it) have no graph
and are scored by the estimator itself. Loading needs only onnxruntime: the graph is read from
bytes (no external data files, no custom operators), so a bundle's graph cannot load a library
or read a file.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TOLERANCE = 1e-2
"""The largest difference in any class probability a graph may show on the check rows."""

_REGISTERED: list[bool] = []


def _register_lightgbm() -> None:
    """Teach skl2onnx LightGBM's classifier (onnxmltools' converter), once."""
    if _REGISTERED:
        return
    from lightgbm import LGBMClassifier
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"], "split": None},
    )
    _REGISTERED.append(True)


def _walk(obj: Any, seen: set[int] | None = None) -> list[Any]:
    """Every estimator inside `obj` (pipeline steps, transformers, ensemble members)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    found = [obj]
    for attr in ("steps", "transformers_", "estimators_", "calibrated_classifiers_"):
        for item in getattr(obj, attr, None) or []:
            part = item[1] if isinstance(item, tuple) else item
            found += _walk(part, seen)
    for attr in ("estimator",):
        inner = getattr(obj, attr, None)
        if inner is not None and hasattr(inner, "fit"):
            found += _walk(inner, seen)
    return found


def _plain(estimator: Any, pipeline_type: type) -> Any:
    """The estimator with imbalanced-learn pipelines as scikit-learn ones, samplers dropped.

    Samplers act only while fitting, so the prediction is unchanged; skl2onnx knows only
    scikit-learn's `Pipeline`. Ensemble members are converted too (on a shallow copy).
    """
    import copy

    steps = getattr(estimator, "steps", None)
    if steps is not None:
        kept = [(n, _plain(s, pipeline_type)) for n, s in steps if not hasattr(s, "fit_resample")]
        return pipeline_type(kept)
    members = getattr(estimator, "estimators_", None)
    if members is not None and type(estimator).__name__ == "VotingClassifier":
        plain = copy.copy(estimator)
        plain.estimators_ = [_plain(m, pipeline_type) for m in members]
        plain.flatten_transform = False  # only transform() reads it; skl2onnx refuses True
        return plain
    return estimator


def _distance_weighted(obj: Any) -> bool:
    knn = type(obj).__name__ == "KNeighborsClassifier"
    return knn and getattr(obj, "weights", "") == "distance"


def to_onnx(
    estimator: Any, feature_names: Sequence[str], check_rows: np.ndarray
) -> tuple[bytes, dict[str, Any]] | None:
    """Convert a fitted classifier pipeline to ONNX and check it against the estimator.

    Args:
        estimator: the fitted pipeline (samplers are dropped: they act only while fitting).
        feature_names: its input columns, in order.
        check_rows: valid float64 rows (columns in `feature_names` order) to compare on.

    Returns:
        (the serialized graph, a record of the check: runtime, input type, rows checked,
        largest difference), or None when the model cannot be converted or the graph
        disagrees with the estimator by more than `TOLERANCE`.
    """
    from songpop.inference.scoring import feature_frame

    if not hasattr(estimator, "predict_proba"):
        return None  # nothing to score probabilities with
    if any(type(o).__module__.startswith("songpop.") for o in _walk(estimator)):
        return None  # songpop's torch MLP: no converter
    if any(_distance_weighted(o) for o in _walk(estimator)):
        # k-NN with distance weights: skl2onnx converts it, but on a row at distance 0 from a
        # training row (every check includes training rows) the graph's weights differ from
        # scikit-learn's, and every such graph so far (k-NN and the ensembles holding one)
        # failed the check after seconds of converting
        return None
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
        from sklearn.pipeline import Pipeline

        _register_lightgbm()
        model = _plain(estimator, Pipeline)
        final = model.steps[-1][1] if hasattr(model, "steps") else model
        # ONNX Runtime's imputer and tree operators take float32 only: the graph's input is.
        tensor = FloatTensorType
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = convert_sklearn(
                model,
                initial_types=[("X", tensor([None, len(feature_names)]))],
                options={id(final): {"zipmap": False}},
                target_opset={"": 17, "ai.onnx.ml": 3},
            )
        data = graph.SerializeToString()
        got = run(session(data), check_rows)
    except Exception as exc:  # a converter that does not know a step: score with the estimator
        log.info("no ONNX graph for %s (%s)", type(estimator).__name__, exc)
        return None
    expected = np.asarray(
        estimator.predict_proba(feature_frame(check_rows, feature_names)), dtype=np.float64
    )
    if got.shape != expected.shape:
        return None
    diff = float(np.abs(got - expected).max()) if len(got) else 0.0
    flips = int((got.argmax(axis=1) != expected.argmax(axis=1)).sum())
    record = {
        "runtime": "onnxruntime",
        "input": "float32",
        "rows_checked": int(len(check_rows)),
        "max_abs_diff": diff,
        "p99_abs_diff": float(np.percentile(np.abs(got - expected), 99)) if len(got) else 0.0,
        "level_changes": flips,
    }
    if diff > TOLERANCE:
        log.info("ONNX graph differs from the estimator by %.3g; not kept", diff)
        return None
    return data, record


def session(data: bytes) -> Any:
    """An ONNX Runtime session over a serialized graph (CPU: the machine's cores, or as many
    threads as `OMP_NUM_THREADS` says: a Dask worker of one thread sets it to 1)."""
    import os

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run(sess: Any, X: np.ndarray) -> np.ndarray:
    """Class probabilities of the rows of X through a session (float32 in, float64 out)."""
    outputs = sess.run(None, {"X": np.ascontiguousarray(X, dtype=np.float32)})
    return np.asarray(outputs[-1], dtype=np.float64)

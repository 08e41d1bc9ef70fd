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
and are scored by the estimator itself.

A graph is untrusted input (whoever edits a bundle can recompute its hashes), so before ONNX
Runtime sees it, `check_graph` refuses any tensor whose data lives in another file (ONNX Runtime
would read it relative to the working directory), any operator domain but the standard and
`ai.onnx.ml` ones, local functions, control flow (`Loop`, `Scan`, `If`: a graph could loop for
ever) and any operator outside `ALLOWED_OPS`, exactly what songpop's converters produce for the
registry's models (tests/model/test_bundle_types.py converts each one and checks). Every answer
is checked too (`check_outputs`: shapes, finite, within [0, 1], rows summing to 1) and every call
runs under a time limit (`RUN_SECONDS`, ONNX Runtime's `RunOptions.terminate`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from songpop.bundle.frame import feature_frame
from songpop.errors import BundleError

log = logging.getLogger(__name__)

TOLERANCE = 1e-2
"""The largest difference in any class probability a graph may show on the check rows."""

ALLOWED_OPS: frozenset[tuple[str, str]] = frozenset(
    {("", op) for op in (
        "Abs", "Add", "ArgMax", "Cast", "Concat", "Div", "Equal", "Exp", "Flatten", "Gather",
        "Identity", "Less", "Mul", "Neg", "Not", "ReduceSum", "Reshape", "Sqrt", "Sub", "Sum",
        "TopK", "Transpose",
    )}
    | {("ai.onnx.ml", op) for op in (
        "ArrayFeatureExtractor", "Imputer", "LinearClassifier", "Normalizer", "OneHotEncoder",
        "SVMClassifier", "Scaler", "TreeEnsembleClassifier",
    )}
)  # fmt: skip
"""(domain, operator) pairs a songpop graph may hold: what skl2onnx and onnxmltools make of the
registry's models (tests/model/test_bundle_types.py converts every one and checks that its
operators are all here). Control flow is never allowed: a k-NN graph, which skl2onnx builds
with `Scan`, is not kept (the k-NN is scored by its estimator)."""
CONTROL_FLOW: frozenset[str] = frozenset({"Loop", "Scan", "If", "SequenceMap"})
DOMAINS: frozenset[str] = frozenset({"", "ai.onnx", "ai.onnx.ml"})
"""Operator sets a graph may import: the standard one and the classic machine-learning one."""
MAX_GRAPH_BYTES = 512 * 1024 * 1024
"""A larger graph file is refused before parsing (a 500-tree forest is a few tens of MB)."""
RUN_SECONDS = 30.0
"""Longest one call of ONNX Runtime may take (at most `scoring.SCORE_ROWS` rows); a call
still running then is stopped (`RunOptions.terminate`) and the scoring fails."""
SUM_TOLERANCE = 1e-3
"""How far a row of graph probabilities may sum from 1 (float32 arithmetic)."""

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


def _knn(obj: Any) -> bool:
    return type(obj).__name__ == "KNeighborsClassifier"


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

    if not hasattr(estimator, "predict_proba"):
        return None  # nothing to score probabilities with
    if any(type(o).__module__.startswith("songpop.") for o in _walk(estimator)):
        return None  # songpop's torch MLP: no converter
    if any(_knn(o) for o in _walk(estimator)):
        # k-NN: skl2onnx computes the neighbours with a Scan loop, control flow that songpop
        # refuses to load (`check_graph`); with distance weights the graph also disagreed with
        # scikit-learn on rows at distance 0 from a training row. Scored by the estimator.
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
        check_graph(data, "the converted graph", n_features=len(feature_names))
        got = run(session(data), check_rows)
    except Exception as exc:  # a converter that does not know a step, or a graph songpop would
        # refuse to load (a k-NN's Scan): score with the estimator
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


def check_graph(
    data: bytes, where: str, *, n_features: int | None = None, n_classes: int | None = None
) -> None:
    """Refuse a serialized graph that could read a file, run code songpop did not make, or loop.

    Args:
        data: the serialized ONNX model.
        where: the file (for messages).
        n_features: the input columns it must take, when known.
        n_classes: the class probabilities it must give, when known (checked where the graph
            declares a fixed width).

    Raises:
        BundleError: naming the file and the first thing refused: a tensor with external data
            (in any subgraph too), a custom operator domain, a local function, control flow,
            an operator outside `ALLOWED_OPS`, or inputs and outputs other than songpop's.
    """
    import onnx
    from google.protobuf.message import DecodeError

    if len(data) > MAX_GRAPH_BYTES:
        raise BundleError(
            f"{where}: {len(data):,} bytes; a songpop graph is at most {MAX_GRAPH_BYTES:,}"
        )
    try:
        model = onnx.ModelProto.FromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise BundleError(f"{where}: not a readable ONNX graph ({exc})") from None
    for opset in model.opset_import:
        if opset.domain not in DOMAINS:
            raise BundleError(
                f"{where}: imports the operator domain {opset.domain!r}; a songpop "
                "graph uses only the standard and ai.onnx.ml operators"
            )
    if len(model.functions):
        raise BundleError(
            f"{where}: defines local functions "
            f"({', '.join(f.name for f in model.functions)}); refusing it"
        )
    for tensor in _tensors(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise BundleError(
                f"{where}: tensor {tensor.name!r} keeps its data in another file; "
                "a songpop graph holds all its data itself"
            )
    for node in _nodes(model.graph):
        domain = "" if node.domain == "ai.onnx" else node.domain
        if node.op_type in CONTROL_FLOW:
            raise BundleError(
                f"{where}: control flow ({node.op_type}) is not allowed in a songpop graph"
            )
        if (domain, node.op_type) not in ALLOWED_OPS:
            shown = f"{domain}.{node.op_type}" if domain else node.op_type
            raise BundleError(
                f"{where}: operator {shown} is not among those songpop's "
                "converters produce (songpop.bundle.compiled.ALLOWED_OPS)"
            )
    _check_signature(model.graph, where, n_features, n_classes)


def _check_signature(graph: Any, where: str, n_features: int | None, n_classes: int | None) -> None:
    """One float input X (rows × features), a label output and a probability output."""
    import onnx

    inputs = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    if len(inputs) != 1 or inputs[0].name != "X":
        raise BundleError(
            f"{where}: takes inputs {[i.name for i in inputs]}; a songpop graph takes one, X"
        )
    tensor = inputs[0].type.tensor_type
    if tensor.elem_type != onnx.TensorProto.FLOAT:
        raise BundleError(f"{where}: input X is not float32")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    if n_features is not None and (len(dims) != 2 or dims[1] not in (None, n_features)):
        raise BundleError(f"{where}: input X has shape {dims}; expected rows × {n_features}")
    if len(graph.output) != 2:
        raise BundleError(
            f"{where}: {len(graph.output)} outputs; a songpop graph gives two "
            "(label, probabilities)"
        )
    probs = graph.output[1].type.tensor_type
    width = [d.dim_value if d.HasField("dim_value") else None for d in probs.shape.dim]
    if n_classes is not None and len(width) == 2 and width[1] not in (None, 0, n_classes):
        raise BundleError(
            f"{where}: gives {width[1]} class probabilities; bundle.json names {n_classes} classes"
        )


def _graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph held in a node attribute, at any depth."""
    stack = [graph]
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)


def _nodes(graph: Any) -> Iterator[Any]:
    for g in _graphs(graph):
        yield from g.node


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor of the graph and its subgraphs: initializers and tensor attributes."""
    for g in _graphs(graph):
        yield from g.initializer
        for sparse in g.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("sparse_tensor"):
                    yield attr.sparse_tensor.values
                    yield attr.sparse_tensor.indices
                for sparse in attr.sparse_tensors:
                    yield sparse.values
                    yield sparse.indices


def session(data: bytes, where: str = "ONNX graph") -> Any:
    """An ONNX Runtime session over a serialized graph that `check_graph` accepted (CPU: the
    machine's cores, or as many threads as `OMP_NUM_THREADS` says: a Dask worker of one thread
    sets it to 1).

    Raises:
        BundleError: ONNX Runtime cannot load it (the message names `where`).
    """
    import os

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        options.intra_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own types (Fail, InvalidGraph...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{where}: ONNX Runtime cannot load it ({first[:300]})") from None


def run(
    sess: Any,
    X: np.ndarray,
    *,
    n_classes: int | None = None,
    seconds: float | None = None,
    where: str = "ONNX graph",
) -> np.ndarray:
    """Class probabilities of the rows of X through a session (float32 in, float64 out).

    The call is stopped after `seconds` (default `RUN_SECONDS`) and every output is checked
    (`check_outputs`).

    Raises:
        BundleError: the call ran out of time, failed, or answered something that is not one
            probability per class and row.
    """
    import onnxruntime as ort

    limit = RUN_SECONDS if seconds is None else seconds
    options = ort.RunOptions()
    ticket = _WATCHDOG.arm(options, limit)
    try:
        outputs = sess.run(None, {"X": np.ascontiguousarray(X, dtype=np.float32)}, options)
    except Exception as exc:  # ONNX Runtime's own types
        if _WATCHDOG.fired(ticket):
            raise BundleError(
                f"{where}: scoring {len(X):,} row(s) took more than {limit:g} s; stopped"
            ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{where}: ONNX Runtime failed ({first[:300]})") from None
    finally:
        _WATCHDOG.disarm(ticket)
    return check_outputs(outputs, len(X), n_classes, where)


def check_outputs(
    outputs: Sequence[Any], n_rows: int, n_classes: int | None, where: str
) -> np.ndarray:
    """The probabilities of a graph's outputs, after checking every output.

    A songpop graph answers a label per row and a (rows × classes) probability table whose
    values are finite, within [0, 1], and sum to 1 per row (within `SUM_TOLERANCE`).

    Raises:
        BundleError: any output is not that, naming the graph and what it gave.
    """
    if len(outputs) != 2:
        raise BundleError(
            f"{where}: gave {len(outputs)} outputs; expected a label and the class probabilities"
        )
    label = np.asarray(outputs[0])
    if label.shape not in ((n_rows,), (n_rows, 1)):
        raise BundleError(f"{where}: gave labels of shape {label.shape} for {n_rows} row(s)")
    proba = np.asarray(outputs[1])
    if proba.dtype.kind not in "fiu":
        raise BundleError(f"{where}: gave probabilities of type {proba.dtype}")
    proba = proba.astype(np.float64)
    width = n_classes if n_classes is not None else (proba.shape[1] if proba.ndim == 2 else -1)
    if proba.shape != (n_rows, width) or width < 2:
        expected = f"({n_rows}, {n_classes if n_classes is not None else 'classes'})"
        raise BundleError(
            f"{where}: gave probabilities of shape {proba.shape}; expected "
            f"{expected}, one per class named in bundle.json"
        )
    return check_probabilities(proba, where)


def check_probabilities(proba: np.ndarray, where: str) -> np.ndarray:
    """`proba` when every value is finite and within [0, 1] and every row sums to 1.

    Raises:
        BundleError: naming `where`, the first bad row and its values.
    """
    if not proba.size:
        return proba
    finite = np.isfinite(proba).all(axis=1)
    in_range = finite & (proba >= 0.0).all(axis=1) & (proba <= 1.0).all(axis=1)
    sums = np.abs(proba.sum(axis=1) - 1.0) <= SUM_TOLERANCE
    bad = np.flatnonzero(~(in_range & sums))
    if len(bad):
        row = int(bad[0])
        shown = ", ".join(f"{v:.4g}" for v in proba[row][:6])
        why = (
            "not finite"
            if not finite[row]
            else "outside [0, 1]"
            if not in_range[row]
            else f"summing to {proba[row].sum():.4g}"
        )
        raise BundleError(
            f"{where}: gave probabilities {why} (row {row + 1}: {shown}; "
            f"{len(bad):,} bad row(s)); refusing its answer"
        )
    return proba


class _Watchdog:
    """One thread that stops ONNX Runtime calls past their deadline (`RunOptions.terminate`).

    Arming costs a heap push, not a thread per call; the thread starts on first use (again in a
    forked child, where it does not exist).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, Any] = {}
        self._fired: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, options: Any, seconds: float) -> int:
        ticket = next(self._ids)
        with self._cond:
            self._armed[ticket] = options
            heapq.heappush(self._heap, (time.monotonic() + seconds, ticket))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="songpop-onnx-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return ticket

    def disarm(self, ticket: int) -> None:
        with self._cond:
            self._armed.pop(ticket, None)
            self._fired.discard(ticket)

    def fired(self, ticket: int) -> bool:
        with self._cond:
            return ticket in self._fired

    def _loop(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, ticket = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._armed.pop(ticket).terminate = True
                self._fired.add(ticket)


_WATCHDOG = _Watchdog()

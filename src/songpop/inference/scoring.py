"""Features in, class probabilities out: the only place a model is called.

`predict_proba(bundle, X)` takes a float array of valid rows (columns in the bundle's feature
order). A bundle with an ONNX graph is scored by ONNX Runtime (`songpop.bundle.compiled`);
any other by the fitted estimator's own `predict_proba`, on the DataFrame it was fitted on. The
rows were validated against the vocabulary already, so scikit-learn's own input checks are
switched off for that call (`assume_finite`, `skip_parameter_validation`). Large arrays are
scored in parts of at most `SCORE_ROWS` rows, which keeps the intermediate arrays small. Every
answer is checked before anyone sees it (one finite probability in [0, 1] per class of
`bundle.json`, each row summing to 1), and a graph's call runs under a time limit.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from songpop.bundle.compiled import check_probabilities, run
from songpop.bundle.frame import feature_frame
from songpop.errors import BundleError

if TYPE_CHECKING:
    from songpop.bundle import Bundle

SCORE_ROWS = 16_384
"""Rows handed to the estimator at a time."""


def predict_proba(bundle: Bundle, X: np.ndarray) -> np.ndarray:
    """Class probabilities (rows × classes, in `bundle.classes` order) of valid rows.

    Args:
        bundle: the loaded model bundle.
        X: float64 rows with columns in `bundle.feature_names` order, already validated.

    Returns:
        A float64 array; each row sums to 1.

    Raises:
        BundleError: the model gives no class probabilities, or gives values that are not
            probabilities (not finite, outside [0, 1], rows not summing to 1, another number
            of classes than `bundle.json` names), or its graph runs out of time
            (`compiled.RUN_SECONDS`).
    """
    if len(X) == 0:
        return np.empty((0, len(bundle.classes)))
    if len(X) > SCORE_ROWS:
        parts = np.array_split(X, -(-len(X) // SCORE_ROWS))
        return np.concatenate([predict_proba(bundle, part) for part in parts])
    session = bundle.session()
    if session is not None:
        where = f"model {bundle.model_id} ({bundle.path / 'estimator.onnx'})"
        return run(session, X, n_classes=len(bundle.classes), where=where)
    estimator = bundle.estimator
    if not hasattr(estimator, "predict_proba"):
        raise BundleError(
            f"model {bundle.model_id} ({bundle.path}) gives no class probabilities "
            "(no predict_proba); it cannot be used for predictions"
        )
    import sklearn

    frame = feature_frame(X, bundle.feature_names)
    with (
        sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", UserWarning)
        proba = np.asarray(estimator.predict_proba(frame), dtype=np.float64)
    where = f"model {bundle.model_id} ({bundle.path})"
    if proba.shape != (len(X), len(bundle.classes)):
        raise BundleError(
            f"{where}: gave probabilities of shape {proba.shape}; expected ({len(X)}, "
            f"{len(bundle.classes)}), one per class named in bundle.json"
        )
    return check_probabilities(proba, where)

"""Every model of the registry saves and loads as a bundle, with types from the explicit list.

The list of object types a bundle may hold (`songpop.bundle.store.TRUSTED_TYPES`) is exact: a
registry model that needs a type outside it fails here, not silently at a user's load. So is the
list of ONNX operators a graph may hold (`songpop.bundle.compiled.ALLOWED_OPS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from songpop.bundle import load_bundle, save_bundle
from songpop.bundle.compiled import ALLOWED_OPS
from songpop.bundle.store import ESTIMATOR_FILE, ONNX_FILE, TRUSTED_TYPES
from songpop.models.registry import MODELS
from support import FEATURES, labelled_songs

CONTEXT = [*FEATURES, "year", "mode", "time_signature", "explicit"]


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, pd.Series]:
    X, y = labelled_songs(240, seed=4)
    rng = np.random.default_rng(4)
    X = X.assign(
        year=rng.integers(1960, 2020, len(X)),
        mode=rng.integers(0, 2, len(X)),
        time_signature=rng.integers(3, 6, len(X)),
        explicit=rng.integers(0, 2, len(X)),
    )
    return X, y


@pytest.mark.parametrize("name", list(MODELS))
def test_a_registry_model_saves_with_trusted_types_only(name, table, tmp_path: Path) -> None:
    X, y = table
    if name in ("lgbm", "logreg"):  # the two default-worthy families also as hit models
        y = pd.Series(np.where(y == "high", "hit", "not_hit"))
    est = MODELS[name].build(CONTEXT, quick=True).fit(X[CONTEXT], y)
    path = save_bundle(
        est,
        tmp_path / name,
        model_id=name,
        feature_names=CONTEXT,
        classes=[str(c) for c in est.classes_],
        label_strategy="spotify",
        feature_set="audio+context",
        metrics={},
        train_table_sha256="0" * 64,
        reference_X=X[CONTEXT],
        reference_y=y,
    )
    found = set(sio.get_untrusted_types(file=path / ESTIMATOR_FILE))
    assert found <= TRUSTED_TYPES, sorted(found - TRUSTED_TYPES)
    if (path / ONNX_FILE).is_file():  # its operators are all on songpop's explicit list
        import onnx

        graph = onnx.load(path / ONNX_FILE).graph
        ops = {(n.domain, n.op_type) for n in graph.node}
        assert ops <= ALLOWED_OPS, sorted(ops - ALLOWED_OPS)
    loaded = load_bundle(path, eager=True)
    head = X[CONTEXT].head(20)
    assert list(loaded.estimator.predict(head)) == list(est.predict(head))

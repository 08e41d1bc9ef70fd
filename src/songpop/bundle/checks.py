"""Checks of a loaded estimator's arrays before it predicts anything.

The allow-listed types of a skops file (`store.TRUSTED_TYPES`) rebuild objects from arrays that
a bundle's author chose: a scikit-learn `Tree` whose child or feature indices point past its
arrays makes its compiled `predict` read and write outside them (a segmentation fault, not an
exception). `check_estimator` walks the estimator once, right after loading, and refuses:

- a tree (`sklearn.tree._tree.Tree`) whose child indices are not each a later node of the same
  tree (which also rules out cycles), whose split features lie outside its declared features,
  or whose value table does not have one row per node;
- a histogram gradient boosting predictor (`TreePredictor`) with the same faults, or a
  categorical split whose bitset does not exist;
- a k-d tree (`KDTree`) whose index array or node ranges point outside its data;
- a sparse matrix whose index arrays are inconsistent;
- a pipeline or model whose declared input width differs from the bundle's feature list, or a
  tree declaring another width than the model that holds it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from songpop.errors import BundleError


def check_estimator(estimator: Any, n_features: int, where: str) -> None:
    """Refuse an estimator whose arrays would make a prediction read outside them.

    Args:
        estimator: the loaded estimator (torch slots already put back).
        n_features: the number of features `bundle.json` declares.
        where: the file it came from (for messages).

    Raises:
        BundleError: naming the file, the object and what is inconsistent.
    """
    declared = getattr(estimator, "n_features_in_", None)
    if declared is not None and int(declared) != n_features:
        raise BundleError(
            f"{where}: the estimator takes {int(declared)} features; bundle.json lists {n_features}"
        )
    _walk(estimator, None, where, set(), 0)


_LIBRARIES = frozenset({"sklearn", "imblearn", "songpop"})
"""Plain objects of these libraries are walked into too (wrappers that are not estimators)."""
_MAX_DEPTH = 200
"""Deeper nesting of estimators than this is refused (songpop's deepest is under 10)."""


def _walk(obj: Any, owner: Any, where: str, seen: set[int], depth: int) -> None:
    from scipy import sparse
    from sklearn.base import BaseEstimator
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.neighbors import KDTree
    from sklearn.tree._tree import Tree

    if id(obj) in seen or obj is None or isinstance(obj, str | bytes | int | float | bool):
        return
    seen.add(id(obj))
    if depth > _MAX_DEPTH:
        raise BundleError(f"{where}: estimators nested more than {_MAX_DEPTH} deep")
    if isinstance(obj, Tree):
        _check_tree(obj, owner, where)
    elif isinstance(obj, TreePredictor):
        _check_predictor(obj, owner, where)
    elif isinstance(obj, KDTree):
        _check_kdtree(obj, where)
    elif sparse.issparse(obj):
        try:
            obj.check_format(full_check=True)
        except (ValueError, TypeError) as exc:
            raise BundleError(f"{where}: an inconsistent sparse matrix ({exc})") from None
    elif isinstance(obj, list | tuple):
        for item in obj:
            _walk(item, owner, where, seen, depth + 1)
    elif isinstance(obj, dict):
        for item in obj.values():
            _walk(item, owner, where, seen, depth + 1)
    elif isinstance(obj, np.ndarray) and obj.dtype == object:
        for item in obj.ravel():
            _walk(item, owner, where, seen, depth + 1)
    elif isinstance(obj, BaseEstimator):
        declared = getattr(obj, "n_features_in_", None)
        # a tree is checked against the model holding it (a forest's member, a boosting model)
        for item in vars(obj).values():
            _walk(item, obj if declared is not None else owner, where, seen, depth + 1)
    elif type(obj).__module__.split(".")[0] in _LIBRARIES and hasattr(obj, "__dict__"):
        for item in vars(obj).values():  # e.g. a calibrated classifier's wrapper
            _walk(item, owner, where, seen, depth + 1)


def _width(owner: Any) -> int | None:
    declared = getattr(owner, "n_features_in_", None)
    return int(declared) if declared is not None else None


def _check_children(left: np.ndarray, right: np.ndarray, leaf: np.ndarray, what: str) -> None:
    """Each inner node's children are later nodes of the same tree (so no cycles, no escape)."""
    n = len(left)
    index = np.arange(n)
    inner = ~leaf
    for side, child in (("left", left), ("right", right)):
        bad = inner & ((child <= index) | (child >= n))
        if bad.any():
            node = int(np.flatnonzero(bad)[0])
            raise BundleError(
                f"{what}: node {node}'s {side} child is {int(child[node])}, not a later node of "
                f"its {n} nodes"
            )


def _check_features(feature: np.ndarray, inner: np.ndarray, width: int | None, what: str) -> None:
    if width is None:
        return
    bad = inner & ((feature < 0) | (feature >= width))
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        raise BundleError(
            f"{what}: node {node} splits on feature {int(feature[node])}; the model has {width}"
        )


def _check_tree(tree: Any, owner: Any, where: str) -> None:
    what = f"{where}: a decision tree"
    n = int(tree.node_count)
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    feature = np.asarray(tree.feature, dtype=np.int64)
    if n < 1 or not (len(left) == len(right) == len(feature) == n):
        raise BundleError(f"{what} declares {n} nodes but holds {len(left)}")
    leaf = (left == -1) & (right == -1)
    _check_children(left, right, leaf, what)
    width = int(tree.n_features)
    owner_width = _width(owner)
    if owner_width is not None and width != owner_width:
        raise BundleError(f"{what} takes {width} features; its model takes {owner_width}")
    _check_features(feature, ~leaf, width, what)
    values = np.asarray(tree.value)
    expected = (n, int(tree.n_outputs), int(tree.max_n_classes))
    if values.shape != expected:
        raise BundleError(f"{what}: value table of shape {values.shape}; expected {expected}")
    if np.asarray(tree.n_classes).max(initial=0) > int(tree.max_n_classes):
        raise BundleError(f"{what}: more classes than its value table holds")


def _check_predictor(predictor: Any, owner: Any, where: str) -> None:
    what = f"{where}: a gradient boosting tree"
    nodes = predictor.nodes
    n = len(nodes)
    if n < 1:
        raise BundleError(f"{what} has no nodes")
    leaf = nodes["is_leaf"].astype(bool)
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    _check_children(left, right, leaf, what)
    _check_features(nodes["feature_idx"].astype(np.int64), ~leaf, _width(owner), what)
    categorical = ~leaf & nodes["is_categorical"].astype(bool)
    if categorical.any():
        sets = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
        if (nodes["bitset_idx"][categorical].astype(np.int64) >= sets).any():
            raise BundleError(f"{what}: a categorical split points past its {sets} bitsets")


def _check_kdtree(tree: Any, where: str) -> None:
    what = f"{where}: a k-d tree"
    data, idx, nodes, bounds = tree.get_arrays()
    n = len(data)
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) != n or (n and (idx.min() < 0 or idx.max() >= n)):
        raise BundleError(f"{what}: its index array points outside its {n} rows")
    start = nodes["idx_start"].astype(np.int64)
    end = nodes["idx_end"].astype(np.int64)
    if len(nodes) < 1 or (start < 0).any() or (end > n).any() or (start > end).any():
        raise BundleError(f"{what}: a node's range lies outside its {n} rows")
    if np.ndim(bounds) != 3 or bounds.shape[1] != len(nodes) or bounds.shape[2] != data.shape[1]:
        raise BundleError(f"{what}: node bounds of shape {np.shape(bounds)} for {len(nodes)} "
                          f"nodes of {data.shape[1]} features")  # fmt: skip

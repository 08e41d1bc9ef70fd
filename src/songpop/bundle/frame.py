"""Validated rows as the DataFrame a fitted pipeline expects: used by scoring, by the ONNX
graph's check against its estimator, and by a bundle's own check when it loads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from songpop import vocabulary


def feature_frame(X: np.ndarray, feature_names: Sequence[str]) -> pd.DataFrame:
    """The feature matrix as the DataFrame the pipelines were fitted on (category codes as int)."""
    data = {}
    for j, name in enumerate(feature_names):
        column = X[:, j]
        if vocabulary.is_categorical(name) and not np.isnan(column).any():
            data[name] = column.astype(np.int64)
        else:
            data[name] = column
    return pd.DataFrame(data, columns=list(feature_names))

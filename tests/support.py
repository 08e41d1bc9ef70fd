"""Tiny synthetic songs and model bundles shared by the unit, model and interface tests.

Importable as `support` because pytest puts this folder (the home of tests/conftest.py) on
`sys.path`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from songpop import config
from songpop.bundle import save_bundle

FEATURES = list(config.AUDIO_FEATURES)

SONG = {
    "acousticness": 0.2,
    "danceability": 0.65,
    "duration_ms": 210_000.0,
    "energy": 0.7,
    "instrumentalness": 0.0,
    "liveness": 0.12,
    "loudness": -6.5,
    "speechiness": 0.05,
    "tempo": 118.0,
    "valence": 0.55,
    "key": 5,
}
"""A typical valid song: every audio feature, within its range."""


def audio_columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw `n` values of each audio feature within its valid range, in a fixed order.

    Args:
        rng: The generator to draw from (callers may keep drawing from it afterwards).
        n: How many songs.

    Returns:
        One array per audio feature, keyed by feature name.
    """
    return {
        "acousticness": rng.uniform(0, 1, n),
        "danceability": rng.uniform(0.2, 1, n),
        "duration_ms": rng.uniform(120_000, 360_000, n),
        "energy": rng.uniform(0, 1, n),
        "instrumentalness": rng.uniform(0, 0.5, n),
        "liveness": rng.uniform(0, 0.6, n),
        "loudness": rng.uniform(-25, -2, n),
        "speechiness": rng.uniform(0, 0.4, n),
        "tempo": rng.uniform(60, 200, n),
        "valence": rng.uniform(0, 1, n),
        "key": rng.integers(0, 12, n),
    }


def random_songs(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A seeded table of `n` valid songs (audio features only)."""
    return pd.DataFrame(audio_columns(np.random.default_rng(seed), n))


def level_of(X: pd.DataFrame, noise: np.ndarray | float = 0.0) -> pd.Series:
    """Low/medium/high terciles of a score that follows loudness and danceability."""
    score = X["loudness"] / 10 + 2 * X["danceability"] + noise
    return pd.qcut(score, 3, labels=list(config.LEVELS)).astype(str)


def labelled_songs(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A seeded table of valid songs whose level follows loudness and danceability."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(audio_columns(rng, n))
    return X, level_of(X, rng.normal(0, 0.3, n))


def in_hit_predictor_layout(X: pd.DataFrame) -> pd.DataFrame:
    """`X` with the other columns of a Hit Predictor dataset file (`dataset-of-90s.csv`)."""
    n = len(X)
    return X.assign(
        track=[f"track {i}" for i in range(n)],
        artist="Someone",
        uri=[f"spotify:track:{i:022d}" for i in range(n)],
        mode=1,
        time_signature=4,
        chorus_hit=30.0,
        sections=10,
        target=0,
        decade=1990,
    )


def audio_pipeline(final: Any, *, scale: bool) -> Pipeline:
    """Numeric audio features (scaled or passed through) and one-hot `key`, then `final`."""
    numeric = StandardScaler() if scale else "passthrough"
    pre = ColumnTransformer(
        [
            ("num", numeric, list(config.AUDIO_NUMERIC)),
            ("key", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["key"]),
        ]
    )
    return Pipeline([("pre", pre), ("model", final)])


def save_audio_bundle(
    estimator: Any, folder: Path, X: pd.DataFrame, y: pd.Series, **overrides: Any
) -> Path:
    """Save a fitted audio-feature model with neutral metadata; `overrides` replace any field.

    Args:
        estimator: A fitted classifier with `classes_`.
        folder: The bundle folder; its name is the default model id.
        X: The training features, kept as the bundle's reference.
        y: The training labels.
        **overrides: Keyword arguments of `save_bundle` to use instead of the defaults.

    Returns:
        The bundle folder written by `save_bundle`.
    """
    fields: dict[str, Any] = {
        "model_id": folder.name,
        "feature_names": FEATURES,
        "classes": [str(c) for c in estimator.classes_],
        "label_strategy": "spotify",
        "feature_set": "audio",
        "metrics": {},
        "train_table_sha256": "0" * 64,
        "reference_X": X,
        "reference_y": y,
    }
    return save_bundle(estimator, folder, **(fields | overrides))


def refuse_downloads(monkeypatch: Any, cache_file: Path | None = None) -> list[str]:
    """Make the data registry refuse every download, and keep its verification cache apart.

    Args:
        monkeypatch: pytest's `monkeypatch` fixture (undoes all of this after the test).
        cache_file: where the registry keeps its verification cache; None leaves it alone.

    Returns:
        The URLs the registry tried to download, in order (filled in as the test runs).
    """
    from songpop.sources import registry

    calls: list[str] = []

    def refuse(url: str, *args: object, **kwargs: object) -> Path:
        calls.append(url)
        raise ConnectionError("network is unreachable (test)")

    monkeypatch.setattr(registry, "_download", refuse)
    if cache_file is not None:
        monkeypatch.setattr(registry, "_cache_file", lambda: cache_file)
    return calls


def chart_history(y: pd.Series, seed: int = 0) -> pd.DataFrame:
    """Made-up titles, artists and chart histories for the songs labelled `y` (for the
    similar-songs table of a bundle): the "high" ones charted, the others mostly not."""
    rng = np.random.default_rng(seed)
    n = len(y)
    charted = (np.asarray(y) == "high") | (rng.random(n) < 0.2)
    return pd.DataFrame(
        {
            "title": [f"Song {i}" for i in range(n)],
            "artist": [f"Artist {i % 17}" for i in range(n)],
            "year": rng.integers(1960, 2021, n),
            "best_position": np.where(charted, rng.integers(1, 101, n), np.nan),
            "weeks_on_chart": np.where(charted, rng.integers(1, 40, n), 0),
            "popularity": rng.integers(0, 101, n).astype(float),
            "level": np.asarray(y).astype(str),
        }
    )


def save_lgbm_bundle(folder: Path) -> Path:
    """A small LightGBM bundle on `random_songs()` labelled by `level_of`, saved at `folder`."""
    from lightgbm import LGBMClassifier

    X = random_songs()
    y = level_of(X)
    model = LGBMClassifier(n_estimators=20, num_leaves=8, n_jobs=1, random_state=0, verbose=-1)
    est = audio_pipeline(model, scale=False).fit(X, y)
    return save_audio_bundle(est, folder, X, y, songs=chart_history(y))

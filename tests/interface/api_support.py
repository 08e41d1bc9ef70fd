"""Tiny real model bundles for the API, page and benchmark tests (no real data needed).

Two bundles are fitted on a seeded synthetic table whose label follows loudness, danceability
and energy, and saved with `songpop.bundle.save_bundle`:
- `logreg-audio`: scaler + logistic regression on the audio features (the default model);
- `forest-context`: a small random forest on audio + context (year, mode).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from songpop import config
from songpop.bundle import save_bundle

AUDIO = list(config.AUDIO_FEATURES)
CONTEXT = AUDIO + ["year", "mode"]

TYPICAL_SONG = {
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


def synthetic_songs(n: int = 300, seed: int = config.SEED) -> tuple[pd.DataFrame, pd.Series]:
    """A table of `n` songs within the valid ranges and a low/medium/high label."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
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
            "year": rng.integers(1960, 2021, n),
            "mode": rng.integers(0, 2, n),
        }
    )
    score = X["loudness"] / 10 + 2 * X["danceability"] + X["energy"] + rng.normal(0, 0.4, n)
    y = pd.qcut(score, 3, labels=list(config.LEVELS)).astype(str)
    return X, y


def make_bundles(folder: Path) -> list[Path]:
    """Fit and save the two test bundles under `folder`; the first is the default."""
    X, y = synthetic_songs()
    audio = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    audio.fit(X[AUDIO], y)
    forest = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=config.SEED)
    forest.fit(X[CONTEXT], y)
    paths = []
    for model_id, estimator, features, feature_set in (
        ("logreg-audio", audio, AUDIO, "audio"),
        ("forest-context", forest, CONTEXT, "audio+context"),
    ):
        paths.append(
            save_bundle(
                estimator,
                folder / model_id,
                model_id=model_id,
                feature_names=features,
                classes=[str(c) for c in estimator.classes_],
                label_strategy="spotify",
                feature_set=feature_set,
                metrics={"accuracy": 0.5, "accuracy_ci": [0.4, 0.6], "n_test": 60},
                train_table_sha256="0" * 64,
                reference_X=X[features],
                reference_y=y,
                task="seed",
            )
        )
    return paths

"""Tiny real model bundles for the API, page and benchmark tests (no real data needed).

Two bundles are fitted on a seeded synthetic table whose label follows loudness, danceability
and energy, and saved with `support.save_audio_bundle` (a thin layer over `save_bundle`):
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
from support import SONG, audio_columns, chart_history, save_audio_bundle

AUDIO = list(config.AUDIO_FEATURES)
CONTEXT = AUDIO + ["year", "mode"]

TYPICAL_SONG = SONG


def synthetic_songs(n: int = 300, seed: int = config.SEED) -> tuple[pd.DataFrame, pd.Series]:
    """A table of `n` songs within the valid ranges and a low/medium/high label."""
    rng = np.random.default_rng(seed)
    columns = audio_columns(rng, n)
    columns["year"] = rng.integers(1960, 2021, n)
    columns["mode"] = rng.integers(0, 2, n)
    X = pd.DataFrame(columns)
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
            save_audio_bundle(
                estimator,
                folder / model_id,
                X[features],
                y,
                feature_names=features,
                feature_set=feature_set,
                metrics={"accuracy": 0.5, "accuracy_ci": [0.4, 0.6], "n_test": 60},
                task="seed",
                songs=chart_history(y),
            )
        )
    return paths

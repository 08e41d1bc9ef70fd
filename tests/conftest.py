"""Shared test set-up: the data folder, fixed seeds, and the real tables built once per session."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest

_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if not os.environ.get("SONGPOP_DATA_DIR") and _SHARED.is_dir():
    os.environ["SONGPOP_DATA_DIR"] = str(_SHARED)

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Caches songpop makes (the catalogue index) go inside the checkout, never into the shared data.
os.environ.setdefault(
    "SONGPOP_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "songpop")
)
# `songpop run` registers finished runs in the songpop home: tests get a home of their own, so
# that they neither read nor write the person's (each process its own, empty at the start).
os.environ["SONGPOP_HOME"] = tempfile.mkdtemp(prefix="songpop-home-")


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder; data tests are skipped only outside CI when it is absent."""
    env = os.environ.get("SONGPOP_DATA_DIR")
    path = Path(env) if env else _SHARED
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"SONGPOP_DATA_DIR={path} does not exist; CI needs the real data")
        pytest.skip(f"real data folder {path} not found; set SONGPOP_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep screenshots and other artifacts for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def seed_model(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """One LightGBM on the audio features of the real seed songs (quick budget: seconds),
    trained once per test process for the page tests that need a real model."""
    import pandas as pd

    from songpop.build import build_dataset
    from songpop.train import train_task

    root = tmp_path_factory.mktemp("seed-model")
    build_dataset(root / "data", data_dir=data_dir, profile="seed")
    songs = pd.read_parquet(root / "data" / "songs.parquet")
    train_task(
        songs, root / "models", task="seed", label_strategy="spotify", budget="quick",
        models=["lgbm"], feature_sets=("audio",), extras=False,
    )  # fmt: skip
    return root / "models" / "seed" / "audio" / "lgbm"

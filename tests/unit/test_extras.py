"""PyTorch is the optional `mlp` group (`pip install 'songpop[mlp]'`): without it the default
models train, the MLP is left out of the default list with a note, and asking for an MLP by name,
reproducing the report or loading an MLP bundle is refused before any work, saying what to
install. Torch is hidden the way Python's import system documents (None in `sys.modules`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from songpop import config
from songpop.bundle import load_bundle
from songpop.cli import app
from songpop.errors import MissingExtraError
from songpop.models.registry import (
    MODELS,
    default_models,
    left_out,
    models_for,
    parse_model_list,
    require_installed,
)
from songpop.reproduce import reproduce
from songpop.train import train_task
from support import FEATURES, labelled_songs, save_audio_bundle

runner = CliRunner()
INSTALL = "pip install 'songpop[mlp]'"
TORCH_MODELS = {"mlp", "mlp_original", "mlp_baseline_original"}


@pytest.fixture()
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's process as if torch were not installed (restored after the test)."""
    monkeypatch.setitem(sys.modules, "torch", None)


def test_the_registry_says_which_models_need_the_group() -> None:
    assert {name for name, spec in MODELS.items() if spec.extra == "mlp"} == TORCH_MODELS
    assert all(MODELS[name].installed for name in MODELS)  # the dev install has torch
    assert config.extra_installed("mlp") and left_out() == {}
    assert "mlp" in default_models() and "mlp" in models_for("default", "full")


def test_without_torch_the_default_list_leaves_the_mlp_out_and_says_why(no_torch) -> None:
    assert not config.extra_installed("mlp")
    assert "mlp" not in default_models() and "lgbm" in default_models()
    assert "mlp" not in models_for("default", "full")
    assert models_for("default", "default") == [
        n for n in models_for("default", "full") if not MODELS[n].comparison
    ]
    assert left_out() == {"mlp": f"model 'mlp' needs PyTorch, which songpop's default "
                                 f"install leaves out: {INSTALL}"}  # fmt: skip
    require_installed(["dummy", "logreg", "lgbm"])  # nothing to refuse


def test_without_torch_an_mlp_asked_for_by_name_is_refused(no_torch) -> None:
    with pytest.raises(MissingExtraError, match=r"models 'mlp', 'mlp_original' need PyTorch"):
        require_installed(["lgbm", "mlp", "mlp_original"])
    with pytest.raises(MissingExtraError, match=INSTALL.replace("[", r"\[").replace("]", r"\]")):
        parse_model_list("lgbm,mlp")
    with pytest.raises(MissingExtraError, match="model 'mlp' needs PyTorch"):
        MODELS["mlp"].build(list(config.AUDIO_FEATURES))
    X, y = labelled_songs(60, seed=2)
    with pytest.raises(MissingExtraError, match="model 'mlp' needs PyTorch"):
        train_task(X.assign(level=y), Path("unused"), task="t", label_strategy="spotify",
                   models=["dummy", "mlp"], budget="quick")  # fmt: skip


def test_without_torch_the_cli_refuses_in_one_line(no_torch, tmp_path: Path) -> None:
    X, y = labelled_songs(60, seed=3)
    songs = tmp_path / "songs.parquet"
    X.assign(level=y).to_parquet(songs)
    result = runner.invoke(
        app, ["train", "--songs", str(songs), "--out", str(tmp_path / "m"), "--models", "mlp"]
    )
    assert result.exit_code == 2, result.output
    assert "model 'mlp' needs PyTorch" in result.output and INSTALL in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()


def test_without_torch_reproduce_refuses_before_reading_anything(no_torch, tmp_path) -> None:
    # the data folder does not exist: the refusal comes before the table is read
    with pytest.raises(MissingExtraError, match="'mlp_baseline_original', 'mlp_original'"):
        reproduce(tmp_path / "out", data_dir=tmp_path / "nowhere", budget="quick")
    assert not (tmp_path / "out").exists()


def test_without_torch_an_mlp_bundle_says_what_to_install(tmp_path: Path) -> None:
    X, y = labelled_songs(120, seed=4)
    estimator = MODELS["mlp"].build(FEATURES, quick=True).fit(X[FEATURES], y)
    saved = save_audio_bundle(estimator, tmp_path / "mlp", X[FEATURES], y, compile=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "torch", None)
        # an MLP has no ONNX graph: its estimator is loaded with the bundle
        with pytest.raises(MissingExtraError, match=r"/mlp: this bundle's MLP needs PyTorch"):
            load_bundle(saved)
    proba = load_bundle(saved).estimator.predict_proba(X[FEATURES].head(3))
    assert np.allclose(proba.sum(axis=1), 1.0)

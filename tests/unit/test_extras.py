"""PyTorch is the optional `mlp` group (`songpop[mlp]`): without it the default
models train, the MLP is left out of the default list with a note, and asking for an MLP by name,
reproducing the report or loading an MLP bundle is refused before any work, saying what to
install. Torch is hidden the ways Python's import system documents: None in `sys.modules` in this
process for the refusals, a finder on `sys.meta_path` in a new process that trains without it."""

from __future__ import annotations

import importlib.metadata
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from songpop import config
from songpop.api.state import load_models
from songpop.bundle import load_bundle
from songpop.cli import app
from songpop.errors import MissingExtraError, SchemaError
from songpop.models.registry import (
    MODELS,
    default_models,
    left_out,
    models_for,
    parse_model_list,
    require_installed,
)
from songpop.pipeline import TASKS, fits_mlp
from songpop.reproduce import reproduce
from songpop.train import train_task
from support import FEATURES, labelled_songs, save_audio_bundle

runner = CliRunner()
INSTALL = shlex.join([sys.executable, "-m", "pip", "install", "torch==2.13.0"])
"""The command every refusal ends with: this Python's pip and the pin of pyproject.toml."""
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


def test_the_install_command_comes_from_the_installed_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert config.extra_install_command("mlp") == INSTALL  # pyproject.toml's pin, installed
    requires = [
        "numpy==2.1.3",
        "torch==2.13.0 ; extra == 'mlp'",
        'songpop[mlp] ; extra == "dev"',
        'sympy>=1.13; python_version < "3.13" and extra == "mlp"',
    ]
    monkeypatch.setattr(importlib.metadata, "requires", lambda _name: requires)
    assert config.extra_install_command("mlp").endswith(
        " -m pip install torch==2.13.0 'sympy>=1.13'"
    )

    def not_installed(name: str) -> list[str]:
        raise importlib.metadata.PackageNotFoundError(name)

    # run from a source folder: the module by name, never songpop from the package index
    monkeypatch.setattr(importlib.metadata, "requires", not_installed)
    assert config.extra_install_command("mlp") == shlex.join(
        [sys.executable, "-m", "pip", "install", "torch"]
    )


def test_the_pipeline_knows_which_tasks_fit_the_mlp_as_the_registry_does() -> None:
    for task, plan in TASKS.items():
        for budget in ("quick", "default", "full"):
            assert fits_mlp(task, budget) == ("mlp" in models_for(plan.models, budget)), (
                task,
                budget,
            )
    assert fits_mlp("seed", "full") and not fits_mlp("seed", "default")


def test_without_torch_the_default_list_leaves_the_mlp_out_and_says_why(no_torch) -> None:
    assert not config.extra_installed("mlp")
    assert "mlp" not in default_models() and "lgbm" in default_models()
    assert "mlp" not in models_for("default", "full")
    assert left_out() == {"mlp": "mlp"}
    assert config.missing_extra_message("model 'mlp'", "mlp") == (
        f"model 'mlp' needs PyTorch, which songpop's default install leaves out; to add it: "
        f"{INSTALL}"
    )
    require_installed(["dummy", "logreg", "lgbm"])  # nothing to refuse
    with pytest.raises(SchemaError, match="unknown model 'nope'"):
        require_installed(["nope"])


def test_without_torch_an_mlp_asked_for_by_name_is_refused(no_torch, tmp_path: Path) -> None:
    with pytest.raises(MissingExtraError, match=r"models 'mlp', 'mlp_original' need PyTorch"):
        require_installed(["lgbm", "mlp", "mlp_original"])
    with pytest.raises(MissingExtraError) as refused:
        parse_model_list("lgbm,mlp")
    assert str(refused.value).endswith(INSTALL)
    with pytest.raises(MissingExtraError, match="model 'mlp' needs PyTorch"):
        MODELS["mlp"].build(list(config.AUDIO_FEATURES))
    X, y = labelled_songs(60, seed=2)
    with pytest.raises(MissingExtraError, match="model 'mlp' needs PyTorch"):
        train_task(X.assign(level=y), tmp_path / "models", task="t", label_strategy="spotify",
                   models=["dummy", "mlp"], budget="quick")  # fmt: skip
    assert not (tmp_path / "models").exists()  # refused before anything was fitted or written


def test_without_torch_the_cli_refuses_in_one_line(no_torch, tmp_path: Path) -> None:
    X, y = labelled_songs(60, seed=3)
    songs = tmp_path / "songs.parquet"
    X.assign(level=y).to_parquet(songs)
    result = runner.invoke(
        app, ["train", "--songs", str(songs), "--out", str(tmp_path / "m"), "--models", "mlp"]
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # the CLI's own exit, not a crash
    assert result.output.count("\n") == 1  # one line, the command last
    assert "model 'mlp' needs PyTorch" in result.output
    assert result.output.rstrip().endswith(INSTALL)
    assert not (tmp_path / "m").exists()


def test_without_torch_reproduce_refuses_before_reading_anything(no_torch, tmp_path) -> None:
    # the data folder does not exist: the refusal comes before the table is read
    with pytest.raises(MissingExtraError, match="'mlp_baseline_original', 'mlp_original'"):
        reproduce(tmp_path / "out", data_dir=tmp_path / "nowhere", budget="quick")
    assert not (tmp_path / "out").exists()


def test_without_torch_reproduce_says_which_of_songpop_s_models_it_leaves_out(no_torch) -> None:
    from songpop.reproduce import songpop_left_out, to_markdown

    left = songpop_left_out(None)  # songpop's default models, as reproduce() trains them
    assert list(left) == ["mlp"] and left["mlp"].endswith(INSTALL)
    assert "model 'mlp' needs PyTorch" in left["mlp"]
    assert songpop_left_out(("dummy", "lgbm")) == {}  # named models: refused, not left out
    summary = {"n_songs": 10, "expected_songs": 10, "row_order": "x", "splits": {},
               "table": [], "originals": {}, "left_out": left}  # fmt: skip
    assert f"Left out of songpop's models: {left['mlp']}\n" in to_markdown(summary)


@pytest.fixture(scope="module")
def mlp_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small MLP saved as a bundle (torch installed), with the songs it learned from."""
    X, y = labelled_songs(120, seed=4)
    estimator = MODELS["mlp"].build(FEATURES, quick=True).fit(X[FEATURES], y)
    root = tmp_path_factory.mktemp("mlp")
    X[FEATURES].to_parquet(root / "songs.parquet")
    return save_audio_bundle(estimator, root / "mlp", X[FEATURES], y, compile=False)


def test_without_torch_an_mlp_bundle_says_what_to_install(mlp_bundle: Path) -> None:
    saved = mlp_bundle
    X, _ = labelled_songs(120, seed=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "torch", None)
        with pytest.raises(MissingExtraError, match="this bundle's MLP needs PyTorch"):
            load_models([saved])  # as `songpop serve --model` loads it
        # refused from bundle.json alone, before any file is checked or read
        patch.setattr("songpop.bundle.store.verify_files", _never)
        with pytest.raises(MissingExtraError, match=r"/mlp: this bundle's MLP needs PyTorch"):
            load_bundle(saved)
    proba = load_bundle(saved).estimator.predict_proba(X[FEATURES].head(3))
    assert np.allclose(proba.sum(axis=1), 1.0)


def _never(*_args: object) -> None:
    raise AssertionError("a bundle songpop must refuse was read further")


# A new process without torch: `songpop train` with its default models, as a user of the default
# install runs it. A finder first on `sys.meta_path` says no module torch exists (None in
# `sys.modules` would not do here: SciPy's array-API check reads any "torch" entry there as the
# module) and notes every import of torch tried other than songpop's question whether it is
# installed (`importlib.util.find_spec`); at its exit the process lists them (none may be: code
# that tried and fell back quietly would be found here).
_WITHOUT_TORCH = """
import atexit, sys, traceback

tried = []

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] != "torch":
            return None
        asked = any(f.name == "find_spec" and f.filename.endswith(("importlib/util.py",
                                                                   "importlib.util>"))
                    for f in traceback.extract_stack())  # the module may be frozen
        if not asked:
            tried.append(name)
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoTorch())
atexit.register(lambda: print("torch imports tried:", sorted(set(tried))))
from songpop.__main__ import main
sys.argv = ["songpop", *sys.argv[1:]]
main()
"""


def test_a_process_without_torch_trains_the_default_models_and_says_what_is_left_out(
    tmp_path: Path,
) -> None:
    X, y = labelled_songs(150, seed=5)
    songs = tmp_path / "songs.parquet"
    X.assign(level=y).to_parquet(songs)
    out = tmp_path / "models"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, "train", "--songs", str(songs), "--out", str(out),
         "--label", "spotify", "--task", "t", "--budget", "quick", "--feature-sets", "audio",
         "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, said
    assert "note: model 'mlp' is left out: it needs PyTorch" in said
    assert "torch imports tried: []" in said
    trained = {p.name for p in (out / "t" / "audio").iterdir() if p.is_dir()}
    assert "mlp" not in trained and {"dummy", "logreg", "lgbm"} <= trained, trained


def test_without_torch_the_cluster_path_refuses_an_mlp_before_starting(
    no_torch, mlp_bundle: Path, tmp_path: Path
) -> None:
    # the scheduler does not exist: the refusal comes before any cluster is asked for
    result = runner.invoke(app, [
        "predict", "--csv", str(mlp_bundle.parent / "*.parquet"), "--out", str(tmp_path / "out"),
        "--model", str(mlp_bundle), "--scheduler", "tcp://127.0.0.1:9",
    ])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "this bundle's MLP needs PyTorch" in result.output and "scheduler" not in result.output
    assert not (tmp_path / "out").exists()

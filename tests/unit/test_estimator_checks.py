"""Allow-listed objects with arrays that lie are refused before they predict (issue #21).

A tree whose root splits on feature 2^40, or whose children point past its nodes, made
`verify`, `predict` and the server die with a segmentation fault; each is crafted here in a real
bundle (hashes recomputed) and must be a BundleError naming the file, in a child process where
a crash would show as a failure rather than end the test run (without the checks, the first
case ends that process with SIGSEGV).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

from songpop.bundle import load_bundle, verify_bundle
from songpop.bundle.store import ESTIMATOR_FILE, META_FILE, sha256_file
from songpop.errors import BundleError
from support import audio_pipeline, labelled_songs, save_audio_bundle


def rehash(folder: Path) -> None:
    meta = json.loads((folder / META_FILE).read_text())
    meta["files"] = {name: sha256_file(folder / name) for name in meta["files"]}
    (folder / META_FILE).write_text(json.dumps(meta))


def saved(model, tmp_path: Path, scale: bool = False) -> tuple[Path, object]:
    X, y = labelled_songs(120, seed=5)
    est = audio_pipeline(model, scale=scale).fit(X, y)
    return save_audio_bundle(est, tmp_path / "m", X, y, compile=False), est


def edit(folder: Path, change) -> None:
    """Load the skops file, let `change` edit the fitted estimator, save it, rehash."""
    file = folder / ESTIMATOR_FILE
    est = sio.load(file, trusted=sio.get_untrusted_types(file=file))
    change(est)
    file.write_bytes(sio.dumps(est))
    rehash(folder)


def edit_tree(field: str, value: int, node: int = 0):
    def change(est) -> None:
        tree = est.steps[-1][1].estimators_[0].tree_
        state = tree.__getstate__()
        nodes = state["nodes"].copy()
        nodes[field][node] = value
        state["nodes"] = nodes
        tree.__setstate__(state)

    return change


CALLS = (
    "load_bundle(folder, eager=True)",
    "verify_bundle(folder)",
    "predict(SONG, load_bundle(folder))",
)
"""Each way a bundle is read: each must refuse it, none may crash."""
MARK = "== call: "


def in_child(folders: dict[str, Path], calls: tuple[str, ...]) -> subprocess.CompletedProcess:
    """Run `calls` on each folder one after another in one child process (one interpreter
    start, and one import of skops and scikit-learn, instead of one per case or call); before
    each, a line `MARK name: call` says which one the output below belongs to (and which one
    was running if the process dies)."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "from support import SONG\n"
        "from songpop.bundle import load_bundle, verify_bundle\n"
        "from songpop.inference import predict\n"
        "from songpop.errors import BundleError\n"
    )
    for name, folder in folders.items():
        code += f"folder = {str(folder)!r}\n"
        for call in calls:
            code += (
                f"print({MARK + name + ': ' + call!r}, flush=True)\n"
                "try:\n"
                f"    {call}\n"
                "except BundleError as exc:\n"
                "    print('refused:', exc, flush=True)\n"
            )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def by_call(stdout: str) -> dict[str, str]:
    """The child's output, split at the `MARK` lines: call → what it printed."""
    parts = stdout.split(MARK)[1:]
    return {
        part.split("\n", 1)[0]: part.split("\n", 1)[1] if "\n" in part else "" for part in parts
    }


TREE_LIES = {
    "feature": (2**40, "splits on feature 1099511627776"),
    "left_child": (10_000, "left child is 10000, not a later node"),
    "right_child": (0, "right child is 0, not a later node"),
}
"""A field of the first tree's root node → the value written there and what the refusal says."""


@pytest.fixture(scope="module")
def lying_trees(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    """A forest bundle per lie in `TREE_LIES`, each read every way (`CALLS`) in one child."""
    folders = {}
    for field, (value, _) in TREE_LIES.items():
        folder, _ = saved(RandomForestClassifier(n_estimators=3, random_state=0),
                          tmp_path_factory.mktemp(field))  # fmt: skip
        edit(folder, edit_tree(field, value))
        folders[field] = folder
    return in_child(folders, CALLS)


@pytest.mark.parametrize("field", list(TREE_LIES))
def test_a_tree_with_indices_out_of_range_is_refused_without_a_crash(
    lying_trees: subprocess.CompletedProcess, field: str
) -> None:
    done, said = lying_trees, TREE_LIES[field][1]
    outputs = by_call(done.stdout)
    assert done.returncode == 0, (list(outputs)[-1:], done.returncode, done.stderr[-500:])
    mine = {k.split(": ", 1)[1]: v for k, v in outputs.items() if k.startswith(f"{field}: ")}
    assert list(mine) == list(CALLS), done.stdout
    for call, output in mine.items():
        assert "refused:" in output and said in output, (call, output)
        assert ESTIMATOR_FILE in output, (call, output)


def test_a_tree_declaring_another_width_than_its_model_is_refused(tmp_path: Path) -> None:
    folder, _ = saved(RandomForestClassifier(n_estimators=2, random_state=0), tmp_path)

    def change(est) -> None:
        est.steps[-1][1].estimators_[1].n_features_in_ = 3

    edit(folder, change)
    with pytest.raises(BundleError, match="takes .* features; its model takes 3"):
        load_bundle(folder, eager=True)


def test_a_gradient_boosting_tree_with_a_bad_feature_is_refused(tmp_path: Path) -> None:
    folder, _ = saved(HistGradientBoostingClassifier(max_iter=5, random_state=0), tmp_path)

    def change(est) -> None:
        predictor = est.steps[-1][1]._predictors[0][0]
        predictor.nodes["feature_idx"][0] = 10**6

    edit(folder, change)
    with pytest.raises(BundleError, match="gradient boosting tree: node 0 splits on feature"):
        verify_bundle(folder)


def test_a_kd_tree_pointing_outside_its_data_is_refused(tmp_path: Path) -> None:
    model = KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree")
    folder, _ = saved(model, tmp_path, scale=True)

    def change(est) -> None:
        knn = est.steps[-1][1]
        state = list(knn._tree.__getstate__())
        idx = np.asarray(state[1]).copy()
        idx[0] = 10**9
        state[1] = idx
        knn._tree.__setstate__(tuple(state))

    edit(folder, change)
    with pytest.raises(BundleError, match="k-d tree: its index array points outside"):
        load_bundle(folder, eager=True)


def test_the_untouched_models_load_and_verify(tmp_path: Path) -> None:
    for i, model in enumerate(
        [
            RandomForestClassifier(n_estimators=3, random_state=0),
            HistGradientBoostingClassifier(max_iter=5, random_state=0),
            KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree"),
        ]
    ):
        folder, est = saved(model, tmp_path / str(i), scale=True)
        passed = verify_bundle(folder)
        assert any("estimator arrays consistent" in line for line in passed)


def test_torch_sizes_that_disagree_with_the_weights_are_refused_before_allocating(
    tmp_path: Path,
) -> None:
    from songpop.models.mlp import TorchMLPClassifier

    model = TorchMLPClassifier(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    folder, _ = saved(model, tmp_path, scale=True)
    params_file = folder / "torch_0.json"
    params = json.loads(params_file.read_text())
    params["params"]["hidden_layer_sizes"] = [20000, 20000]
    params_file.write_text(json.dumps(params))
    rehash(folder)
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(BundleError, match=r"declared sizes \(hidden_layer_sizes \[20000, 20000\]"):
        load_bundle(folder, eager=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100 * 1024 * 1024  # 20000 × 20000 float32 weights would be 1.6 GB

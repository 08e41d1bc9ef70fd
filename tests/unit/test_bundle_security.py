"""A model bundle never runs code: dangerous types, pickles and escaping paths are refused first."""

from __future__ import annotations

import builtins
import json
import os
import pickle
import subprocess
from pathlib import Path

import pytest
import skops.io as sio
from numpy.testing._private.utils import runstring
from sklearn.linear_model import LogisticRegression

from songpop.bundle import load_bundle
from songpop.bundle.store import ESTIMATOR_FILE, META_FILE, sha256_file
from songpop.errors import BundleError
from support import audio_pipeline, labelled_songs, save_audio_bundle


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    X, y = labelled_songs(120)
    est = audio_pipeline(LogisticRegression(max_iter=300), scale=True).fit(X, y)
    return save_audio_bundle(est, tmp_path / "m", X, y, compile=False)


def rehash(folder: Path, **changes: object) -> None:
    """Update bundle.json as an attacker would: every recorded sha256 matches the files."""
    meta = json.loads((folder / META_FILE).read_text())
    meta.update(changes)
    meta["files"] = {name: sha256_file(folder / name) for name in meta["files"]}
    for name in changes.get("extra_files", []):  # type: ignore[union-attr]
        meta["files"][name] = sha256_file(folder / name)
    meta.pop("extra_files", None)
    (folder / META_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "payload, shown",
    [
        (runstring, "numpy.testing._private.utils.runstring"),
        (os.system, "system"),
        (builtins.eval, "builtins.eval"),
        (subprocess.Popen, "subprocess.Popen"),
    ],
)
def test_a_skops_file_with_a_dangerous_type_is_refused_before_loading(
    bundle_dir: Path, payload: object, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LogisticRegression()
    model.payload = payload
    (bundle_dir / ESTIMATOR_FILE).write_bytes(sio.dumps(model))
    rehash(bundle_dir)
    loads = []
    monkeypatch.setattr(sio, "load", lambda *a, **k: loads.append(a))
    with pytest.raises(BundleError, match=f"refusing to load object type.*{shown}"):
        load_bundle(bundle_dir, eager=True)
    assert loads == []  # skops never got to build anything


def test_a_pickle_in_a_torch_slot_runs_nothing(bundle_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (bundle_dir / "torch_0_state.pt").write_bytes(pickle.dumps({"weight": Payload()}))
    (bundle_dir / "torch_0.json").write_text(
        json.dumps({"class_path": "songpop.models.mlp.TorchMLPClassifier"})
    )
    meta = json.loads((bundle_dir / META_FILE).read_text())
    layout = dict(
        meta["layout"], torch_slots=[{"state": "torch_0_state.pt", "params": "torch_0.json"}]
    )
    rehash(bundle_dir, layout=layout, extra_files=["torch_0_state.pt", "torch_0.json"])
    with pytest.raises(BundleError, match="torch_0_state.pt: cannot load the torch model"):
        load_bundle(bundle_dir, eager=True)
    assert not marker.exists()


def test_a_torch_slot_of_another_class_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / "torch_0_state.pt").write_bytes(b"")
    (bundle_dir / "torch_0.json").write_text(json.dumps({"class_path": "songpop.io.os"}))
    layout = {
        "kind": "skops",
        "torch_slots": [{"state": "torch_0_state.pt", "params": "torch_0.json"}],
    }
    rehash(bundle_dir, layout=layout, extra_files=["torch_0_state.pt", "torch_0.json"])
    with pytest.raises(BundleError, match="refusing to load object type 'songpop.io.os'"):
        load_bundle(bundle_dir, eager=True)


@pytest.mark.parametrize("name", ["../outside.pt", "/etc/passwd", "sub/../../x"])
def test_a_slot_path_outside_the_bundle_is_refused(bundle_dir: Path, name: str) -> None:
    layout = {"kind": "skops", "torch_slots": [{"state": name, "params": name}]}
    rehash(bundle_dir, layout=layout)
    with pytest.raises(BundleError, match="not a plain file name"):
        load_bundle(bundle_dir, eager=True)


def test_a_slot_file_not_covered_by_a_hash_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / "torch_0.json").write_text("{}")
    layout = {"kind": "skops", "torch_slots": [{"state": "torch_0.json", "params": "torch_0.json"}]}
    rehash(bundle_dir, layout=layout)
    with pytest.raises(BundleError, match="not among the bundle's hashed files"):
        load_bundle(bundle_dir, eager=True)


def test_a_link_out_of_the_bundle_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.parquet"
    (bundle_dir / "reference_sample.parquet").rename(outside)
    (bundle_dir / "reference_sample.parquet").symlink_to(outside)
    with pytest.raises(BundleError, match="leads outside the bundle folder"):
        load_bundle(bundle_dir)


def test_a_changed_file_with_the_old_hash_is_refused(bundle_dir: Path) -> None:
    with open(bundle_dir / ESTIMATOR_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="modified or corrupted"):
        load_bundle(bundle_dir)


def test_models_verify_checks_a_bundle_and_names_what_is_wrong(bundle_dir: Path) -> None:
    from typer.testing import CliRunner

    from songpop.cli import app

    runner = CliRunner()
    good = runner.invoke(app, ["models", "verify", str(bundle_dir)])
    assert good.exit_code == 0, good.output
    assert "match the sha256" in good.output and "only trusted object types" in good.output
    assert "predicts 120 reference rows" in good.output
    with open(bundle_dir / ESTIMATOR_FILE, "ab") as handle:
        handle.write(b"\0")
    bad = runner.invoke(app, ["models", "verify", str(bundle_dir)])
    assert bad.exit_code == 2 and "modified or corrupted" in bad.output
    assert "Traceback" not in bad.output


_TRUSTED = """
import json, sys
{prelude}
import skops.io._trusted_types as T
print(json.dumps({{"types": sorted(T.SKLEARN_ESTIMATOR_TYPE_NAMES + T.SKLEARN_INTERNAL_TYPE_NAMES),
                  "torch": "torch" in sys.modules,
                  "shim": sys.modules.get("sklearn.externals.array_api_compat.torch", "absent")
                  is None}}))
"""


def _skops_in_a_new_process(prelude: str) -> dict:
    import sys

    done = subprocess.run([sys.executable, "-c", _TRUSTED.format(prelude=prelude)],
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    return json.loads(done.stdout)


def test_skops_without_torch_trusts_exactly_the_same_types() -> None:
    plain = _skops_in_a_new_process("")
    ours = _skops_in_a_new_process("from songpop.bundle.store import import_skops; import_skops()")
    assert ours["types"] == plain["types"] and len(plain["types"]) > 100
    assert plain["torch"] and not ours["torch"]  # torch is installed; songpop's import skips it
    assert not ours["shim"]  # the adapter is importable again afterwards (no None left behind)


def test_skops_imported_from_two_threads_at_once_is_whole_in_both() -> None:
    # a thread that found skops half-imported by another would miss its functions
    code = """
import threading
from songpop.bundle.store import import_skops
got = []
threads = [threading.Thread(target=lambda: got.append(import_skops())) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(all(hasattr(m, "get_untrusted_types") and hasattr(m, "dump") for m in got), len(got))
"""
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    assert done.stdout.split() == ["True", "4"]

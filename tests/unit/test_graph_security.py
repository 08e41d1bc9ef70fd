"""A model file reads nothing, loops nowhere and answers only probabilities (issue #21).

Every graph here is made in the test with `onnx.helper` and put into a real bundle whose
hashes are recomputed, as an attacker who edits a bundle would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from songpop.bundle import compiled, load_bundle, verify_bundle
from songpop.bundle.store import META_FILE, ONNX_FILE, sha256_file
from songpop.errors import BundleError
from songpop.inference import predict_frame
from songpop.models.registry import MODELS
from support import FEATURES, labelled_songs, save_audio_bundle

N = len(FEATURES)


@pytest.fixture(scope="module")
def compiled_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X, y = labelled_songs(150, seed=3)
    est = MODELS["logreg"].build(FEATURES, quick=True).fit(X, y)
    path = save_audio_bundle(est, tmp_path_factory.mktemp("b") / "logreg", X, y)
    assert (path / ONNX_FILE).is_file()
    return path


@pytest.fixture
def bundle_dir(compiled_bundle: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(compiled_bundle, tmp_path / "bundle"))


def put_graph(folder: Path, model: onnx.ModelProto | bytes) -> None:
    """Replace the bundle's graph and recompute every hash in bundle.json."""
    data = model if isinstance(model, bytes) else model.SerializeToString()
    (folder / ONNX_FILE).write_bytes(data)
    meta = json.loads((folder / META_FILE).read_text())
    meta["files"] = {name: sha256_file(folder / name) for name in meta["files"]}
    (folder / META_FILE).write_text(json.dumps(meta))


def answer_graph(row: list[float], *, extra_nodes=(), extra_inits=(), opsets=None):
    """A graph of allowed operators whose probabilities are `row` for every input row."""
    k = len(row)
    inits = [
        numpy_helper.from_array(np.arange(k, dtype=np.int64), "cols"),
        numpy_helper.from_array(np.zeros(1, dtype=np.float32), "zero"),
        numpy_helper.from_array(np.asarray(row, dtype=np.float32), "row"),
        *extra_inits,
    ]
    nodes = [
        helper.make_node("Gather", ["X", "cols"], ["picked"], axis=1),
        helper.make_node("Mul", ["picked", "zero"], ["zeros"]),
        *extra_nodes,
        helper.make_node("Add", ["zeros", "row"], ["probabilities"]),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "crafted",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, N])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, k]),
        ],
        inits,
    )
    return helper.make_model(
        graph, opset_imports=opsets or [helper.make_opsetid("", 17)], ir_version=8
    )


def rows(n: int = 4) -> np.ndarray:
    return labelled_songs(n, seed=9)[0].to_numpy(dtype=float)


def test_a_crafted_graph_of_allowed_operators_scores(bundle_dir: Path) -> None:
    put_graph(bundle_dir, answer_graph([0.2, 0.3, 0.5]))
    bundle = load_bundle(bundle_dir)
    got = predict_frame(labelled_songs(5, seed=2)[0], bundle)
    assert np.allclose(got[[f"proba_{c}" for c in bundle.classes]].to_numpy(), [0.2, 0.3, 0.5])


def test_an_initializer_with_external_data_is_refused_before_onnx_runtime_reads_it(
    bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_bytes(b"SPOTIFY_CLIENT_SECRET=abcdefgh" * 4)
    monkeypatch.chdir(tmp_path)
    secret = TensorProto(name="row", data_type=TensorProto.FLOAT, dims=[3])
    secret.data_location = TensorProto.EXTERNAL
    for key, value in (("location", ".env"), ("offset", "0"), ("length", "12")):
        entry = secret.external_data.add()
        entry.key, entry.value = key, value
    model = answer_graph([0.2, 0.3, 0.5])
    model.graph.initializer[2].CopyFrom(secret)
    put_graph(bundle_dir, model)
    import onnxruntime

    sessions = []
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: sessions.append(a))
    with pytest.raises(BundleError, match="'row' keeps its data in another file"):
        load_bundle(bundle_dir)
    with pytest.raises(BundleError, match="keeps its data in another file"):
        verify_bundle(bundle_dir)
    assert sessions == []


def test_external_data_inside_a_subgraph_is_refused(bundle_dir: Path) -> None:
    inner = numpy_helper.from_array(np.ones(3, dtype=np.float32), "inner")
    inner.data_location = TensorProto.EXTERNAL
    entry = inner.external_data.add()
    entry.key, entry.value = "location", "secret.bin"
    branch = helper.make_graph(
        [helper.make_node("Identity", ["inner"], ["out"])],
        "branch",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [3])],
        [inner],
    )
    cond = numpy_helper.from_array(np.array(True), "cond")
    node = helper.make_node("If", ["cond"], ["unused"], then_branch=branch, else_branch=branch)
    put_graph(bundle_dir, answer_graph([0.2, 0.3, 0.5], extra_nodes=[node], extra_inits=[cond]))
    with pytest.raises(BundleError, match="'inner' keeps its data in another file"):
        load_bundle(bundle_dir)


def loop_graph(trips: int) -> onnx.ModelProto:
    """A Loop of `trips` iterations that the probabilities depend on (not folded away)."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["v_in"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    model = answer_graph([0.2, 0.3, 0.5])
    graph = model.graph
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(trips, dtype=np.int64), "trips"),
            numpy_helper.from_array(np.array(True), "go"),
        ]
    )
    add = graph.node[2]  # zeros + row → probabilities: route the sum through the loop
    add.output[0] = "before_loop"
    loop = helper.make_node("Loop", ["trips", "go", "before_loop"], ["probabilities"], body=body)
    graph.node.insert(3, loop)
    return model


def test_a_loop_is_refused_and_would_be_stopped_by_the_time_limit(bundle_dir: Path) -> None:
    model = loop_graph(2**62)
    put_graph(bundle_dir, model)
    with pytest.raises(BundleError, match=r"control flow \(Loop\) is not allowed"):
        load_bundle(bundle_dir)
    # the time limit is the second line: the same graph, loaded past the check, is stopped
    sess = compiled.session(model.SerializeToString())
    started = time.perf_counter()
    with pytest.raises(BundleError, match="took more than 0.5 s; stopped"):
        compiled.run(sess, rows(), n_classes=3, seconds=0.5)
    assert time.perf_counter() - started < 10
    short = compiled.session(loop_graph(3).SerializeToString())
    assert compiled.run(short, rows(), n_classes=3).shape == (4, 3)  # the watchdog rearms


@pytest.mark.parametrize(
    "domain, op", [("com.microsoft", "Rfft"), ("evil.custom", "Steal"), ("", "Scan")]
)
def test_custom_domains_and_operators_outside_the_list_are_refused(
    bundle_dir: Path, domain: str, op: str
) -> None:
    node = helper.make_node(op, ["zeros"], ["unused"], domain=domain)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    put_graph(bundle_dir, answer_graph([0.2, 0.3, 0.5], extra_nodes=[node], opsets=opsets))
    with pytest.raises(BundleError, match=f"{domain or 'control flow'}"):
        load_bundle(bundle_dir)


def test_an_operator_outside_the_list_is_named(bundle_dir: Path) -> None:
    node = helper.make_node("Sin", ["zeros"], ["unused"])
    put_graph(bundle_dir, answer_graph([0.2, 0.3, 0.5], extra_nodes=[node]))
    with pytest.raises(BundleError, match="operator Sin is not among those songpop's converters"):
        load_bundle(bundle_dir)


@pytest.mark.parametrize(
    "row, said",
    [
        ([float("nan"), 0.5, 0.5], "not finite"),
        ([-3.0, 2.0, 2.0], r"outside \[0, 1\]"),
        ([float("inf"), 0.0, 0.0], "not finite"),
        ([4e7, 0.0, 0.0], r"outside \[0, 1\]"),
        ([0.27, 0.25, 0.25], "summing to 0.77"),
        ([0.5, 0.5], "shape"),
    ],
)
def test_answers_that_are_not_probabilities_are_refused_at_scoring_and_in_verify(
    bundle_dir: Path, row: list[float], said: str
) -> None:
    put_graph(bundle_dir, answer_graph(row))
    bundle = load_bundle(bundle_dir) if len(row) == 3 else None
    if bundle is not None:
        with pytest.raises(BundleError, match=said):
            predict_frame(labelled_songs(3, seed=2)[0], bundle)
    with pytest.raises(BundleError, match=said if len(row) == 3 else "2 class probabilities"):
        verify_bundle(bundle_dir)


def test_models_verify_and_predict_say_one_line(bundle_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from songpop.cli import app

    put_graph(bundle_dir, loop_graph(2**62))
    runner = CliRunner()
    verify = runner.invoke(app, ["models", "verify", str(bundle_dir)])
    assert verify.exit_code == 2 and "control flow (Loop)" in verify.output
    predict = runner.invoke(
        app, ["predict", "--model", str(bundle_dir), "--danceability", "0.5", "--energy", "0.5"]
    )
    assert predict.exit_code == 2 and "control flow (Loop)" in predict.output
    for result in (verify, predict):
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, Exception | None) or result.exit_code == 2


FUZZ = r"""
import json, random, sys
from pathlib import Path
import numpy as np, onnx
from onnx import TensorProto
from songpop.bundle import load_bundle
from songpop.bundle.store import META_FILE, ONNX_FILE, sha256_file
from songpop.errors import SongpopError
from songpop.inference.scoring import predict_proba

folder, cases, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
original = (folder / ONNX_FILE).read_bytes()
rng = random.Random(seed)
X = np.random.default_rng(seed).uniform(0, 1, (8, int(sys.argv[4])))
OPS = ["Loop", "Scan", "If", "Sin", "Gather", "Add", "TopK", "Reshape", "Identity", "Custom"]

def mutate(data):
    model = onnx.ModelProto.FromString(data)
    kind = rng.randrange(7)
    nodes, inits = model.graph.node, model.graph.initializer
    if kind == 0 and len(nodes):
        nodes[rng.randrange(len(nodes))].op_type = rng.choice(OPS)
    elif kind == 1 and len(nodes):
        nodes[rng.randrange(len(nodes))].domain = rng.choice(["x.y", "com.microsoft", ""])
    elif kind == 2 and len(inits):
        t = inits[rng.randrange(len(inits))]
        t.data_location = TensorProto.EXTERNAL
        e = t.external_data.add(); e.key, e.value = "location", "bundle.json"
    elif kind == 3 and len(inits):
        t = inits[rng.randrange(len(inits))]
        if len(t.dims): t.dims[rng.randrange(len(t.dims))] = rng.choice([0, 1, 7, 2**31])
    elif kind == 4 and len(nodes):
        del nodes[rng.randrange(len(nodes))]
    elif kind == 5 and len(nodes):
        node = nodes[rng.randrange(len(nodes))]
        for a in node.attribute:
            if a.ints: a.ints[rng.randrange(len(a.ints))] = rng.choice([-1, 0, 2**40, 99])
            if a.floats:
                a.floats[rng.randrange(len(a.floats))] = rng.choice([float("nan"), -1e30, 1e30])
    else:
        raw = bytearray(data)
        for _ in range(rng.randrange(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)
    return model.SerializeToString()

outcomes = {"refused": 0, "scored": 0}
for case in range(cases):
    (folder / ONNX_FILE).write_bytes(mutate(original))
    meta = json.loads((folder / META_FILE).read_text())
    meta["files"] = {n: sha256_file(folder / n) for n in meta["files"]}
    (folder / META_FILE).write_text(json.dumps(meta))
    try:
        bundle = load_bundle(folder)
        p = predict_proba(bundle, X)
    except SongpopError:
        outcomes["refused"] += 1
        continue
    assert p.shape == (8, len(bundle.classes)) and np.isfinite(p).all(), case
    assert np.allclose(p.sum(axis=1), 1, atol=1e-3) and (p >= 0).all() and (p <= 1).all(), case
    outcomes["scored"] += 1
print(json.dumps(outcomes))
"""


def test_fuzzed_graphs_are_refused_or_give_probabilities(bundle_dir: Path) -> None:
    """A bounded fuzzing pass (120 mutated graphs, fixed seed) in a child process, so that a
    crash of ONNX Runtime would show as a failure here rather than end the test run: each
    mutated graph is refused with a BundleError or scores valid probabilities."""
    done = subprocess.run(
        [sys.executable, "-c", FUZZ, str(bundle_dir), "120", "21", str(N)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcomes["refused"] + outcomes["scored"] == 120
    assert outcomes["refused"] > 0

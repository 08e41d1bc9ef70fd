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
# The tests read commands' output as plain text: Typer forces a colour terminal when either
# switch is set at all (even to 0), before any test runs, so a person's setting is dropped here.
for _switch in ("FORCE_COLOR", "PY_COLORS"):
    os.environ.pop(_switch, None)


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
    trained once per test session for the page tests that need a real model: by whichever
    xdist worker asks first, the others wait on a file lock and read it (none may change it)."""
    import pandas as pd
    from filelock import FileLock

    from shared_run import session_root
    from songpop.build import build_dataset
    from songpop.train import train_task

    root = session_root(tmp_path_factory) / "seed-model"
    with FileLock(str(root) + ".lock"):
        if not (root / "done").is_file():
            build_dataset(root / "data", data_dir=data_dir, profile="seed")
            songs = pd.read_parquet(root / "data" / "songs.parquet")
            train_task(
                songs, root / "models", task="seed", label_strategy="spotify", budget="quick",
                models=["lgbm"], feature_sets=("audio",), extras=False,
            )  # fmt: skip
            (root / "done").write_text("ok\n", encoding="utf-8")
    return root / "models" / "seed" / "audio" / "lgbm"


# --- the order files run in, and each worker's load ---------------------------------------------
# `make test` runs the files on two xdist workers, a whole file on one worker (--dist loadfile),
# each worker taking the next file as it runs out. The suite ends when the slower worker does,
# so the long files go first (longest first): the short ones then fill in at the end, on
# whichever worker is free. Each file's seconds come from the last runs (the pytest cache); a
# checkout without them uses `LONG_FILES`, then 0.2 s a test.
FILE_SECONDS = "songpop/file_seconds"
"""The cache key: test file → [seconds of setup, call and teardown, tests run] when last run."""
LONG_FILES = {
    "tests/interface/test_run_end_to_end.py": 90.0,  # the session's shared quick run
    "tests/model/test_calibrate.py": 28.0,
    "tests/interface/test_dask_cluster.py": 40.0,
    "tests/interface/test_reccobeats_upload.py": 35.0,
    "tests/model/test_audio_directions.py": 24.0,
    "tests/interface/test_audio_interfaces.py": 22.0,
    "tests/interface/test_upload_limits.py": 20.0,
    "tests/interface/test_kill_faults.py": 18.0,
}
"""Rough seconds (quiet 2-core machine) of the longest files, for a checkout without a cache."""
TIMES_FILE = "test-times.json"
"""Written into test-artifacts/ after every run: each worker's seconds and its files'."""


_KNOWN: dict[str, list] = {}
"""The cache's file seconds as this session read them at its start."""
_LOAD: dict[str, dict[str, list]] = {}
"""worker ("gw0", or "main" without xdist) → test file → [seconds, tests run] in this run."""


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_configure(config: pytest.Config) -> None:
    # xdist orders files by their number of tests unless told not to: keep ours (below).
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    if not hasattr(config, "workerinput"):  # one reading, for this process and every worker
        _KNOWN.clear()
        _KNOWN.update(_cached_seconds(config))


def _cached_seconds(config: pytest.Config) -> dict:
    cache = getattr(config, "cache", None)
    return cache.get(FILE_SECONDS, {}) if cache is not None else {}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # type: ignore[no-untyped-def]
    """xdist, in the controller: every worker orders by one reading of the cache (another
    session may write it while the workers collect; xdist needs their orders equal)."""
    node.workerinput[FILE_SECONDS] = dict(_KNOWN)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest files first (see above); the tests of a file keep their order."""
    workerinput = getattr(config, "workerinput", None)
    known = workerinput[FILE_SECONDS] if workerinput else _KNOWN
    count: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        file = _file_of(item.nodeid)
        count[file] = count.get(file, 0) + 1
        first.setdefault(file, i)

    def seconds(file: str) -> float:
        entry = known.get(file)
        if isinstance(entry, list) and len(entry) == 2 and entry[1] > 0:
            return float(entry[0]) / entry[1] * count[file]  # partial runs: per test, scaled
        return LONG_FILES.get(file, 0.2 * count[file])

    estimate = {file: seconds(file) for file in count}
    items.sort(key=lambda item: (-estimate[_file_of(item.nodeid)], first[_file_of(item.nodeid)]))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each file's seconds by worker (the controller hears every worker's reports; a
    worker's own are left out, they reach the controller)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    node = getattr(report, "node", None)
    worker = node.gateway.id if node is not None else "main"
    entry = _LOAD.setdefault(worker, {}).setdefault(_file_of(report.nodeid), [0.0, 0])
    entry[0] += report.duration
    entry[1] += report.when == "call" or (report.when == "setup" and report.outcome != "passed")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Keep each file's seconds for the next run's order; write each worker's load."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not _LOAD:
        return
    cache = getattr(session.config, "cache", None)
    if cache is not None:
        known = cache.get(FILE_SECONDS, {})
        for files in _LOAD.values():
            known.update({f: [round(s, 3), n] for f, (s, n) in files.items() if n})
        cache.set(FILE_SECONDS, known)
    import json

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / TIMES_FILE).write_text(json.dumps({
        worker: {"seconds": round(sum(s for s, _ in files.values()), 1),
                 "files": {f: round(s, 1) for f, (s, _) in sorted(
                     files.items(), key=lambda kv: -kv[1][0])}}
        for worker, files in sorted(_LOAD.items())
    }, indent=1) + "\n", encoding="utf-8")  # fmt: skip

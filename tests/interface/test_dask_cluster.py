"""The Dask path against a real scheduler and two workers started as processes (`dask scheduler`,
`dask worker` on 127.0.0.1), and against the embedded default: the distributed output equals the
single-process one row for row; faults (a worker killed mid-batch, a file of bad rows only, an
unreadable audio file, a scheduler that does not answer)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from songpop.cli import app
from support import random_songs, save_lgbm_bundle

DASK = Path(sys.executable).parent / "dask"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cluster(workers: int = 2) -> tuple[str, subprocess.Popen, list[subprocess.Popen]]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    scheduler = subprocess.Popen(
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", ":0"], **quiet,
    )  # fmt: skip
    procs = [
        subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1",
                          "--name", f"w{i}", "--dashboard-address", ":0"], **quiet)
        for i in range(workers)
    ]  # fmt: skip
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout=2) as client:
                if len(client.scheduler_info()["workers"]) == workers:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(scheduler, procs)
            pytest.fail("the dask scheduler and workers did not start")
        time.sleep(0.5)
    return address, scheduler, procs


def stop(scheduler: subprocess.Popen, workers: list[subprocess.Popen]) -> None:
    for proc in [*workers, scheduler]:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in [*workers, scheduler]:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster_processes():
    """The module's cluster: its address, scheduler and two workers (started once: every
    worker loads the model once)."""
    address, scheduler, workers = start_cluster(2)
    yield address, scheduler, workers
    stop(scheduler, workers)


@pytest.fixture(scope="module")
def cluster(cluster_processes) -> str:
    return cluster_processes[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_lgbm_bundle(tmp_path_factory.mktemp("models") / "lgbm")


def _catalogue(folder: Path, files: int, rows: int, bad_file: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        songs = random_songs(rows, seed=i)
        if i == 1:
            songs.loc[:4, "tempo"] = -1.0  # five bad rows in one file
        if i == bad_file:
            songs["energy"] = 7.0  # every row of this file is bad
        if i % 2:
            songs.to_csv(folder / f"part{i}.csv", index=False)
        else:
            songs.to_parquet(folder / f"part{i}.parquet", index=False)
    return folder


def test_distributed_scoring_equals_the_single_process_one(
    cluster: str, model_dir: Path, tmp_path: Path
) -> None:
    from songpop.bundle import load_bundle
    from songpop.inference import score_file
    from songpop.inference.dask_cluster import table_files

    folder = _catalogue(tmp_path / "catalogue", files=4, rows=3000, bad_file=3)
    out = tmp_path / "scored"
    result = runner.invoke(app, ["predict", "--csv", str(folder), "--out", str(out), "--model",
                                 str(model_dir), "--scheduler", cluster])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "4 file(s), 12,000 rows: 8,995 scored" in text and "3,005 rejected" in text
    bundle = load_bundle(model_dir)
    for i, path in enumerate(table_files(str(folder))):
        single = tmp_path / f"single{i}.parquet"
        single_rejects = tmp_path / f"single{i}.rejects.csv"
        score_file(path, single, bundle, rejects_path=single_rejects)
        part = pd.read_parquet(out / f"part-{i:05d}.parquet")
        pd.testing.assert_frame_equal(part, pd.read_parquet(single))  # row for row
        rejects = pd.read_csv(out / "rejects" / f"part-{i:05d}.csv")
        pd.testing.assert_frame_equal(rejects, pd.read_csv(single_rejects))
    # the file whose every row is bad: nothing scored, everything rejected with its reason
    assert len(pd.read_parquet(out / "part-00003.parquet")) == 0
    assert (pd.read_csv(out / "rejects" / "part-00003.csv")["field"] == "energy").all()


def test_the_embedded_cluster_is_the_default_for_a_glob(model_dir: Path, tmp_path: Path) -> None:
    folder = _catalogue(tmp_path / "catalogue", files=3, rows=2000)
    out = tmp_path / "scored"
    result = runner.invoke(app, ["predict", "--csv", str(folder / "part*"), "--out", str(out),
                                 "--model", str(model_dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Dask: local" in result.stderr
    scored = sum(len(pd.read_parquet(p)) for p in out.glob("part-*.parquet"))
    assert scored == 6000 - 5


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds(
    model_dir: Path, tmp_path: Path
) -> None:
    folder = _catalogue(tmp_path / "catalogue", files=1, rows=100)
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    result = runner.invoke(app, ["predict", "--csv", str(folder), "--out", str(tmp_path / "o"),
                                 "--model", str(model_dir), "--scheduler", address])  # fmt: skip
    assert time.monotonic() - started < 15
    assert result.exit_code == 2
    assert f"cannot reach the Dask scheduler at {address}" in " ".join(result.stderr.split())


def test_an_audio_folder_on_the_cluster_records_a_bad_file_and_resumes(
    cluster: str, tmp_path: Path
) -> None:
    import audio_support as A

    if A.missing_tools():
        pytest.skip(f"audio renderers missing: {A.missing_tools()}")
    folder = tmp_path / "songs"
    (folder / "more").mkdir(parents=True)
    good = [A.render_midi(A.OPENMSX / f"{m}.mid") for m in ("moo_redfarn", "relax_song")]
    for i, path in enumerate(good):
        (folder / ("more" if i else "") / path.name).symlink_to(path)
    (folder / "broken.mp3").write_text("not audio\n")
    out = tmp_path / "features.parquet"
    args = ["analyze", str(folder), "--out", str(out), "--scheduler", cluster]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "3 audio file(s)" in text and "2 analysed" in text and "1 failed" in text
    failures = pd.read_csv(tmp_path / "features.parquet.failures.csv")
    assert failures["file"].str.endswith("broken.mp3").all()
    assert len(pd.read_parquet(out)) == 2
    again = runner.invoke(app, args)
    assert "0 analysed, 2 already in" in " ".join(again.output.split())
    assert len(pd.read_parquet(out)) == 2


def test_the_scheduler_from_the_environment_and_one_csv_out(
    cluster: str, model_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    folder = _catalogue(tmp_path / "catalogue", files=3, rows=1000)
    monkeypatch.setenv("SONGPOP_SCHEDULER", cluster)
    out = tmp_path / "scored.csv"
    one = folder / "part0.parquet"  # one file: the cluster because $SONGPOP_SCHEDULER says so
    result = runner.invoke(app, ["predict", "--csv", str(one), "--out", str(out), "--model",
                                 str(model_dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Dask: {cluster}" in result.stderr
    all_out = tmp_path / "all.csv"
    result = runner.invoke(app, ["predict", "--csv", str(folder), "--out", str(all_out),
                                 "--model", str(model_dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    joined = pd.read_csv(all_out)
    parts = sorted((tmp_path / "all.csv.parts").glob("part-*.parquet"))
    expected = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert len(joined) == 3000 - 5 and list(joined["row"]) == list(expected["row"])


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    cluster_processes, model_dir: Path, tmp_path: Path
) -> None:
    """Last in this file: it kills one of the module cluster's two workers."""
    rows = 50_000  # three chunks of 20,000 rows a file: a worker dies inside a file's work
    folder = _catalogue(tmp_path / "catalogue", files=8, rows=rows)
    out = tmp_path / "scored"
    address, _, workers = cluster_processes
    assert all(w.poll() is None for w in workers)  # two live workers to begin with
    result: dict = {}

    def score() -> None:
        result["run"] = runner.invoke(app, ["predict", "--csv", str(folder), "--out",
                                            str(out), "--model", str(model_dir),
                                            "--scheduler", address,
                                            "--chunksize", "20000"])  # fmt: skip

    thread = threading.Thread(target=score)
    thread.start()
    deadline = time.monotonic() + 120
    while not list(out.glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    done_at_kill = len(list(out.glob("part-*.parquet")))
    os.killpg(workers[0].pid, signal.SIGKILL)  # the worker and its nanny, mid-batch
    thread.join(timeout=300)
    assert done_at_kill < 8  # the kill did come before the end
    run = result["run"]
    assert run.exit_code == 0, run.output
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 8
    scored = [len(pd.read_parquet(p)) for p in parts]
    assert sum(scored) == 8 * rows - 5  # every row once: nothing lost, nothing twice
    assert sorted(set(pd.read_parquet(parts[2])["row"])) == list(range(1, rows + 1))
    assert len(list(out.glob("part-*.parquet"))) == len(set(out.glob("part-*.parquet")))

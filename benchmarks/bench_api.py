"""API latency under load: `songpop serve` (one worker) driven at a fixed rate over loopback.

Starts `songpop serve` in a subprocess on 127.0.0.1 and a free port, then sends POST /predict
(one song, random valid features, seeded) on an open loop: request i is due at start + i/rate
whatever the answers before it, so a slow server cannot slow the generator down and hide its
own delay. Latency is measured from the moment each request was due (what a client waiting in
line would see) and, for reference, from the moment it was actually sent. The run is bounded:
`rate × duration` requests, a per-request timeout, an overall deadline, and the server is stopped
at the end.

Target (issue 5): p99 < 50 ms at 200 requests/s for 60 s, zero errors.

Model: `--model DIR`, else the default model of the last run; when there is no run yet, a
stand-in is trained (the registry's `lgbm` on the seed's Spotify tracks, label = popularity
tertiles) and saved as a bundle under the output folder. The figures say which one was used.

Usage: python -m benchmarks.bench_api [--rate 200] [--duration 60] [--model DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx  # only to poll /health while the server starts
import numpy as np

from songpop import config
from songpop.errors import BundleError
from songpop.io import write_json_atomic

RATE = 200.0
DURATION_S = 60.0
WARMUP_REQUESTS = 200
TIMEOUT_S = 5.0
IDLE_S = 2.0  # reuse a keep-alive connection only this long after its last answer (uvicorn: 5 s)
TARGET_P99_MS = 50.0


def main(
    out_dir: Path,
    *,
    rate: float = RATE,
    duration_s: float = DURATION_S,
    model: Path | None = None,
) -> dict:
    """Run the load test once and return its figures (also written to `out_dir/api.json`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle_dir, source = _model_under_test(model, out_dir)
    load_before = os.getloadavg()  # other work on the machine skews every latency figure
    port = _free_port()
    log_path = out_dir / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "songpop",
                "serve",
                "--model",
                str(bundle_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],  # the defaults otherwise: log level info, one access-log line per request
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            model_id = _wait_until_up(base, server, log_path)
            figures = asyncio.run(_load("127.0.0.1", port, rate=rate, duration_s=duration_s))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    figures = {
        "model_id": model_id,
        "model_source": source,
        "server": "songpop serve with its defaults (uvicorn, 1 worker, access log to a file)",
        "load_generator": "asyncio open loop, raw HTTP/1.1 keep-alive connections (this file)",
        "load_average_before": [round(x, 2) for x in load_before],
        **figures,
        "target_p99_ms": TARGET_P99_MS,
    }
    figures["meets_target"] = bool(
        figures["errors"] == 0
        and figures["latency_ms"]["p99"] < TARGET_P99_MS
        and figures["achieved_rate"] >= 0.98 * rate
    )
    write_json_atomic(figures, out_dir / "api.json")
    return figures


# --- the model ----------------------------------------------------------------------------------


def _model_under_test(model: Path | None, out_dir: Path) -> tuple[Path, str]:
    from songpop.bundle import resolve_model

    if model is not None:
        return resolve_model(model), f"given: {model}"
    try:
        return resolve_model(None), "default model of the last run"
    except BundleError:
        return _stand_in_bundle(out_dir / "stand_in_model"), (
            "stand-in: registry lgbm fitted on the seed Spotify tracks (no run yet)"
        )


def _stand_in_bundle(folder: Path) -> Path:
    """Fit the registry's LightGBM on the seed tracks and save it as a bundle."""
    import pandas as pd

    from songpop.bundle import save_bundle, sha256_file
    from songpop.models.registry import MODELS

    source = config.data_dir() / "tracks" / "spotify_1921-2020_seed_matched.csv.gz"
    df = pd.read_csv(source)
    features = list(config.AUDIO_FEATURES)
    y = pd.qcut(df["popularity"].rank(method="first"), 3, labels=list(config.LEVELS)).astype(str)
    estimator = MODELS["lgbm"].build(features, config.SEED)
    estimator.fit(df[features], y)
    return save_bundle(
        estimator,
        folder,
        model_id="lgbm-stand-in",
        feature_names=features,
        classes=[str(c) for c in estimator.classes_],
        label_strategy="spotify",
        feature_set="audio",
        metrics={},
        train_table_sha256=sha256_file(source),
        reference_X=df[features],
        reference_y=y,
        task="seed",
    )


# --- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen, log_path: Path, limit_s: float = 60) -> str:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"songpop serve exited with {server.returncode}: see {log_path}")
        try:
            health = httpx.get(f"{base}/health", timeout=1.0).json()
            return health["models"][0]
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            time.sleep(0.2)
    raise RuntimeError(f"songpop serve did not answer within {limit_s} s: see {log_path}")


# --- the load -----------------------------------------------------------------------------------


def random_songs(n: int, seed: int = config.SEED) -> list[bytes]:
    """`n` request bodies: one song each, every feature uniform over a realistic range."""
    rng = np.random.default_rng(seed)
    spans = {
        "duration_ms": (120_000.0, 360_000.0),
        "loudness": (-25.0, -2.0),
        "tempo": (60.0, 200.0),
    }
    bodies = []
    for _ in range(n):
        song: dict[str, Any] = {}
        for name in config.AUDIO_NUMERIC:
            low, high = spans.get(name, config.FEATURE_RANGES[name])
            song[name] = round(float(rng.uniform(low, high)), 4)
        song["key"] = int(rng.integers(-1, 12))
        bodies.append(json.dumps(song).encode())
    return bodies


class _Connection:
    """One keep-alive HTTP/1.1 connection with the bare minimum of parsing: status and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = asyncio.get_running_loop().time()

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            raise ConnectionResetError("server closed the connection")
        return status

    def close(self) -> None:
        self.writer.close()


def _request(host: str, port: int, body: bytes) -> bytes:
    return (
        f"POST /predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _load(host: str, port: int, *, rate: float, duration_s: float) -> dict:
    total = int(rate * duration_s)
    bodies = [_request(host, port, b) for b in random_songs(WARMUP_REQUESTS + total)]
    pool: list[_Connection] = []
    try:
        # warm-up (not counted): connections, the threadpool, the model's first calls
        await _open_loop(host, port, pool, bodies[:WARMUP_REQUESTS], rate)
        results = await _open_loop(host, port, pool, bodies[WARMUP_REQUESTS:], rate)
    finally:
        for connection in pool:
            connection.close()
    return _summarise(results, rate=rate, duration_s=duration_s)


async def _open_loop(
    host: str, port: int, idle: list[_Connection], requests: list[bytes], rate: float
) -> dict[str, Any]:
    """Send each request when it is due, on an idle keep-alive connection or a new one.

    Returns per-request latencies (from due time and from send time), statuses, exceptions and
    the wall time.
    """
    n = len(requests)
    due_latency = np.full(n, np.nan)
    send_latency = np.full(n, np.nan)
    status = np.zeros(n, dtype=np.int32)
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    start = 0.0  # set once every task exists: creating 12,000 of them takes a while

    async def one(i: int) -> None:
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = None
        try:
            connection = idle.pop() if idle else None
            if connection is not None and loop.time() - connection.last_used > IDLE_S:
                connection.close()  # the server may have closed it (keep-alive timeout)
                connection = None
            connection = connection or await _Connection.open(host, port)
            sent = loop.time()
            status[i] = await asyncio.wait_for(connection.post(requests[i]), TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            if connection is not None:
                connection.close()
            return
        done = loop.time()
        connection.last_used = done
        idle.append(connection)
        due_latency[i] = done - due
        send_latency[i] = done - sent

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    start = loop.time() + 0.05  # no task has run yet: they all see this value
    overall = n / rate + TIMEOUT_S + 30  # bounded whatever happens
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=overall)
    return {
        "due": due_latency,
        "sent": send_latency,
        "status": status,
        "exceptions": errors,
        "wall_s": loop.time() - start,
    }


def _summarise(results: dict[str, Any], *, rate: float, duration_s: float) -> dict:
    status = results["status"]
    ok = status == 200
    due = results["due"][ok] * 1000
    sent = results["sent"][ok] * 1000
    n = len(status)

    def quantiles(values: np.ndarray) -> dict[str, float]:
        if len(values) == 0:
            return {}
        q = np.percentile(values, [50, 95, 99, 99.9])
        return {
            "p50": round(float(q[0]), 2),
            "p95": round(float(q[1]), 2),
            "p99": round(float(q[2]), 2),
            "p99_9": round(float(q[3]), 2),
            "max": round(float(values.max()), 2),
        }

    # per-second windows of the schedule: a stall shows as a few bad seconds, not as a drift
    second = (np.arange(n) // max(1, int(rate)))[ok]
    worst = [float(due[second == w].max()) for w in np.unique(second)]
    bad_status = {str(s): int((status == s).sum()) for s in np.unique(status[~ok]) if s != 0}
    n_errors = int((~ok).sum())
    return {
        "target_rate": rate,
        "duration_s": duration_s,
        "requests": n,
        "ok": int(ok.sum()),
        "errors": n_errors,
        "error_statuses": bad_status,
        "error_exceptions": results["exceptions"],
        "achieved_rate": round(float(ok.sum()) / results["wall_s"], 1),
        "latency_ms": quantiles(due),
        "latency_from_send_ms": quantiles(sent),
        "seconds_with_a_request_over_target": int(sum(w > TARGET_P99_MS for w in worst)),
        "seconds": len(worst),
    }


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=RATE, help="requests per second")
    parser.add_argument("--duration", type=float, default=DURATION_S, help="seconds")
    parser.add_argument("--model", type=Path, default=None, help="bundle folder")
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "api")
    args = parser.parse_args()
    figures = main(args.out, rate=args.rate, duration_s=args.duration, model=args.model)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(_cli())

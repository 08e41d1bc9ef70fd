"""A 1 KB upload costs nothing (issue #21): crafted uploads against a running `songpop serve`.

The server runs as its own process (uvicorn, `--max-analyses 1`), and its peak resident memory
(VmHWM in /proc) is read before and after each crafted upload. Before the fix, the 1.2 KB WAV
whose header says 1 Hz decoded to a 20-minute song: +580 MB per request.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression

from songpop.api.analyses import AnalysisSlots, run_watched
from songpop.audio.decode import CANCEL, DECODED_BYTES_PER_BYTE, decode
from songpop.errors import AudioError
from support import audio_pipeline, labelled_songs, save_audio_bundle

MB = 1024 * 1024


def wav_bytes(rate: int, n: int, bits: int = 8) -> bytes:
    data = np.random.default_rng(0).integers(0, 255, n * bits // 8).astype(np.uint8).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * bits // 8, bits // 8, bits)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data


def tone(path: Path, seconds: float, rate: int = 22_050, fmt: str | None = None) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    sf.write(path, signal.astype(np.float32), rate, format=fmt)
    return path


def syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def id3(frames: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(fid + struct.pack(">I", len(data)) + b"\0\0" + data for fid, data in frames)
    return b"ID3\x03\x00\x00" + syncsafe(len(body)) + body


def without_length(flac: bytes) -> bytes:
    """The FLAC with its STREAMINFO's total-samples field zeroed ("unknown", as a stream)."""
    out = bytearray(flac)
    out[8 + 13] &= 0xF0
    out[8 + 14 : 8 + 18] = b"\0\0\0\0"
    return bytes(out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("serve")
    X, y = labelled_songs(120)
    est = audio_pipeline(LogisticRegression(max_iter=300), scale=True).fit(X, y)
    model = save_audio_bundle(est, folder / "logreg", X, y, compile=False)
    port = free_port()
    env = dict(os.environ, SONGPOP_DATA_DIR=str(folder / "no-data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "songpop", "serve", "--model", str(model), "--port", str(port),
         "--max-analyses", "1", "--no-access-log", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"songpop serve did not start: {proc.communicate()[1][-2000:]}")
        time.sleep(0.3)
    yield base, proc.pid
    proc.terminate()
    proc.wait(timeout=30)


def upload(base: str, name: str, data: bytes, path: str = "/analyze") -> httpx.Response:
    return httpx.post(f"{base}{path}", files={"file": (name, data)}, timeout=120)


def test_a_one_hertz_header_is_refused_at_no_cost(server) -> None:
    base, pid = server
    data = wav_bytes(rate=1, n=1194)
    assert len(data) < 1300
    before = peak_mb(pid)
    started = time.perf_counter()
    answers = [upload(base, "crafted.wav", data) for _ in range(6)]
    seconds = time.perf_counter() - started
    for answer in answers:
        assert answer.status_code == 422
        assert (
            "sample rate 1 Hz" in answer.json()["detail"]
            and "crafted.wav" in answer.json()["detail"]
        )
    assert peak_mb(pid) - before < 50  # was +580 MB for one such upload
    assert seconds < 10  # was 6.7 s each


def test_a_header_out_of_proportion_to_the_file_is_refused(server, tmp_path: Path) -> None:
    base, pid = server
    silence = tmp_path / "silence.flac"
    sf.write(silence, np.zeros(8_000 * 600, dtype=np.float32), 8_000)  # 10 minutes, a few KB
    data = silence.read_bytes()
    assert len(data) * DECODED_BYTES_PER_BYTE < 8 * 22_050 * 600
    before = peak_mb(pid)
    said = upload(base, "silence.flac", data)
    assert said.status_code == 422 and "decoded bytes per file byte" in said.json()["detail"]
    streamed = upload(base, "stream.flac", without_length(data))  # no length: decoded to the limit
    assert streamed.status_code == 422
    assert "decodes to more than" in streamed.json()["detail"]
    assert peak_mb(pid) - before < 50


def test_a_flac_without_a_length_is_analysed(server, tmp_path: Path) -> None:
    base, _ = server
    data = without_length(tone(tmp_path / "tone.flac", 4).read_bytes())
    answer = upload(base, "stream.flac", data)
    assert answer.status_code == 200, answer.text
    assert 3.9 < answer.json()["audio"]["seconds"] < 4.1


def test_tags_are_bounded_and_never_echoed_past_the_limit(server, tmp_path: Path) -> None:
    base, _ = server
    audio = tone(tmp_path / "tone.mp3", 4, fmt="MP3").read_bytes()
    title = b"\x03" + b"x" * 5_000_000 + b"\0"
    answer = upload(base, "big.mp3", id3([(b"TIT2", title)]) + audio)
    assert answer.status_code == 200, answer.text
    assert len(answer.content) < 100_000  # was a 17 MB answer
    assert len(answer.json()["tags"]["title"]) <= 200
    crowded = id3([(b"TXXX", b"\0k%d\0v" % i) for i in range(50_000)])
    started = time.perf_counter()
    answer = upload(base, "crowded.mp3", crowded + audio)
    assert answer.status_code == 200, answer.text
    assert "more than 1,000 tag frames" in answer.json()["tags"]["problem"]
    assert time.perf_counter() - started < 30


def test_analyses_beyond_the_limit_get_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One slot: while an analysis holds it (held open on an event, so no race with how fast
    this machine analyses), another upload is answered at once with 503 and Retry-After; once
    the first has finished, the slot is free again."""
    from fastapi.testclient import TestClient

    import songpop.api.audio as api_audio
    from songpop.api import create_app

    X, y = labelled_songs(120)
    est = audio_pipeline(LogisticRegression(max_iter=300), scale=True).fit(X, y)
    model = save_audio_bundle(est, tmp_path / "logreg", X, y, compile=False)
    monkeypatch.setenv("SONGPOP_DATA_DIR", str(tmp_path / "no-data"))
    started, release = threading.Event(), threading.Event()
    real = api_audio._analyse_here

    def held(*args: object) -> object:
        started.set()
        assert release.wait(60), "the test never released the first analysis"
        return real(*args)

    monkeypatch.setattr(api_audio, "_analyse_here", held)
    app = create_app([model])
    app.state.analysis_slots = AnalysisSlots(1)
    long = tone(tmp_path / "long.wav", 4).read_bytes()
    with TestClient(app) as client:
        first: list[httpx.Response] = []
        post = lambda name, data: client.post("/analyze", files={"file": (name, data)})  # noqa: E731
        thread = threading.Thread(target=lambda: first.append(post("long.wav", long)))
        thread.start()
        try:
            assert started.wait(60), "the first analysis never started"
            second = post("probe.wav", long)
            assert second.status_code == 503, second.text
            assert second.headers["retry-after"].isdigit()
            assert "--max-analyses 1" in second.json()["detail"]
        finally:
            release.set()
            thread.join(timeout=120)
        assert first and first[0].status_code == 200, first and first[0].text
        started.clear()
        again = post("short.wav", long)
        assert again.status_code == 200, again.text  # the slot came back


def test_an_analysis_stops_when_its_client_disconnects(tmp_path: Path) -> None:
    """`run_watched` sets the decoder's cancel event once the client has gone; decoding stops
    at its next block and the call returns only after the thread has finished."""
    path = tone(tmp_path / "long.wav", 120, rate=8_000)
    blocks: list[int] = []

    def slow_decode() -> object:
        import songpop.audio.decode as module

        real = module._stereo

        def counted(data, channels):
            blocks.append(len(data))
            time.sleep(0.3)
            return real(data, channels)

        module._stereo = counted
        try:
            return decode(path)
        finally:
            module._stereo = real

    class Gone:
        async def is_disconnected(self) -> bool:
            return True

    async def main() -> None:
        with pytest.raises(AudioError, match="analysis cancelled"):
            await run_watched(Gone(), slow_decode)  # type: ignore[arg-type]

    asyncio.run(main())
    assert 1 <= len(blocks) < 12  # 120 s of audio is 12 blocks of 10 s
    event = threading.Event()
    event.set()
    token = CANCEL.set(event)
    try:
        with pytest.raises(AudioError, match="cancelled"):
            decode(path)
    finally:
        CANCEL.reset(token)


def test_slots_are_taken_and_given_back() -> None:
    slots = AnalysisSlots(2)
    assert slots.take() and slots.take() and not slots.take()
    busy = slots.busy()
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    slots.give_back()
    assert slots.take()
    assert AnalysisSlots().limit >= 1

"""ReccoBeats' upload analysis against a local fake of its contract (tests/provider_fakes.py):
excerpts (count, length, mono 16-bit 44.1 kHz WAV under 5 MB, field `audioFile`), the mean and
spread replacing the estimates, the tempo beside songpop's, the cache, 429 with Retry-After
inside the deadline, 500, a slow answer, a body that is not JSON, 413 and 400; then every door:
`analyze --online`, `predict FILE --online`, the cluster's task and `serve --online`."""

from __future__ import annotations

import copy
import json
import statistics
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import audio_support as A
from provider_fakes import running_fake
from songpop.audio import SongFeatures, analyze
from songpop.audio.excerpts import plan
from songpop.audio.online import OnlineAnalysis, announcement, tempo_relation
from songpop.cli import app
from songpop.providers.cache import AnswerCache
from songpop.providers.http import Settings
from songpop.providers.reccobeats import ReccoBeats
from support import save_lgbm_bundle

runner = CliRunner()
missing = A.missing_tools()
needs_audio = pytest.mark.skipif(bool(missing), reason=f"audio renderers missing: {missing}")
FAST = Settings(timeout=1.5, attempts=2, backoff=0.01, max_wait=2.0)
UPLOAD = "/v1/analysis/audio-features"


def test_excerpt_plan_three_for_a_long_song_fewer_for_short_ones() -> None:
    assert plan(201.0) == [(0.0, 30.0), (100.5, 30.0), (134.0, 30.0)]
    assert plan(157.0) == [(0.0, 30.0), (78.5, 30.0)]  # two thirds in would overlap the middle
    assert plan(45.0) == [(0.0, 30.0)]
    assert plan(20.0) == [(0.0, 20.0)]
    for duration in (31.0, 59.0, 60.0, 100.0, 179.0, 180.0, 600.0):
        spans = plan(duration)
        assert all(s + n <= duration + 1e-6 for s, n in spans), duration
        starts = [s for s, _ in spans]
        assert all(b - a >= 30 - 1e-6 for a, b in zip(starts, starts[1:], strict=False))


def test_announcement_and_tempo_relation_in_words() -> None:
    spans = [(0.0, 30.0), (90.0, 30.0), (120.0, 30.0)]
    assert announcement("/x/song.mp3", spans) == (
        "3 excerpts of 30 s of song.mp3 go to ReccoBeats for analysis"
    )
    assert announcement("a.wav", [(0.0, 20.0)]).startswith("1 excerpt of 20 s of a.wav goes")
    assert tempo_relation(120.0, 121.0) == "agrees"
    assert tempo_relation(60.0, 120.0) == "1/2"
    assert tempo_relation(80.0, 120.0) == "2/3"
    assert tempo_relation(180.0, 120.0) == "3/2"
    assert tempo_relation(240.0, 120.0) == "2"
    assert tempo_relation(100.0, 120.0) is None


@pytest.fixture()
def fake():
    with running_fake() as running:
        yield running


@pytest.fixture()
def online(fake, tmp_path: Path) -> OnlineAnalysis:
    lines: list[str] = []
    service = ReccoBeats(fake.url, AnswerCache(tmp_path / "answers.sqlite"), FAST,
                         upload_settings=FAST)  # fmt: skip
    analysis = OnlineAnalysis(service, announce=lines.append, deadline=8.0)
    analysis.lines = lines  # type: ignore[attr-defined]
    yield analysis
    analysis.close()


@pytest.fixture(scope="module")
def long_song() -> Path:
    return A.render_midi(A.OPENMSX / "relax_song.mid")  # 3 min 21 s: three excerpts


@pytest.fixture(scope="module")
def short_song() -> Path:
    return A.render_midi(A.OPENMSX / "moo_redfarn.mid")  # 2 min 37 s: two


@pytest.fixture(scope="module")
def local_short(short_song: Path) -> SongFeatures:
    """The short song's local analysis, made once: the tests of the service's failures give a
    copy to `OnlineAnalysis.hear`, the step `analyze(..., online=...)` ends with (the whole
    path, analysis then upload, is tested above on both songs)."""
    return analyze(short_song)


def heard(online: OnlineAnalysis, local: SongFeatures) -> SongFeatures:
    """A copy of the local analysis after the service was asked about it."""
    return online.hear(copy.deepcopy(local))


@needs_audio
def test_three_mono_wav_excerpts_replace_the_estimates(fake, online, long_song) -> None:
    fake.state.upload_tempo = 240.0
    song = analyze(long_song, online=online)
    assert online.lines == [  # type: ignore[attr-defined]
        "3 excerpts of 30 s of relax_song.wav go to ReccoBeats for analysis"
    ]
    uploads = fake.state.uploads
    assert len(uploads) == 3 and fake.calls_to(UPLOAD) == 3
    for u in uploads:
        assert (u["rate"], u["channels"], u["subtype"]) == (44_100, 1, "PCM_16")
        assert abs(u["seconds"] - 30.0) < 0.01 and u["bytes"] < 5 * 1024 * 1024
    for name in ("energy", "acousticness", "valence", "danceability"):
        value = song.features[name]
        heard = song.online["features"][name]["values"]
        assert value.source == "reccobeats" and len(heard) == 3
        assert value.value == pytest.approx(statistics.fmean(heard), abs=1e-4)
        assert value.spread == pytest.approx(statistics.pstdev(heard), abs=1e-4)
    assert len(set(song.online["features"]["energy"]["values"])) > 1  # each excerpt heard apart
    for name in ("duration_ms", "key", "loudness", "tempo"):
        assert song.features[name].source == "measured", name
    assert song.features["time_signature"].source in ("measured", "default")
    tempo = song.online["tempo"]
    assert tempo["reccobeats"] == 240.0 and tempo["songpop"] == song.features["tempo"].value
    assert tempo["relation"] == "2" and "another metrical level" in tempo["said"]
    assert song.to_dict()["reccobeats"]["excerpts"][2]["start"] == pytest.approx(134.0, abs=1)
    again = analyze(long_song, online=online)  # answers cached by the excerpts' sha256
    assert fake.calls_to(UPLOAD) == 3 and again.features["energy"] == song.features["energy"]


@needs_audio
def test_a_shorter_song_sends_two(fake, online, short_song) -> None:
    song = analyze(short_song, online=online)
    assert len(fake.state.uploads) == 2 and len(song.online["excerpts"]) == 2
    assert online.lines[0].startswith("2 excerpts of 30 s of moo_redfarn.wav")  # type: ignore[attr-defined]


@needs_audio
def test_429_waits_for_retry_after_within_the_deadline(fake, online, local_short) -> None:
    fake.fail(UPLOAD, "429", 1.0)
    start = time.monotonic()
    song = heard(online, local_short)
    assert time.monotonic() - start >= 1.0
    assert song.features["energy"].source == "reccobeats" and not song.notes


@needs_audio
def test_a_retry_after_past_the_deadline_gives_up_at_once(fake, online, local_short) -> None:
    fake.fail(UPLOAD, "429", 600.0)
    start = time.monotonic()
    song = heard(online, local_short)
    assert time.monotonic() - start < 6.0
    assert song.features["energy"].source == "estimated" and song.online is None
    [note] = song.notes
    assert "asked to wait 600 s" in note and "local analysis is used" in note


@needs_audio
@pytest.mark.parametrize(
    ("kind", "value", "said"),
    [
        ("500", 0.0, "HTTP 500 after 2 tries"),
        ("sleep", 4.0, "no answer within 1.5 s"),
        ("html", 0.0, "not valid JSON"),
        ("truncated", 0.0, "not valid JSON"),
    ],
)
def test_any_failure_keeps_the_local_analysis_with_one_note(
    fake, online, local_short, kind: str, value: float, said: str
) -> None:
    fake.fail(UPLOAD, kind, value, times=2)
    song = heard(online, local_short)
    assert song.online is None and song.features["energy"].source == "estimated"
    [note] = song.notes
    assert said in note and "moo_redfarn.wav" in note and "\n" not in note


@needs_audio
def test_the_service_s_413_is_said(fake, online, local_short) -> None:
    fake.state.upload_limit = 1024 * 1024
    song = heard(online, local_short)
    [note] = song.notes
    assert "HTTP 413" in note and "size limit" in note


def test_the_fake_keeps_the_contract(fake) -> None:
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(44_100 * 2, np.float32), 44_100, format="WAV", subtype="PCM_16")
    with httpx.Client(base_url=fake.url) as http:
        assert http.post(UPLOAD, files={"file": ("a.wav", buffer.getvalue())}).status_code == 400
        big = b"RIFF" + bytes(5 * 1024 * 1024)
        assert http.post(UPLOAD, files={"audioFile": ("a.wav", big)}).status_code == 413
        ok = http.post(UPLOAD, files={"audioFile": ("a.wav", buffer.getvalue())})
        assert ok.status_code == 200 and 0 <= ok.json()["energy"] <= 1


def test_the_client_refuses_an_excerpt_over_5_mb_before_sending(fake, tmp_path) -> None:
    from songpop.providers.http import ProviderError

    service = ReccoBeats(fake.url, None, FAST, upload_settings=FAST)
    with pytest.raises(ProviderError, match="over the upload limit"):
        service.analyse_excerpt(bytes(5 * 1024 * 1024 + 1))
    assert fake.calls_to(UPLOAD) == 0


# --- the doors ----------------------------------------------------------------------------------


@pytest.fixture()
def env(fake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SONGPOP_RECCOBEATS_URL", fake.url)
    monkeypatch.setenv("SONGPOP_CACHE_DIR", str(tmp_path / "cache"))


@needs_audio
def test_analyze_online_says_what_leaves_before_sending(fake, env, short_song) -> None:
    result = runner.invoke(app, ["analyze", str(short_song), "--online"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    said = text.index("2 excerpts of 30 s of moo_redfarn.wav go to ReccoBeats")
    assert said < text.index("reccobeats values are ReccoBeats' analysis")
    assert "tempo: ReccoBeats 120.0 BPM, songpop" in text and "±" in text
    assert len(fake.state.uploads) == 2


@needs_audio
def test_analyze_without_online_never_calls(fake, env, short_song) -> None:
    result = runner.invoke(app, ["analyze", str(short_song), "--json"])
    assert result.exit_code == 0, result.output
    assert fake.state.calls == [] and "reccobeats" not in json.loads(result.stdout)[0]


@needs_audio
def test_analyze_online_failure_is_one_line_and_the_local_analysis(fake, env, short_song) -> None:
    fake.fail(UPLOAD, "html")
    result = runner.invoke(app, ["analyze", str(short_song), "--online", "--json"])
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.stderr.splitlines() if "ReccoBeats did not analyse" in x]
    assert "local analysis is used" in line
    [data] = json.loads(result.stdout)
    assert data["features"]["energy"]["source"] == "estimated" and data["notes"]


@needs_audio
def test_predict_file_online(fake, env, short_song, tmp_path: Path) -> None:
    model = save_lgbm_bundle(tmp_path / "lgbm")
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["predict", str(short_song), "--online", "--no-lookup",
                                 "--model", str(model), "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    [p] = json.loads(out.read_text())
    assert p["sources"].get("energy", "reccobeats") == "reccobeats"
    assert p["analysis"]["features"]["danceability"]["source"] == "reccobeats"
    assert "energy" not in p["band"]  # ReccoBeats' values are not varied like estimates


@needs_audio
def test_the_cluster_task_online(fake, env, short_song) -> None:
    from songpop.inference.dask_cluster import _analyze_one

    row = _analyze_one(str(short_song), online=True)
    assert row["energy_source"] == "reccobeats" and len(fake.state.uploads) == 2
    offline = _analyze_one(str(short_song))
    assert offline["energy_source"] == "estimated" and len(fake.state.uploads) == 2


@needs_audio
def test_serve_online_lets_uploads_use_reccobeats(fake, env, short_song, tmp_path) -> None:
    from songpop.api import create_app

    model = save_lgbm_bundle(tmp_path / "lgbm")
    data = short_song.read_bytes()
    with TestClient(create_app([model])) as client:  # the default: off
        r = client.post("/analyze", files={"file": ("mine.wav", data, "audio/wav")})
        assert r.status_code == 200 and r.json()["features"]["energy"]["source"] == "estimated"
        assert fake.state.calls == []
    served = create_app([model])
    served.state.audio_online = True  # what `songpop serve --online` sets
    with TestClient(served) as client:
        r = client.post("/analyze", files={"file": ("mine.wav", data, "audio/wav")})
        assert r.status_code == 200, r.text
        assert r.json()["features"]["energy"]["source"] == "reccobeats"
        assert len(r.json()["reccobeats"]["excerpts"]) == 2
        fake.fail(UPLOAD, "html")
        r = client.post("/predict", files={"file": ("mine.wav", data, "audio/wav")})
        assert r.status_code == 200, r.text
        # the answer for these exact excerpts is cached: the scripted failure is never reached
        assert r.json()["analysis"]["features"]["energy"]["source"] == "reccobeats"


def test_serve_has_the_online_switch() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert "--online" in result.output and "ReccoBeats" in result.output

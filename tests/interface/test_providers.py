"""The provider clients against a local fake of ReccoBeats and Spotify (tests/provider_fakes.py):
batching and mapping, the cache, retries, Retry-After, token refresh, Spotify's 403, bad JSON,
timeouts, and credentials that never show."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from provider_fakes import CLIENT_ID, CLIENT_SECRET, TRACKS, running_fake
from songpop.providers.cache import AnswerCache
from songpop.providers.http import ProviderError, Settings
from songpop.providers.reccobeats import ReccoBeats
from songpop.providers.resolve import Providers
from songpop.providers.spotify import FeaturesRefused, NoCredentials, Spotify, credentials

IDS = list(TRACKS)
FAST = Settings(timeout=1.0, attempts=3, backoff=0.01, max_wait=2.0)


@pytest.fixture()
def fake():
    with running_fake() as running:
        yield running


@pytest.fixture()
def cache(tmp_path: Path) -> AnswerCache:
    return AnswerCache(tmp_path / "answers.sqlite")


def test_reccobeats_batches_of_40_mapped_back_by_href(fake, cache) -> None:
    fake.state.recco_unknown = {IDS[3]}
    unknown = "Z" * 22
    with_unknown = [*IDS[:90], unknown]
    recco = ReccoBeats(fake.url, cache, FAST)
    found = recco.features(with_unknown)
    assert fake.calls_to("/v1/audio-features") == 3 and fake.calls_to("/v1/track") == 3  # 91/40
    assert found[unknown] is None and found[IDS[3]] is None  # left out by the service
    record = found[IDS[5]]
    assert record["id"] == IDS[5] and record["title"] == "Song 5"
    assert record["duration_ms"] == TRACKS[IDS[5]]["duration_ms"]  # from /v1/track
    assert record["tempo"] == TRACKS[IDS[5]]["tempo"]
    # nothing is fetched twice: a second ask is answered from the cache, the unknown ids too
    again = ReccoBeats(fake.url, cache, FAST).features(with_unknown)
    assert again == found and fake.calls_to("/v1/audio-features") == 3


def test_429_waits_for_retry_after_and_5xx_is_retried(fake, cache) -> None:
    fake.fail("/v1/audio-features", "429", 1.0)
    fake.fail("/v1/track", "500", times=2)
    started = time.monotonic()
    found = ReccoBeats(fake.url, cache, FAST).features(IDS[:2])
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert all(found[i] is not None for i in IDS[:2])
    assert fake.calls_to("/v1/audio-features") == 2 and fake.calls_to("/v1/track") == 3


def test_retries_give_up_with_a_clear_error(fake, cache) -> None:
    fake.fail("/v1/track", "500", times=5)
    with pytest.raises(ProviderError, match=r"reccobeats: GET /v1/track: HTTP 500 after 3 tries"):
        ReccoBeats(fake.url, cache, FAST).features(IDS[:1])


def test_truncated_json_names_provider_and_request(fake, cache) -> None:
    fake.fail("/v1/track", "truncated")
    with pytest.raises(ProviderError, match=r"reccobeats: GET /v1/track: the answer is not valid"):
        ReccoBeats(fake.url, cache, FAST).features(IDS[:1])


def test_a_timeout_is_retried_then_reported(fake, cache) -> None:
    fake.fail("/v1/track", "sleep", 2.0, times=3)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"no answer within 1 s \(3 tries\)"):
        ReccoBeats(fake.url, cache, FAST).features(IDS[:1])
    assert time.monotonic() - started < 10


def test_nothing_listening_is_a_clear_error(cache) -> None:
    with pytest.raises(ProviderError, match="cannot connect"):
        ReccoBeats("http://127.0.0.1:9", cache, FAST).features(IDS[:1])


def spotify_client(fake, cache, secret: str = CLIENT_SECRET) -> Spotify:
    return Spotify(CLIENT_ID, secret, fake.url, fake.url, cache, FAST)


def test_spotify_search_tracks_and_features_in_batches_of_100(fake, cache) -> None:
    client = spotify_client(fake, cache)
    [hit] = client.search("Song 7", "Artist 0")
    assert hit["id"] == IDS[7] and hit["isrc"] == TRACKS[IDS[7]]["isrc"] and hit["year"] == 2021
    assert client.track(IDS[8])["title"] == "Song 8"
    found = client.audio_features([*IDS[:120], "Q" * 22])
    assert fake.calls_to("/v1/audio-features") == 2
    assert found["Q" * 22] is None and found[IDS[119]]["time_signature"] == 4
    assert fake.state.token_requests == 1  # one token for all of it


def test_an_expired_token_is_refreshed_once(fake, cache) -> None:
    client = spotify_client(fake, cache)
    client.search("Song 1")
    fake.fail("/v1/search", "401")
    assert client.search("Song 2")[0]["title"] == "Song 2"
    assert fake.state.token_requests == 2


def test_audio_features_refused_says_why_and_the_next_provider_answers(fake, cache) -> None:
    fake.state.features_refused = True
    client = spotify_client(fake, cache)
    with pytest.raises(FeaturesRefused, match="apps registered after 2024-11-27"):
        client.audio_features(IDS[:2])
    fake.state.recco_unknown = {IDS[1]}
    providers = Providers(ReccoBeats(fake.url, cache, FAST), client)
    found = providers.features(IDS[:2])
    assert found[IDS[0]].provider == "reccobeats" and found[IDS[1]] is None
    assert any("2024-11-27" in n for n in providers.notes)


def test_spotify_fills_what_reccobeats_lacks(fake, cache) -> None:
    fake.state.recco_unknown = {IDS[1]}
    providers = Providers(ReccoBeats(fake.url, cache, FAST), spotify_client(fake, cache))
    found = providers.features(IDS[:2])
    assert found[IDS[0]].provider == "reccobeats" and found[IDS[1]].provider == "spotify"


def test_credentials_never_show_in_errors(fake, cache, monkeypatch, tmp_path: Path) -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    client = spotify_client(fake, cache, secret=secret)
    with pytest.raises(ProviderError) as info:
        client.search("Song 1")
    assert "check the client credentials" in str(info.value) and secret not in str(info.value)
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    with pytest.raises(NoCredentials, match="set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"):
        credentials(tmp_path / "none.toml")
    config = tmp_path / "credentials.toml"
    config.write_text('[spotify]\nclient_id = "abc"\nclient_secret = "def"\n')
    assert credentials(config) == ("abc", "def")
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "env-id")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "env-secret")
    assert credentials(config) == ("env-id", "env-secret")


def test_cache_answers_expire(tmp_path: Path) -> None:
    fresh = AnswerCache(tmp_path / "a.sqlite")
    fresh.put_many("reccobeats", "track", {"x": {"a": 1}, "y": None})
    assert fresh.get_many("reccobeats", "track", ["x", "y", "z"]) == {"x": {"a": 1}, "y": None}
    stale = AnswerCache(tmp_path / "a.sqlite", max_age_days=-1)
    assert stale.get_many("reccobeats", "track", ["x"]) == {}


def test_predict_online_asks_the_providers_for_what_the_catalogue_lacks(
    fake, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import json

    from typer.testing import CliRunner

    from songpop.cli import app
    from support import save_lgbm_bundle

    monkeypatch.setenv("SONGPOP_RECCOBEATS_URL", fake.url)
    monkeypatch.setenv("SONGPOP_SPOTIFY_API_URL", fake.url)
    monkeypatch.setenv("SONGPOP_SPOTIFY_ACCOUNTS_URL", fake.url)
    monkeypatch.setenv("SONGPOP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    model = save_lgbm_bundle(tmp_path / "lgbm")
    runner = CliRunner()
    link = f"https://open.spotify.com/track/{IDS[4]}"
    offline = runner.invoke(app, ["predict", link, "--model", str(model)])
    assert offline.exit_code == 2 and "add --online" in " ".join(offline.stderr.split())
    assert fake.state.calls == []  # --offline (the default) never touched the network
    out = tmp_path / "p.json"
    online = runner.invoke(app, ["predict", link, "--online", "--model", str(model), "--out",
                                 str(out)])  # fmt: skip
    assert online.exit_code == 0, online.output
    [p] = json.loads(out.read_text())
    assert p["song"]["provider"] == "reccobeats" and set(p["sources"].values()) == {"reccobeats"}
    by_title = runner.invoke(app, ["predict", "--title", "Song 9", "--artist", "Artist 2",
                                   "--online", "--model", str(model)])  # fmt: skip
    assert by_title.exit_code == 0, by_title.output
    assert "Song 9" in by_title.output


def _provider_env(monkeypatch, fake, tmp_path: Path, spotify: bool = True) -> None:
    monkeypatch.setenv("SONGPOP_RECCOBEATS_URL", fake.url)
    monkeypatch.setenv("SONGPOP_SPOTIFY_API_URL", fake.url)
    monkeypatch.setenv("SONGPOP_SPOTIFY_ACCOUNTS_URL", fake.url)
    monkeypatch.setenv("SONGPOP_CACHE_DIR", str(tmp_path / "cache"))
    if spotify:
        monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    else:
        monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
        monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))


def test_fetch_features_resumes_after_an_interruption(fake, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from songpop.cli import app
    from songpop.sources.tracks import read_tracks

    _provider_env(monkeypatch, fake, tmp_path, spotify=False)
    listing = tmp_path / "ids.txt"
    lines = [f"https://open.spotify.com/track/{i}" for i in IDS[:100]]
    lines[10:10] = ["# a comment", "", "https://open.spotify.com/album/" + "a" * 22]
    listing.write_text("\n".join(lines) + "\n" + "Z" * 22 + "\n")
    out = tmp_path / "tracks.csv"
    runner = CliRunner()
    # the service breaks down during the second batch: the run stops with one line, keeping
    # the first batch
    fake.fail("/v1/track", "ok", times=1)
    fake.fail("/v1/track", "500", times=10)
    broken = runner.invoke(app, ["data", "fetch-features", "--ids", str(listing), "--out",
                                 str(out)])  # fmt: skip
    assert (
        broken.exit_code == 3 and "HTTP 500" in broken.stderr and "Traceback" not in broken.output
    )
    assert not out.exists()
    kept = (tmp_path / "tracks.csv.partial.jsonl").read_text().splitlines()
    assert len(kept) == 40
    fake.state.failures.clear()
    calls_before = fake.calls_to("/v1/audio-features")
    done = runner.invoke(app, ["data", "fetch-features", "--ids", str(listing), "--out",
                               str(out)])  # fmt: skip
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert "100 of 101 song(s) with features (reccobeats 100; 40 from an interrupted run)" in text
    assert "1 not found" in text and "album link, not a track" in " ".join(done.stderr.split())
    # the first batch was not asked for again: 61 ids left → 2 more requests
    assert fake.calls_to("/v1/audio-features") - calls_before == 2
    assert not (tmp_path / "tracks.csv.partial.jsonl").exists()
    table = read_tracks(out)  # the layout `data build --tracks` reads
    assert len(table) == 100 and table.attrs["layout"] == "spotify_api"
    assert out.read_text().splitlines()[0].count(",year,") == 1
    assert table["duration_ms"].notna().all() and table["title"].iloc[0] == "Song 0"


def test_fetch_features_for_chart_songs_the_catalogue_lacks(
    fake, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from songpop.cli import app

    _provider_env(monkeypatch, fake, tmp_path)
    charts = tmp_path / "charts.csv"
    charts.write_text(
        "chart_date,this_week,song,artist,last_week,peak_position,weeks_on_chart\n"
        "2026-08-01,1,Song 12,Artist 5,,1,1\n"
        "2026-08-01,2,Hey Jude,The Beatles,,1,1\n"  # in the catalogue already: not fetched
        "2026-08-08,1,Song 12,Artist 5,1,1,2\n"
        "2026-08-08,2,Nobody Knows This One,Nobody,,2,1\n"
    )
    out = tmp_path / "new.parquet"
    result = CliRunner().invoke(app, ["data", "fetch-features", "--charts", str(charts), "--out",
                                      str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 of 2 song(s) with features" in " ".join(result.output.split())
    import pandas as pd

    [row] = pd.read_parquet(out).to_dict("records")
    assert row["id"] == IDS[12] and row["query_title"] == "Song 12"
    assert row["provider"] == "reccobeats" and row["isrc"] == TRACKS[IDS[12]]["isrc"]


def test_fetch_features_by_chart_needs_spotify_search(
    fake, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from songpop.cli import app

    _provider_env(monkeypatch, fake, tmp_path, spotify=False)
    charts = tmp_path / "charts.csv"
    charts.write_text("chart_date,this_week,song,artist,last_week,peak_position,weeks_on_chart\n"
                      "2026-08-01,1,Song 12,Artist 5,,1,1\n")  # fmt: skip
    result = CliRunner().invoke(app, ["data", "fetch-features", "--charts", str(charts), "--out",
                                      str(tmp_path / "x.csv")])  # fmt: skip
    assert result.exit_code == 2
    assert "needs credentials" in " ".join(result.stderr.split())


def test_the_api_asks_the_providers_only_when_the_server_runs_online(
    fake, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """The API finds a song as the CLI does (`inputs.find`): a link the catalogue lacks is a 404
    on an offline server and never touches the network; with `serve --online` (the app's
    `online` state) the feature APIs are asked and the song is predicted from their values."""
    from fastapi.testclient import TestClient

    from songpop.api import create_app
    from support import save_lgbm_bundle

    _provider_env(monkeypatch, fake, tmp_path)
    model = save_lgbm_bundle(tmp_path / "lgbm")
    link = f"https://open.spotify.com/track/{IDS[4]}"
    app = create_app([model])
    with TestClient(app) as client:
        offline = client.post("/predict", json={"spotify": link})
        assert offline.status_code == 404
        assert "does not ask the feature APIs" in offline.json()["detail"]
        assert fake.state.calls == []
        app.state.online = True
        online = client.post("/predict", json={"spotify": link})
        assert online.status_code == 200, online.text
        [p] = online.json()["predictions"]
        assert p["song"]["provider"] == "reccobeats"
        assert set(p["sources"].values()) == {"reccobeats"}


def test_the_api_answers_502_when_the_feature_apis_fail(
    fake, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """An online server whose feature APIs fail answers 502 in words for the client, and keeps
    the provider's details (URLs, settings) out of the answer."""
    from fastapi.testclient import TestClient

    from songpop.api import create_app
    from support import save_lgbm_bundle

    _provider_env(monkeypatch, fake, tmp_path)
    monkeypatch.setenv("SONGPOP_RECCOBEATS_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("SONGPOP_PROVIDER_DEADLINE", "2")
    model = save_lgbm_bundle(tmp_path / "lgbm")
    app = create_app([model])
    with TestClient(app) as client:
        app.state.online = True
        answer = client.post("/predict", json={"spotify": IDS[4]})
    assert answer.status_code == 502, answer.text
    detail = answer.json()["detail"]
    assert "feature APIs did not answer" in detail
    assert "127.0.0.1" not in detail and "SONGPOP_" not in detail


def test_online_lookups_beyond_the_limit_get_503(
    fake, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """An online server asks the feature APIs for at most `LookupSlots.limit` songs at once;
    one more is answered at once with 503 and Retry-After (the held lookup is released by the
    test, so there is no race with how fast the fake answers)."""
    import threading

    from fastapi.testclient import TestClient

    import songpop.api.predict as api_predict
    from songpop.api import create_app
    from songpop.api.analyses import LookupSlots
    from support import save_lgbm_bundle

    _provider_env(monkeypatch, fake, tmp_path)
    started, release = threading.Event(), threading.Event()
    real = api_predict.predict_known

    def held(*args, **kwargs):
        started.set()
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(api_predict, "predict_known", held)
    app = create_app([save_lgbm_bundle(tmp_path / "lgbm")])
    with TestClient(app) as client:
        app.state.online = True
        app.state.lookup_slots = LookupSlots(1)
        first: list = []
        link = {"spotify": IDS[4]}
        thread = threading.Thread(target=lambda: first.append(client.post("/predict", json=link)))
        thread.start()
        try:
            assert started.wait(60)
            second = client.post("/predict", json=link)
            assert second.status_code == 503 and second.headers["retry-after"].isdigit()
            assert "feature APIs" in second.json()["detail"]
        finally:
            release.set()
            thread.join(timeout=120)
        assert first and first[0].status_code == 200, first and first[0].text
        assert client.post("/predict", json=link).status_code == 200  # the slot came back

"""The API's lookup: `GET /lookup` and `POST /predict` with `{"spotify": ...}` or
`{"title": ..., "artist": ...}`, on the real data folder's catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from songpop.api import create_app
from support import save_lgbm_bundle

LINK = "https://open.spotify.com/track/4GiXBCUF7H6YfNQsnBRIzl?si=abc"


@pytest.fixture(scope="module")
def client(data_dir: Path, tmp_path_factory):
    bundle = save_lgbm_bundle(tmp_path_factory.mktemp("models") / "lgbm")
    with TestClient(create_app([bundle])) as c:
        yield c


def test_lookup_by_title_prefix_and_link(client) -> None:
    r = client.get("/lookup", params={"q": "Hey Jude", "artist": "Wilson Pickett"})
    assert r.status_code == 200
    assert {c["best_position"] for c in r.json()} == {23}
    r = client.get("/lookup", params={"q": "crazy in lo", "prefix": "true", "limit": 8})
    titles = [c["title"].lower() for c in r.json()]
    assert titles and all(t.startswith("crazy in lo") for t in titles)
    r = client.get("/lookup", params={"q": LINK})
    assert [c["title"] for c in r.json()] == ["Lucky Man"]
    assert client.get("/lookup", params={"q": "Zyxwv Quorble Anthem"}).json() == []
    assert client.get("/lookup", params={"q": ""}).status_code == 422


def test_predict_a_known_song_by_title_or_link(client) -> None:
    r = client.post("/predict?explain=true", json={"title": "Crazy in Love", "artist": "Beyonce"})
    assert r.status_code == 200, r.text
    [p] = r.json()["predictions"]
    assert p["song"]["artist"] == "Beyoncé" and p["song"]["best_position"] == 1
    assert set(p["sources"].values()) == {p["song"]["source"]}
    assert p["explanation"] is not None
    r = client.post("/predict", json={"spotify": LINK})
    assert r.status_code == 200
    assert r.json()["predictions"][0]["song"]["title"] == "Lucky Man"


def test_unknown_songs_and_bad_references(client) -> None:
    r = client.post("/predict", json={"title": "Zyxwv Quorble Anthem"})
    detail = r.json()["detail"]  # the CLI's words: where songpop looked, and what to do
    assert r.status_code == 404 and "'Zyxwv Quorble Anthem': not in the local catalogue" in detail
    assert "this server does not ask the feature APIs" in detail and "POST /predict" in detail
    assert "--online" not in detail and "songpop predict" not in detail  # no CLI advice
    r = client.post("/predict", json={"spotify": "https://open.spotify.com/playlist/" + "a" * 22})
    assert r.status_code == 422 and "playlist link, not a track" in r.text
    r = client.post("/predict", json={"title": "x", "spotify": "0" * 22})
    assert r.status_code == 422 and "title" in r.text
    r = client.get("/lookup", params={"q": "spotify:track:abc"})
    assert r.status_code == 422 and "not 22 letters and digits" in r.text
    # a song with features and a title is still a song, not a lookup
    r = client.post("/predict", json={"title": "Mine", "danceability": 0.5})
    assert r.status_code == 422 and "acousticness is required" in r.text


def test_a_known_song_is_told_as_known(data_dir: Path, tmp_path: Path) -> None:
    """Issue 22: a title that is one of the model's training songs says so, with its real
    level."""
    from lightgbm import LGBMClassifier

    from support import audio_pipeline, chart_history, level_of, random_songs, save_audio_bundle

    X = random_songs()
    y = level_of(X)
    songs = chart_history(y)
    songs.loc[0, ["title", "artist", "level", "popularity"]] = [
        "billie jean", "michael jackson", "high", 81.0,
    ]  # fmt: skip
    model = LGBMClassifier(n_estimators=20, num_leaves=8, n_jobs=1, random_state=0, verbose=-1)
    folder = save_audio_bundle(
        audio_pipeline(model, scale=False).fit(X, y), tmp_path / "lgbm", X, y, songs=songs
    )
    with TestClient(create_app([folder])) as c:
        song = {"title": "Billie Jean", "artist": "Michael Jackson"}
        r = c.post("/predict?similar=50", json=song)
        assert r.status_code == 200, r.text
        [p] = r.json()["predictions"]
        assert p["known"]["role"] == "training" and p["known"]["level"] == "high"
        assert "not a forecast" in p["known"]["line"]
        assert len(p["similar"]) == 50  # restated through the catalogue without a failure
        r = c.post("/predict", json={"title": "Crazy in Love", "artist": "Beyonce"})
        assert r.json()["predictions"][0]["known"] is None

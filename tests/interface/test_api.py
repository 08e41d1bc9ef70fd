"""The HTTP API through FastAPI's TestClient, on two tiny real bundles (see api_support.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from api_support import TYPICAL_SONG, make_bundles
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import songpop
from songpop import config
from songpop.api import create_app
from songpop.api.schemas import MAX_BODY_BYTES, MAX_EXPLAINED_RECORDS, MAX_RECORDS
from songpop.bundle import load_bundle
from songpop.errors import InputError


@pytest.fixture(scope="module")
def bundle_paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_bundles(tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="module")
def client(bundle_paths: list[Path]) -> TestClient:
    with TestClient(create_app(bundle_paths)) as test_client:
        yield test_client


def song(**changes: float | int) -> dict:
    return {**TYPICAL_SONG, **changes}


def messages(response) -> list[str]:
    detail = response.json()["detail"]
    return [d["msg"] for d in detail] if isinstance(detail, list) else [detail]


# --- service routes -----------------------------------------------------------------------------


def test_health_names_the_loaded_models(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": songpop.__version__,
        "models_loaded": 2,
        "models": ["logreg-audio", "forest-context"],
    }


def test_models_describe_each_bundle(client: TestClient) -> None:
    models = {m["id"]: m for m in client.get("/models").json()}
    assert set(models) == {"logreg-audio", "forest-context"}
    audio = models["logreg-audio"]
    assert audio["default"] is True and models["forest-context"]["default"] is False
    assert sorted(audio["classes"]) == sorted(config.LEVELS)
    assert audio["feature_names"] == list(config.AUDIO_FEATURES)
    assert audio["feature_set"] == "audio" and audio["task"] == "seed"
    assert audio["label_strategy"] == "spotify"
    assert audio["metrics"] == {"accuracy": 0.5, "n_test": 60}  # the scalar summary
    assert models["forest-context"]["feature_names"][-2:] == ["year", "mode"]


def test_feature_schema_gives_ranges_units_and_typical_defaults(client: TestClient) -> None:
    schema = client.get("/schema/features").json()
    specs = {f["name"]: f for f in schema["features"]}
    assert set(config.AUDIO_FEATURES) <= set(specs)
    assert {"year", "mode"} <= set(specs) and "explicit" not in specs  # no model uses it
    for name, spec in specs.items():
        assert (spec["min"], spec["max"]) == config.FEATURE_RANGES[name]
        assert spec["min"] <= spec["default"] <= spec["max"]
    assert specs["tempo"]["unit"] == "BPM" and specs["loudness"]["unit"] == "dB"
    assert specs["key"]["kind"] == "int" and specs["key"]["step"] == 1
    assert specs["year"]["used_by"] == ["forest-context"]
    # the defaults are the default bundle's typical training values
    typical = load_bundle_typical(client)
    # ... snapped to the slider's grid (step 0.01)
    assert specs["danceability"]["default"] == pytest.approx(typical["danceability"], abs=0.005)
    assert specs["duration_ms"]["default"] % 1000 == 0
    assert "logreg-audio" in schema["defaults_source"]


def load_bundle_typical(client: TestClient) -> dict:
    bundle = client.app.state.models.bundles["logreg-audio"]
    return bundle.meta["reference"]["typical"]


# --- predictions --------------------------------------------------------------------------------


def test_predict_one_song(client: TestClient) -> None:
    response = client.post("/predict", json=song())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == "logreg-audio"
    [prediction] = body["predictions"]
    assert prediction["level"] in body["classes"]
    assert set(prediction["probabilities"]) == set(body["classes"])
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
    assert prediction["level"] == max(
        prediction["probabilities"], key=prediction["probabilities"].get
    )
    assert prediction["explanation"] is None


def test_predict_a_list_keeps_the_order(client: TestClient) -> None:
    loud = song(loudness=-3.0, danceability=0.95, energy=0.95, title="loud")
    quiet = song(loudness=-24.0, danceability=0.25, energy=0.05, title="quiet")
    response = client.post("/predict", json=[loud, quiet, loud])
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["ids"]["title"] for p in predictions] == ["loud", "quiet", "loud"]
    # the synthetic label rises with loudness, danceability and energy
    assert predictions[0]["level"] == "high" and predictions[1]["level"] == "low"
    assert predictions[0]["probabilities"] == predictions[2]["probabilities"]


def test_api_answers_what_the_library_predict_answers(
    client: TestClient, bundle_paths: list[Path]
) -> None:
    from songpop.inference import predict

    records = [song(tempo=90.0), song(valence=0.1, key=-1)]
    expected = predict(records, load_bundle(bundle_paths[0]))
    got = client.post("/predict", json=records).json()["predictions"]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine["level"] == theirs.level
        assert mine["probabilities"] == pytest.approx(theirs.probabilities)


@pytest.mark.parametrize("how", ["query", "body"])
def test_explain_in_plain_words(client: TestClient, how: str) -> None:
    if how == "query":
        response = client.post("/predict?explain=true", json=song())
    else:
        response = client.post("/predict", json={"records": [song()], "explain": True})
    assert response.status_code == 200, response.text
    prediction = response.json()["predictions"][0]
    explanation = prediction["explanation"]
    assert explanation["target"] == prediction["level"]
    contributions = explanation["contributions"]
    assert [c["feature"] for c in contributions] != []
    assert sorted(c["feature"] for c in contributions) == sorted(config.AUDIO_FEATURES)
    strengths = [abs(c["contribution"]) for c in contributions]
    assert strengths == sorted(strengths, reverse=True)  # the strongest first
    assert all(c["text"].strip() and c["direction"] in {"up", "down"} for c in contributions)


def test_choose_a_model_by_id(client: TestClient) -> None:
    response = client.post("/predict?model=forest-context", json=song(year=1999, mode=1))
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["model_id"] == "forest-context"
    body = {"records": [song(year=1999, mode=0)], "model": "forest-context"}
    assert client.post("/predict", json=body).json()["model_id"] == "forest-context"


def test_context_the_model_uses_is_required(client: TestClient) -> None:
    response = client.post("/predict?model=forest-context", json=song(mode=1))
    assert response.status_code == 422
    assert messages(response) == [
        "year is required by model forest-context: an integer from 1900 to 2100"
    ]
    both = client.post("/predict?model=forest-context", json=[song(year=1990, mode=1), song()])
    assert both.status_code == 200, both.text
    assert [p["index"] for p in both.json()["predictions"]] == [0]
    [error] = both.json()["errors"]
    assert error["index"] == 1
    assert [item["msg"] for item in error["problems"]] == [
        "record 1: year is required by model forest-context: an integer from 1900 to 2100",
        "record 1: mode is required by model forest-context: an integer from 0 to 1",
    ]
    neither = client.post("/predict?model=forest-context", json=[song(year=1990), song()])
    assert neither.status_code == 422
    assert messages(neither) == [
        "record 0: mode is required by model forest-context: an integer from 0 to 1",
        "record 1: year is required by model forest-context: an integer from 1900 to 2100",
        "record 1: mode is required by model forest-context: an integer from 0 to 1",
    ]


def test_a_hit_model_that_knows_only_the_decade_is_served(tmp_path: Path) -> None:
    """The Hit Predictor gives a decade, not a year: its context model reads `decade`."""
    from sklearn.ensemble import RandomForestClassifier

    from support import random_songs, save_audio_bundle

    X = random_songs(200, seed=2).assign(decade=lambda d: 1960 + 10 * (d.index % 6))
    y = (X["danceability"] + (X["decade"] - 1960) / 100 > 0.85).map({True: "hit", False: "not_hit"})
    features = [*config.AUDIO_FEATURES, "decade"]
    forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    path = save_audio_bundle(
        forest.fit(X[features], y), tmp_path / "hit-decade", X[features], y,
        feature_names=features, feature_set="audio+context", label_strategy="hit", task="hit",
    )  # fmt: skip
    with TestClient(create_app([path])) as hits:
        specs = {f["name"]: f for f in hits.get("/schema/features").json()["features"]}
        assert specs["decade"]["step"] == 10 and specs["decade"]["group"] == "context"
        assert "year" not in specs  # only the context a loaded model reads is offered
        answer = hits.post("/predict", json=song(decade=1990))
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["level"] in config.HIT_CLASSES
        assert messages(hits.post("/predict", json=song())) == [
            "decade is required by model hit-decade: an integer from 1900 to 2100"
        ]
        assert hits.post("/predict", json=song(decade=1995.5)).status_code == 422


def test_context_the_model_ignores_is_reported(client: TestClient) -> None:
    response = client.post("/predict", json=song(year=2001))
    assert response.status_code == 200
    assert response.json()["predictions"][0]["ignored_fields"] == ["year"]


def test_unknown_model_is_404_naming_the_loaded_ones(client: TestClient) -> None:
    response = client.post("/predict?model=nope", json=song())
    assert response.status_code == 404
    assert "nope" in response.json()["detail"] and "logreg-audio" in response.json()["detail"]


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("danceability", 1.5, "from 0 to 1"),
        ("energy", -0.1, "from 0 to 1"),
        ("tempo", 301.0, "from 0 to 300 BPM"),
        ("key", 12, "integer from -1 to 11"),
        ("loudness", -61.0, "from -60 to 5 dB"),
        ("duration_ms", 0, "from 1 to 3600000 ms"),
        ("key", 3.5, "integer from -1 to 11"),
        ("tempo", "fast", "from 0 to 300 BPM"),
        ("valence", True, "from 0 to 1"),
        ("speechiness", None, "from 0 to 1"),
    ],
)
def test_422_names_the_field_and_its_range(
    client: TestClient, field: str, value: object, allowed: str
) -> None:
    response = client.post("/predict", json=song(**{field: value}))
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["field"] == field
    assert item["msg"].startswith(f"{field} must be") and allowed in item["msg"]


@pytest.mark.parametrize("form", ["list", "records"])
def test_a_list_scores_the_good_records_and_reports_the_bad(client: TestClient, form: str) -> None:
    records = [song(title="first"), song(tempo=500.0, title="bad"), song(title="third")]
    body = records if form == "list" else {"records": records}
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [(p["index"], p["ids"]["title"]) for p in answer["predictions"]] == [
        (0, "first"),
        (2, "third"),
    ]
    alone = client.post("/predict", json=[records[0], records[2]]).json()["predictions"]
    assert [p["probabilities"] for p in answer["predictions"]] == [
        p["probabilities"] for p in alone
    ]
    [error] = answer["errors"]
    assert error["index"] == 1
    [problem] = error["problems"]
    assert problem["field"] == "tempo"
    assert problem["msg"] == "record 1: tempo must be a number from 0 to 300 BPM (got 500.0)"


def test_a_list_reports_unknown_fields_and_missing_features_per_record(
    client: TestClient,
) -> None:
    missing = song()
    del missing["loudness"]
    response = client.post("/predict", json=[song(popularity=80), song(), missing])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [p["index"] for p in answer["predictions"]] == [1]
    assert [(e["index"], [p["msg"] for p in e["problems"]]) for e in answer["errors"]] == [
        (0, [answer["errors"][0]["problems"][0]["msg"]]),
        (2, ["record 2: loudness is required: a number from -60 to 5 dB"]),
    ]
    assert "record 0: unknown field 'popularity'" in answer["errors"][0]["problems"][0]["msg"]


def test_a_list_with_every_record_invalid_is_422_naming_them(client: TestClient) -> None:
    response = client.post("/predict", json=[song(tempo=500.0), song(key=12)])
    assert response.status_code == 422
    assert messages(response) == [
        "record 0: tempo must be a number from 0 to 300 BPM (got 500.0)",
        "record 1: key must be an integer from -1 to 11 (got 12)",
    ]
    envelope = client.post("/predict", json={"records": [song(energy=2.0)]})
    assert envelope.status_code == 422
    assert messages(envelope) == ["record 0: energy must be a number from 0 to 1 (got 2.0)"]


def test_a_list_reports_records_the_library_refuses(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import songpop.inference
    from songpop.inference import Problem, RecordError

    real = songpop.inference.predict
    calls = []

    def refuse_loud(records, bundle, *, explain=False, similar=0):
        calls.append(len(records))
        loud = [i for i, r in enumerate(records) if r["loudness"] > 0]
        if loud:
            problems = [Problem(i, "loudness", 1.0, "quiet", "loudness is too loud") for i in loud]
            raise RecordError(problems, single=False)
        return real(records, bundle, explain=explain, similar=similar)

    monkeypatch.setattr(songpop.inference, "predict", refuse_loud)
    response = client.post("/predict", json=[song(), song(loudness=1.0), song()])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [p["index"] for p in answer["predictions"]] == [0, 2]
    assert answer["errors"] == [
        {
            "index": 1,
            "problems": [
                {
                    "loc": ["body", 1, "loudness"],
                    "field": "loudness",
                    "msg": "record 1: loudness is too loud",
                    "type": "invalid_record",
                }
            ],
        }
    ]
    assert calls == [3, 2]


def test_missing_feature_is_named(client: TestClient) -> None:
    record = song()
    del record["loudness"]
    response = client.post("/predict", json=record)
    assert response.status_code == 422
    assert messages(response) == ["loudness is required: a number from -60 to 5 dB"]


def test_not_a_finite_number(client: TestClient) -> None:
    raw = json.dumps(song()).replace('"tempo": 118.0', '"tempo": NaN')
    response = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert messages(response)[0].startswith("tempo must be a number from 0 to 300")


def test_unknown_field_is_reported_not_ignored(client: TestClient) -> None:
    response = client.post("/predict", json=song(popularity=80))
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["field"] == "popularity" and "unknown field 'popularity'" in item["msg"]


def test_bad_json_is_a_4xx_that_says_so(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b'{"tempo": 120,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in messages(response)[0]


@pytest.mark.parametrize("body", [5, "song", None, []])
def test_wrong_body_form_is_422(client: TestClient, body: object) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422, response.text
    assert messages(response)


def test_list_size_limit(client: TestClient) -> None:
    response = client.post("/predict", json=[song()] * (MAX_RECORDS + 1))
    assert response.status_code == 422
    assert f"1 to {MAX_RECORDS} records" in messages(response)[0]


def test_explanations_are_limited_per_request(client: TestClient) -> None:
    response = client.post("/predict?explain=true", json=[song()] * (MAX_EXPLAINED_RECORDS + 1))
    assert response.status_code == 422
    assert f"at most {MAX_EXPLAINED_RECORDS} records" in messages(response)[0]


def test_huge_body_is_413(client: TestClient) -> None:
    body = json.dumps([song()] * 6000).encode()
    assert len(body) > MAX_BODY_BYTES
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["detail"]


def test_huge_streamed_body_without_length_is_413(client: TestClient) -> None:
    def chunks():
        yield b"["
        for _ in range(6000):
            yield json.dumps(song()).encode() + b","
        yield b"{}]"

    response = client.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_library_errors_are_4xx_with_the_message(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import songpop.inference

    def refuse(records, bundle, *, explain=False, similar=0):
        raise InputError("tempo: the model cannot score this")

    monkeypatch.setattr(songpop.inference, "predict", refuse)
    response = client.post("/predict", json=song())
    assert response.status_code == 422
    assert response.json() == {"detail": "tempo: the model cannot score this"}


# --- start-up -----------------------------------------------------------------------------------


def test_default_model_is_the_last_runs_default(
    bundle_paths: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "runs" / "r1" / "models"
    models.mkdir(parents=True)
    (models / "index.json").write_text(json.dumps({"default": "forest"}))
    import shutil

    shutil.copytree(bundle_paths[1], models / "forest")
    (tmp_path / "runs" / "LATEST").write_text("r1\n")
    monkeypatch.setenv(config.RUNS_DIR_ENV, str(tmp_path / "runs"))
    with TestClient(create_app()) as default_client:
        assert default_client.get("/health").json()["models"] == ["forest-context"]


def test_a_bad_model_folder_stops_start_up(tmp_path: Path) -> None:
    from songpop.errors import BundleError

    with pytest.raises(BundleError, match="bundle.json"), TestClient(create_app([tmp_path])):
        pass


# --- page and docs ------------------------------------------------------------------------------


def test_page_and_docs_are_served_without_external_resources(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text + docs.text)
    linked += re.findall(r"url: '([^']+)'", docs.text)
    assert linked
    for url in linked:
        assert not url.startswith(("http:", "https:", "//")), url
        if url.startswith("/"):
            assert client.get(url).status_code == 200, url
    for asset in ("/static/app.js", "/static/style.css"):
        text = client.get(asset).text
        assert not re.search(r"https?://", text), asset


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/health", "/models", "/predict", "/schema/features"} <= set(spec["paths"])
    song_schema = spec["components"]["schemas"]["Song"]
    assert song_schema["additionalProperties"] is False
    assert song_schema["properties"]["tempo"]["maximum"] == 300


# --- CLI ----------------------------------------------------------------------------------------


def test_serve_help() -> None:
    from songpop.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--model", "--host", "--port"):
        assert option in result.output
    assert "web page" in result.output


def test_serve_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    from songpop.cli import app

    result = CliRunner().invoke(app, ["serve", "--model", str(tmp_path)])
    assert result.exit_code == 2
    assert "bundle.json" in result.output


def test_serve_starts_uvicorn_with_one_worker_on_the_given_models(
    bundle_paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from songpop.cli import app

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kwargs: started.update(app=asgi, **kwargs))
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    args = ["serve", "--model", str(bundle_paths[1]), "--model", str(bundle_paths[0])]
    result = CliRunner().invoke(app, [*args, "--port", "8123", "--model-threads", "1"])
    assert result.exit_code == 0, result.output
    assert (started["host"], started["port"], started["workers"]) == ("127.0.0.1", 8123, 1)
    assert os.environ["OMP_NUM_THREADS"] == "1"
    with TestClient(started["app"]) as served:
        assert served.get("/health").json()["models"] == ["forest-context", "logreg-audio"]


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(client: TestClient, kind: str | None) -> None:
    headers = {"content-type": kind} if kind else {}
    response = client.post("/predict", content=b"tempo=120", headers=headers)
    assert response.status_code == 415
    assert "takes a JSON body (Content-Type: application/json)" in response.json()["detail"]
    ok = client.post(
        "/predict", content=json.dumps(song()), headers={"content-type": "application/json"}
    )
    assert ok.status_code == 200


def test_a_whole_float_is_an_integer_as_the_schema_says(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Song"]["properties"]
    assert schema["key"]["type"] == "integer"
    with_float = client.post("/predict", json=song(key=7.0, mode=1.0))
    with_int = client.post("/predict", json=song(key=7, mode=1))
    assert with_float.status_code == 200, with_float.text
    assert with_float.json()["predictions"] == with_int.json()["predictions"]
    for bad in (7.5, "7"):
        refused = client.post("/predict", json=song(key=bad))
        assert refused.status_code == 422 and "key" in messages(refused)[0]


def test_security_headers(client: TestClient) -> None:
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    for response in (page, client.get("/health"), client.post("/predict", json=song())):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" not in client.get("/health").headers  # JSON, not a page


def test_answers_carry_words_similar_songs_warnings_and_the_model_notes(
    client: TestClient,
) -> None:
    """What a reader needs beside the numbers (issue #14): the level in words, the nearest
    training songs with their history, why a song is unusual, the chart of where it sits, and
    per model what the levels mean and how often it is right."""
    response = client.post("/predict?similar=3", json=song(tempo=299.0))
    assert response.status_code == 200, response.text
    (p,) = response.json()["predictions"]
    assert p["words"] == f"{p['level']} popularity"
    assert len(p["similar"]) == 3 and p["similar"][0]["title"].startswith("Song ")
    assert {"peak", "weeks", "popularity", "year", "words", "distance"} <= set(p["similar"][0])
    assert any(w.startswith("tempo 299 BPM is outside the range") for w in p["warnings"])
    assert p["positions_svg"] is None  # drawn with explain only
    body = {"records": [song()], "explain": True, "similar": 2}
    (p,) = client.post("/predict", json=body).json()["predictions"]
    assert len(p["similar"]) == 2 and p["warnings"] == []
    svg = p["positions_svg"]
    assert svg.startswith("<svg") and 'data-position="loudness"' in svg
    model = client.get("/models").json()[0]
    assert model["title"] == "Popularity level (the original report's songs) · audio only · " + (
        "logreg-audio"
    )
    assert model["about"]["accuracy"].startswith(
        "right on 50.0% of held-out songs (95% interval 40.0-60.0%)"
    )
    assert model["about"]["classes"] == {
        "low": "low popularity", "medium": "medium popularity", "high": "high popularity"
    }  # fmt: skip
    too_many = client.post("/predict?similar=51", json=song())
    assert too_many.status_code == 422 and "similar" in too_many.text

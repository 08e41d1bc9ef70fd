"""The one predict path: validation, agreement between entry points, batch files with rejects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression

from songpop import config
from songpop.bundle import Bundle, load_bundle
from songpop.errors import InputError, LayoutError
from songpop.inference import (
    RecordError,
    describe_feature,
    predict,
    predict_frame,
    score_file,
    validate_frame,
)
from support import (
    FEATURES,
    SONG,
    audio_pipeline,
    in_hit_predictor_layout,
    labelled_songs,
    save_audio_bundle,
)


def make_bundle(folder, final, scale: bool) -> Bundle:
    X, y = labelled_songs()
    est = audio_pipeline(final, scale=scale).fit(X, y)
    return load_bundle(save_audio_bundle(est, folder, X, y))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Bundle:
    model = LGBMClassifier(n_estimators=30, num_leaves=8, n_jobs=1, random_state=0, verbose=-1)
    return make_bundle(tmp_path_factory.mktemp("b") / "lgbm", model, scale=False)


@pytest.fixture(scope="module")
def logreg(tmp_path_factory) -> Bundle:
    return make_bundle(tmp_path_factory.mktemp("b") / "logreg", LogisticRegression(), scale=True)


def test_dict_list_and_frame_agree(bundle):
    other = dict(SONG, loudness=-20.0, danceability=0.3)
    one = predict(SONG, bundle)
    many = predict([SONG, other], bundle)
    frame = predict(pd.DataFrame([SONG, other]), bundle)
    assert len(one) == 1 and len(many) == 2 and len(frame) == 2
    assert one[0] == many[0] == frame[0]
    assert many[1] == frame[1]
    assert many[0].probabilities != many[1].probabilities
    p = one[0]
    assert p.model_id == "lgbm" and p.level in config.LEVELS
    assert list(p.probabilities) == bundle.levels == ["low", "medium", "high"]
    assert sum(p.probabilities.values()) == pytest.approx(1.0)
    assert p.level == max(p.probabilities, key=p.probabilities.get)


@pytest.mark.parametrize("name", ["bundle", "logreg"])
def test_predict_frame_equals_the_pipeline(request, name):
    b = request.getfixturevalue(name)
    X, _ = labelled_songs(50, seed=7)
    expected = b.estimator.predict_proba(X)
    got = predict_frame(X, b)[[f"proba_{c}" for c in b.classes]].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_out_of_range_names_field_and_range(bundle):
    with pytest.raises(RecordError) as info:
        predict(dict(SONG, danceability=1.7, tempo=-3), bundle)
    message = str(info.value)
    assert "danceability: 1.7 is out of range; expected a number from 0 to 1" in message
    assert "tempo: -3 is out of range; expected a number from 0 to 300 BPM" in message
    assert {p.field for p in info.value.problems} == {"danceability", "tempo"}
    assert isinstance(info.value, InputError)


def test_missing_wrong_type_and_unknown_fields(bundle):
    record = {k: v for k, v in SONG.items() if k != "energy"}
    record.update(loudness="loud", key=2.5, mood="happy")
    with pytest.raises(RecordError) as info:
        predict([SONG, record], bundle)
    message = str(info.value)
    assert "record 2: energy: missing; expected a number from 0 to 1" in message
    assert "record 2: loudness: wrong type (str 'loud'); expected a number from -60 to 5 dB" in (
        message
    )
    assert "key: 2.5 is not a whole number" in message
    assert "unknown field 'mood'" in message
    assert all(p.record == 1 for p in info.value.problems)


def test_booleans_and_nan_are_not_numbers(bundle):
    with pytest.raises(RecordError, match="energy: wrong type"):
        predict(dict(SONG, energy=True), bundle)
    with pytest.raises(RecordError, match="valence: nan is not a finite number"):
        predict(dict(SONG, valence=float("nan")), bundle)


def test_ids_echoed_and_unused_features_reported(bundle):
    (p,) = predict(dict(SONG, title="Song", artist="Band", year=1999), bundle)
    assert p.ids == {"title": "Song", "artist": "Band"}
    assert p.ignored_fields == ["year"]
    with pytest.raises(RecordError, match="year: 1850 is out of range"):
        predict(dict(SONG, year=1850), bundle)


def test_not_a_record(bundle):
    with pytest.raises(InputError, match="got str"):
        predict("danceability=1", bundle)
    assert predict([], bundle) == []


def test_describe_feature():
    assert describe_feature("loudness") == "a number from -60 to 5 dB"
    assert describe_feature("key") == "an integer from -1 to 11 (pitch class (0 = C, -1 = none))"
    assert describe_feature("year") == "an integer from 1900 to 2100"


def test_prediction_does_not_depend_on_row_order(bundle):
    X, _ = labelled_songs(200, seed=3)
    X["title"] = [f"song {i}" for i in range(len(X))]
    forward = predict_frame(X, bundle).set_index("title")
    shuffled = predict_frame(X.sample(frac=1, random_state=1), bundle).set_index("title")
    pd.testing.assert_frame_equal(forward.sort_index(), shuffled.sort_index())
    assert list(predict_frame(X, bundle).columns) == [  # the classes in their natural order
        "title",
        "level",
        "proba_low",
        "proba_medium",
        "proba_high",
    ]


def test_validate_frame_reasons():
    df = pd.DataFrame([SONG] * 4)
    df["danceability"] = pd.Series([0.5, 1.5, None, 0.2], dtype="float64")
    df["key"] = [1, 2, 3, 12]
    _, ok, problems = validate_frame(df, FEATURES)
    assert ok.tolist() == [True, False, False, False]
    assert problems[["row", "field", "reason"]].values.tolist() == [
        [1, "danceability", "out of range"],
        [2, "danceability", "missing"],
        [3, "key", "out of range"],
    ]
    with pytest.raises(LayoutError, match="'tempo'"):
        validate_frame(df.drop(columns=["tempo"]), FEATURES)


def test_predict_frame_refuses_bad_rows(bundle):
    df = pd.DataFrame([SONG, dict(SONG, energy=2.0)])
    with pytest.raises(RecordError, match="row 2: energy: out of range"):
        predict_frame(df, bundle)


def _batch(n: int = 40) -> pd.DataFrame:
    X, _ = labelled_songs(n, seed=5)
    X.insert(0, "title", [f"t{i}" for i in range(n)])
    X = X.astype({"danceability": object, "key": object})
    X.loc[3, "danceability"] = 1.5  # out of range
    X.loc[7, "key"] = "C#"  # wrong type
    X.loc[11, "tempo"] = np.nan  # missing
    return X


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_file_scores_good_rows_and_rejects_bad(tmp_path, bundle, suffix):
    src = tmp_path / f"batch{suffix}"
    batch = _batch()
    if suffix == ".csv":
        batch.to_csv(src, index=False)
    else:
        batch.astype({"danceability": "float64", "key": "string"}).to_parquet(src)
    out, rejects = tmp_path / f"out{suffix}", tmp_path / "rejects.csv"
    summary = score_file(src, out, bundle, rejects_path=rejects, chunksize=16)
    assert summary["rows_in"] == 40 and summary["scored"] == 37 and summary["rejected"] == 3
    assert summary["layout"] == "spotify_api"
    scored = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(scored) == 37
    assert list(scored.columns[:2]) == ["row", "title"]
    assert {"level", "proba_high", "proba_low", "proba_medium"} <= set(scored.columns)
    assert not {4, 8, 12} & set(scored["row"])
    good = batch.drop(index=[3, 7, 11]).astype({"danceability": float, "key": int})
    expected = bundle.estimator.predict_proba(good[FEATURES])[:, 0]
    np.testing.assert_allclose(scored["proba_high"], expected, rtol=1e-9)
    bad = pd.read_csv(rejects)
    assert bad["row"].tolist() == [4, 8, 12]
    assert bad["title"].tolist() == ["t3", "t7", "t11"]
    assert bad["field"].tolist() == ["danceability", "key", "tempo"]
    assert bad.loc[0, "expected"] == "a number from 0 to 1"
    assert "out of range" in bad.loc[0, "reason"]
    assert "integer" in bad.loc[1, "reason"] or "number" in bad.loc[1, "reason"]
    assert bad.loc[2, "reason"] == "missing"
    if suffix == ".csv":
        assert bad["where"].tolist() == ["line 5", "line 9", "line 13"]


def test_score_file_default_rejects_only_when_needed(tmp_path, bundle):
    good = labelled_songs(10)[0]
    good.to_csv(tmp_path / "good.csv", index=False)
    summary = score_file(tmp_path / "good.csv", tmp_path / "good_out.csv", bundle)
    assert summary["rejected"] == 0 and summary["rejects"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "good_out.csv"]
    _batch().to_csv(tmp_path / "bad.csv", index=False)
    summary = score_file(tmp_path / "bad.csv", tmp_path / "bad_out.csv", bundle)
    assert summary["rejects"] == str(tmp_path / "bad_out.rejects.csv")
    assert len(pd.read_csv(tmp_path / "bad_out.rejects.csv")) == 3


def test_score_file_hit_predictor_layout(tmp_path, bundle):
    X, _ = labelled_songs(12, seed=9)
    hp = in_hit_predictor_layout(X)
    hp.to_csv(tmp_path / "dataset-of-90s.csv", index=False)
    summary = score_file(tmp_path / "dataset-of-90s.csv", tmp_path / "out.csv", bundle)
    assert summary["layout"] == "hit_predictor" and summary["scored"] == 12
    out = pd.read_csv(tmp_path / "out.csv", dtype={"track_id": str})
    assert list(out.columns[:4]) == ["row", "track_id", "title", "artist"]
    assert out["title"].tolist() == [f"track {i}" for i in range(12)]
    assert out["track_id"].iloc[0] == f"{0:022d}"  # the spotify:track: prefix removed
    np.testing.assert_allclose(out["proba_high"], bundle.estimator.predict_proba(X)[:, 0])


def test_score_file_missing_feature_column(tmp_path, bundle):
    labelled_songs(5)[0].drop(columns=["tempo"]).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(LayoutError, match="'tempo'"):
        score_file(tmp_path / "x.csv", tmp_path / "out.csv", bundle)
    assert not (tmp_path / "out.csv").exists()


def test_score_file_is_atomic_when_scoring_fails_midway(tmp_path, bundle, monkeypatch):
    import songpop.inference.core as module

    labelled_songs(50)[0].to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    out.write_text("previous output\n")
    real = module.predict_proba
    calls = {"n": 0}

    def flaky(b, X):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real(b, X)

    monkeypatch.setattr(module, "predict_proba", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        score_file(
            tmp_path / "in.csv",
            out,
            bundle,
            rejects_path=tmp_path / "rej.csv",
            chunksize=10,
            overwrite=True,
        )
    assert out.read_text() == "previous output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_score_file_empty_input(tmp_path, bundle):
    pd.DataFrame(columns=FEATURES).to_csv(tmp_path / "empty.csv", index=False)
    summary = score_file(tmp_path / "empty.csv", tmp_path / "out.parquet", bundle)
    assert summary["rows_in"] == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert len(out) == 0 and "proba_high" in out.columns


def test_a_forest_is_scored_by_the_estimator_itself(tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0)
    rf = make_bundle(tmp_path / "rf", forest, scale=False)
    small = labelled_songs(30, seed=12)[0]
    got = predict_frame(small, rf)[[f"proba_{c}" for c in rf.classes]].to_numpy()
    np.testing.assert_allclose(got, rf.estimator.predict_proba(small), rtol=1e-12, atol=1e-15)
    (p,) = predict(SONG, rf)
    expected = rf.estimator.predict_proba(pd.DataFrame([SONG]))[0]
    assert [p.probabilities[c] for c in rf.classes] == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("binary", [False, True])
def test_calibrated_svc_predictions_equal_the_model(tmp_path, binary):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    model = CalibratedClassifierCV(SVC(C=1.0), method="sigmoid", ensemble=False, cv=3)
    X, y = labelled_songs(200, seed=13)
    if binary:
        y = pd.Series(np.where(y == "high", "hit", "not_hit"))
    est = audio_pipeline(model, scale=True).fit(X, y)
    path = save_audio_bundle(
        est, tmp_path / "svc", X, y, label_strategy="hit" if binary else "spotify"
    )
    b = load_bundle(path)
    new = labelled_songs(40, seed=14)[0]
    got = predict_frame(new, b)[[f"proba_{c}" for c in b.classes]].to_numpy()
    np.testing.assert_allclose(got, est.predict_proba(new), rtol=1e-9, atol=1e-12)


def _write_lines(path, lines: list[str], newline: str = "\n") -> None:
    path.write_bytes(newline.join(lines).encode() + newline.encode())


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_ragged_records_are_rejected_at_their_line_and_blank_lines_count(tmp_path, bundle, newline):
    """A decimal comma, an extra or a missing field: never scored with shifted values."""
    X, _ = labelled_songs(8, seed=21)
    X = X.round(3)
    header = ",".join(X.columns)
    rows = [",".join(str(v) for v in r) for r in X.itertuples(index=False)]
    valence = list(X.columns).index("valence")
    comma = rows[1].split(",")
    comma[valence] = str(X["valence"].iloc[1]).replace(".", ",")  # 0,7 instead of 0.7
    short = rows[4].rsplit(",", 1)[0]  # one field missing
    too_high = rows[6].replace(str(X["energy"].iloc[6]), "2.5", 1)
    lines = [header, rows[0], ",".join(comma), "", rows[2], rows[3] + ",extra", "", "",
             short, rows[5], too_high, rows[7]]  # fmt: skip
    src = tmp_path / "ragged.csv"
    _write_lines(src, lines, newline)
    out, rej = tmp_path / "out.csv", tmp_path / "rej.csv"
    summary = score_file(src, out, bundle, rejects_path=rej, chunksize=3)
    assert summary["rows_in"] == 8 and summary["scored"] == 4 and summary["rejected"] == 4
    bad = pd.read_csv(rej)
    assert bad["where"].tolist() == ["line 3", "line 6", "line 9", "line 11"]
    assert bad["row"].tolist() == [2, 4, 5, 7]
    assert bad["field"].tolist()[:3] == ["(row)"] * 3 and bad["field"].iloc[3] == "energy"
    assert "12 fields where the header has 11" in bad["reason"].iloc[0]
    assert "10 fields where the header has 11" in bad["reason"].iloc[2]
    scored = pd.read_csv(out)
    assert scored["row"].tolist() == [1, 3, 6, 8]
    good = X.iloc[[0, 2, 5, 7]].astype({"key": int})
    np.testing.assert_allclose(
        scored["proba_high"], bundle.estimator.predict_proba(good[FEATURES])[:, 0], rtol=1e-9
    )


def test_a_repeated_column_is_refused(tmp_path, bundle):
    X, _ = labelled_songs(3)
    X.insert(0, "tempo ", X["tempo"], allow_duplicates=True)
    X.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(LayoutError, match="'tempo' appear more than once"):
        score_file(tmp_path / "dup.csv", tmp_path / "out.csv", bundle)
    assert not (tmp_path / "out.csv").exists()

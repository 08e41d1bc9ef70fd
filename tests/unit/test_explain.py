"""Explanations: additivity of the contributions, plain-words sentences, global importance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from songpop.bundle import Bundle, load_bundle
from songpop.inference import predict
from songpop.inference.explain import (
    describe_value,
    explain_table,
    global_importance,
)
from songpop.report.sections import write_explain_section
from support import FEATURES, SONG, audio_pipeline, level_of, random_songs, save_audio_bundle


def levels(X: pd.DataFrame, seed: int = 0) -> pd.Series:
    return level_of(X, np.random.default_rng(seed).normal(0, 0.3, len(X)))


def fit_and_load(folder, final, *, scale: bool, y_fn=levels, one_hot: bool = True) -> Bundle:
    X = random_songs()
    y = y_fn(X)
    est = audio_pipeline(final, scale=scale) if one_hot else final
    est.fit(X, y)
    return load_bundle(save_audio_bundle(est, folder, X, y))


def lgbm() -> LGBMClassifier:
    return LGBMClassifier(n_estimators=30, num_leaves=8, n_jobs=1, random_state=0, verbose=-1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Bundle:
    return fit_and_load(tmp_path_factory.mktemp("e") / "lgbm", lgbm(), scale=False)


@pytest.fixture(scope="module")
def linear(tmp_path_factory) -> Bundle:
    return fit_and_load(tmp_path_factory.mktemp("e") / "logreg", LogisticRegression(), scale=True)


def test_tree_shap_adds_up_to_the_raw_margin(tree):
    records = random_songs(20, seed=4).to_dict("records")
    predictions = predict(records, tree, explain=True)
    X = pd.DataFrame(records)[FEATURES]
    raw = tree.estimator[-1].booster_.predict(tree.estimator[:-1].transform(X), raw_score=True)
    for i, p in enumerate(predictions):
        e = p.explanation
        assert e.method == "tree_shap" and e.unit == "log-odds" and e.target == p.level
        # one contribution per input feature: the 12 one-hot key columns are folded into `key`
        assert sorted(c.feature for c in e.contributions) == sorted(FEATURES)
        total = e.base_value + sum(c.contribution for c in e.contributions)
        assert total == pytest.approx(e.output_value)
        assert total == pytest.approx(raw[i, tree.classes.index(p.level)], abs=1e-6)
        sizes = [abs(c.contribution) for c in e.contributions]
        assert sizes == sorted(sizes, reverse=True)


def test_permutation_shap_adds_up_to_the_probability(linear):
    predictions = predict(random_songs(5, seed=8).to_dict("records"), linear, explain=True)
    for p in predictions:
        e = p.explanation
        assert e.method == "permutation_shap" and e.unit == "probability"
        total = e.base_value + sum(c.contribution for c in e.contributions)
        assert total == pytest.approx(p.probabilities[p.level], abs=1e-9)


def test_loud_songs_push_towards_high(tree, linear):
    loud = dict(SONG, loudness=-3.0, danceability=0.95)
    for bundle in (tree, linear):
        (p,) = predict(loud, bundle, explain=True)
        assert p.level == "high"
        by_feature = {c.feature: c for c in p.explanation}
        assert by_feature["loudness"].direction == "up"
        assert by_feature["loudness"].contribution > 0


def test_sentence_places_value_among_all_training_songs(tree):
    # the push is measured from the model's average over all training songs: the sentence
    # places the value among the same songs, never among one class's
    X = random_songs()
    value = float(np.percentile(X["loudness"], 80))
    text, pct = describe_value(tree, "loudness", value)
    assert pct == pytest.approx(80, abs=1.5)
    assert text.startswith("louder than 8") and "% of the songs the model learned from" in text
    assert "dB" in text
    text, pct = describe_value(tree, "loudness", float(np.percentile(X["loudness"], 10)))
    assert text.startswith("quieter than 9")
    text, pct = describe_value(tree, "loudness", float(np.median(X["loudness"])))
    assert text.startswith("loudness near the middle of the songs") and pct == pytest.approx(
        50, abs=2
    )
    text, share = describe_value(tree, "key", 5)
    assert text.startswith("in the key of F (like ") and share is not None


def test_a_push_up_for_a_feature_that_raises_the_class_comes_with_a_higher_value(tree):
    """The sentence and the push share one reference: on a model whose label rises with
    loudness, a song louder than most training songs is pushed up towards "high", and one
    quieter than most is pushed down, in words that say so."""
    X = random_songs()
    loud = dict(SONG, loudness=float(np.percentile(X["loudness"], 95)))
    quiet = dict(SONG, loudness=float(np.percentile(X["loudness"], 5)))
    for record, word, direction in ((loud, "louder", "up"), (quiet, "quieter", "down")):
        (p,) = predict(record, tree, explain=True)
        k = list(tree.classes).index("high")
        from songpop.inference.explain import explain_rows

        (e,) = explain_rows(tree, np.array([[record[f] for f in FEATURES]], float), ["high"])
        c = next(c for c in e if c.feature == "loudness")
        assert c.text.startswith(word) and c.direction == direction, (c.text, k)
        assert c.text.endswith(f"pushes {direction} the chance of high popularity")


def test_explanation_sentences_mention_feature_and_push(tree):
    (p,) = predict(SONG, tree, explain=True)
    tempo = next(c for c in p.explanation if c.feature == "tempo")
    words = ("faster", "slower", "tempo near the middle")
    assert any(w in tempo.text for w in words) and "BPM" in tempo.text
    assert f"the chance of {p.level} popularity" in tempo.text
    assert p.explanation.sentences(2) == [c.text for c in p.explanation.contributions[:2]]
    assert json.dumps(p.to_dict())  # JSON-safe for the API


@pytest.mark.parametrize("model", ["tree", "linear"])
def test_explain_table_matches_the_per_song_explanations(model, request):
    bundle = request.getfixturevalue(model)
    X = random_songs(12, seed=8)
    predictions = predict(X, bundle, explain=True)
    targets = [p.level for p in predictions]
    table, unit = explain_table(bundle, X[FEATURES].to_numpy(dtype=float), targets, top=2)
    assert len(table) == 12 and list(table.columns[1:]) == [f"contribution_{f}" for f in FEATURES]
    for i, p in enumerate(predictions):
        assert unit == p.explanation.unit
        own = {c.feature: c.contribution for c in p.explanation.contributions}
        row = table.iloc[i]
        np.testing.assert_allclose([row[f"contribution_{f}"] for f in FEATURES],
                                   [own[f] for f in FEATURES], atol=1e-9)  # fmt: skip
        assert row["why"] == "; ".join(p.explanation.sentences(2))
    empty, _ = explain_table(bundle, np.empty((0, len(FEATURES))), [], top=2)
    assert empty.empty and "why" in empty.columns


def test_binary_forest_without_pipeline(tmp_path):
    def hit(X: pd.DataFrame) -> pd.Series:
        return pd.Series(np.where(X["danceability"] > 0.6, "hit", "not_hit"))

    forest = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0)
    bundle = fit_and_load(tmp_path / "forest", forest, scale=False, y_fn=hit, one_hot=False)
    (p,) = predict(dict(SONG, danceability=0.9), bundle, explain=True)
    assert p.level == "hit" and p.explanation.method == "tree_shap"
    total = p.explanation.base_value + sum(c.contribution for c in p.explanation)
    assert total == pytest.approx(p.probabilities["hit"], abs=1e-6)
    dance = next(c for c in p.explanation if c.feature == "danceability")
    assert "of the songs the model learned from" in dance.text and dance.direction == "up"
    assert dance.text.endswith("pushes up the chance of a hit")


def test_global_importance_and_section(tmp_path, tree):
    X = random_songs(120, seed=2)
    table = global_importance(tree, X)
    assert sorted(table["feature"]) == sorted(FEATURES)
    assert (table["importance"] >= 0).all()
    assert table["importance"].is_monotonic_decreasing
    # the label follows loudness and danceability: they lead
    assert set(table["feature"].head(2)) == {"loudness", "danceability"}
    manifest_path = write_explain_section(tree, X, tmp_path / "explain", order=40)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["order"] == 40 and manifest["title"]
    for figure in manifest["figures"]:
        assert (manifest_path.parent / figure["png"]).stat().st_size > 0
        assert (manifest_path.parent / figure["svg"]).stat().st_size > 0
    csv = pd.read_csv(manifest_path.parent / manifest["tables"][0]["csv"])
    assert len(csv) == len(FEATURES)
    why = "lgbm is the run's default model: the fastest of the best."
    again = write_explain_section(tree, X, tmp_path / "again", why_this_model=why)
    paragraphs = json.loads(again.read_text())["paragraphs"]
    assert paragraphs[0] == why and paragraphs[1:] == manifest["paragraphs"]


@pytest.mark.parametrize("name", ["tree", "linear"])
def test_explanation_does_not_depend_on_the_other_records(request, name):
    bundle = request.getfixturevalue(name)
    a, b = random_songs(2, seed=21).to_dict("records")
    first = predict([a, b], bundle, explain=True)[0].explanation
    again = predict([b, a], bundle, explain=True)[1].explanation
    assert [c.feature for c in first] == [c.feature for c in again]
    np.testing.assert_allclose(
        [c.contribution for c in first], [c.contribution for c in again], atol=1e-12
    )


def test_global_importance_needs_valid_rows(tree):
    from songpop.errors import SchemaError

    bad = random_songs(5).assign(danceability=7.0)
    with pytest.raises(SchemaError, match="none of the 5 rows"):
        global_importance(tree, bad)


def test_sentence_with_many_equal_values(tree):
    # instrumentalness is 0 for a large share of songs: those are neither below nor above
    reference = {
        "top_class": "high",
        "percentiles": {
            "q": list(range(101)),
            "overall": {"instrumentalness": [0.0] * 48 + list(np.linspace(0.01, 1, 53))},
        },
    }
    bundle = Bundle(tree.path, "m", None, {"reference": reference}, tree.classes, FEATURES)
    text, pct = describe_value(bundle, "instrumentalness", 0.0)
    assert text == "less instrumental than 53% of the songs the model learned from (0.00)"
    assert pct == pytest.approx(23.5)

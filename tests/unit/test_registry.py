"""The model registry and the search: every entry builds and fits on a tiny table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from songpop import config
from songpop.errors import SchemaError
from songpop.evaluation import learning_curve_data
from songpop.features import FAMILIES, feature_matrix, labels
from songpop.models.registry import (
    MODELS,
    default_models,
    get_spec,
    models_for,
    parse_model_list,
    prefit_voting,
    soft_voting,
)
from songpop.models.search import BUDGETS, candidates, get_budget, make_folds, search_model


def signal_songs(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """Audio features where loudness and energy carry the level, plus noise."""
    rng = np.random.default_rng(seed)
    level = np.arange(n) % 3
    data = {name: rng.uniform(0, 1, n) for name in config.AUDIO_NUMERIC}
    data["loudness"] = -20 + 6 * level + rng.normal(0, 2, n)
    data["energy"] = np.clip(0.2 + 0.25 * level + rng.normal(0, 0.1, n), 0, 1)
    data["tempo"] = rng.uniform(60, 200, n)
    data["duration_ms"] = rng.uniform(1e5, 4e5, n)
    data["key"] = rng.integers(0, 12, n)
    data["year"] = 1960 + 15 * level + rng.integers(0, 10, n)
    data["level"] = np.array(config.LEVELS)[level]
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def tiny() -> tuple[pd.DataFrame, pd.Series]:
    songs = signal_songs()
    return feature_matrix(songs, config.AUDIO_FEATURES), labels(songs)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registry_entry_builds_fits_and_predicts(name: str, tiny) -> None:
    X, y = tiny
    spec = MODELS[name]
    assert spec.family in FAMILIES
    estimator = spec.build(list(X.columns), config.SEED, quick=True)
    estimator.fit(X.iloc[:120], y.iloc[:120])
    pred = estimator.predict(X.iloc[120:])
    assert len(pred) == 30 and set(pred) <= set(config.LEVELS)
    if not spec.original or hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X.iloc[120:])
        assert proba.shape == (30, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_default_registry_has_the_issues_models() -> None:
    names = default_models()
    for needed in ("dummy", "logreg", "knn", "svc", "rf", "lgbm", "mlp", "ensemble"):
        assert needed in names
    assert not any(MODELS[n].original for n in names)
    for original in ("knn_original", "svc_original", "rf_original", "mlp_original"):
        assert MODELS[original].original


def test_songpop_run_fits_the_comparison_models_only_in_the_full_budget() -> None:
    comparison = {"knn", "svc", "rf", "mlp"}
    assert {n for n in default_models() if MODELS[n].comparison} == comparison
    for selection in ("default", "large"):
        full = models_for(selection, "full")
        assert models_for(selection) == full  # no budget: every model of the selection
        for budget in ("quick", "default"):
            lean = models_for(selection, budget)
            assert lean == [n for n in full if n not in comparison]
            assert {"dummy", "logreg", "lgbm", "ensemble"} <= set(lean)
    assert comparison <= set(models_for("default", "full"))
    # the fast and cheap selections hold no comparison model in any budget
    assert models_for("cheap", "default") == models_for("cheap", "full")
    assert models_for("fast", "quick") == models_for("fast", "full")


def test_rf_original_grid_is_the_reports_in_modern_form() -> None:
    search = MODELS["rf_original"].build(list(config.AUDIO_FEATURES))
    grid = search.param_grid
    assert grid["model__n_estimators"] == [50, 250, 1000]
    assert grid["model__max_depth"] == [10, 50, 200]
    assert grid["model__min_samples_leaf"] == [3, 7, 10]
    assert grid["model__max_features"] == ["sqrt", "log2"]
    assert search.cv.n_splits == 3


def test_originals_resample_and_use_minmax() -> None:
    pipe = MODELS["knn_original"].build(list(config.AUDIO_FEATURES))
    assert type(pipe.named_steps["resample"]).__name__ == "SMOTENC"
    assert pipe.named_steps["model"].n_neighbors == 2
    literal = MODELS["svc_original_smote"].build(list(config.AUDIO_FEATURES))
    assert type(literal.named_steps["resample"]).__name__ == "SMOTE"
    assert literal.named_steps["model"].kernel == "poly" and literal.named_steps["model"].C == 2


def test_unknown_names_and_budgets_are_refused() -> None:
    with pytest.raises(SchemaError, match="xgboost"):
        get_spec("xgboost")
    with pytest.raises(SchemaError, match="xgboost"):
        parse_model_list("logreg, xgboost")
    with pytest.raises(SchemaError, match="huge"):
        get_budget("huge")
    assert parse_model_list(" logreg,lgbm ") == ["logreg", "lgbm"]
    assert parse_model_list("") is None


def test_candidates_start_with_the_defaults_and_respect_the_budget() -> None:
    # the default budget fits the registry's defaults (the search measured no gain over them)
    assert candidates(MODELS["lgbm"], BUDGETS["default"]) == [{}]
    full = candidates(MODELS["lgbm"], BUDGETS["full"])
    assert full[0] == {} and len(full) == BUDGETS["full"].n_candidates
    assert candidates(MODELS["svc"], BUDGETS["default"]) == [{}]  # searched in "full" only
    assert len(candidates(MODELS["svc"], BUDGETS["full"])) > 1


def test_search_scores_on_training_folds_and_refits(tiny) -> None:
    X, y = tiny
    events = []
    result = search_model(MODELS["logreg"], X, y, budget="full", hook=events.append, label="a")
    assert result.n_candidates == len(MODELS["logreg"].space["model__C"]) + 1
    # one event per fit, the refit included, the last one at the final CV accuracy
    assert [e.done for e in events] == list(range(1, result.n_fits + 1))
    assert {e.total for e in events} == {result.n_fits} and events[-1].label == "a · logreg"
    assert events[-1].best == pytest.approx(result.cv_accuracy)
    assert 0.5 < result.cv_accuracy <= 1.0  # the table has a strong signal
    assert result.oof_proba.shape == (len(X), 3)
    oof_pred = np.asarray(result.classes, dtype=object)[result.oof_proba.argmax(1)]
    assert result.cv_accuracy == pytest.approx(np.mean(oof_pred == y.to_numpy()))
    assert hasattr(result.estimator, "classes_")  # refitted on all rows


def test_soft_voting_averages_member_probabilities(tiny) -> None:
    X, y = tiny
    members = [(n, MODELS[n].build(list(X.columns), quick=True)) for n in ("logreg", "lgbm")]
    ensemble = soft_voting(members).fit(X, y)
    expected = np.mean([m.predict_proba(X) for m in ensemble.estimators_], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(X), expected)
    with pytest.raises(SchemaError):
        soft_voting(members[:1])


def test_prefit_voting_is_the_refitted_ensemble(tiny) -> None:
    """The run's ensemble reuses its members, already fitted on the same rows: the same
    probabilities and classes as the ensemble refitted from scratch."""
    X, y = tiny
    members = [(n, MODELS[n].build(list(X.columns), quick=True).fit(X, y))
               for n in ("logreg", "lgbm", "rf")]  # fmt: skip
    refitted = soft_voting([(n, clone(m)) for n, m in members]).fit(X, y)
    reused = prefit_voting(members, y)
    np.testing.assert_array_equal(reused.predict_proba(X), refitted.predict_proba(X))
    assert list(reused.classes_) == list(refitted.classes_)
    assert (reused.predict(X) == refitted.predict(X)).all()


def test_only_the_models_a_default_can_use_are_compiled() -> None:
    from songpop.train import serving_candidates

    models = {"dummy": {"cv_accuracy": 0.9}, "ensemble": {"cv_accuracy": 0.52},
              "lgbm": {"cv_accuracy": 0.515}, "mlp": {"cv_accuracy": 0.509}}  # fmt: skip
    assert serving_candidates(models) == {"ensemble", "lgbm"}  # within 1 point of the best


def test_folds_are_stratified_and_seeded(tiny) -> None:
    _, y = tiny
    a, b = make_folds(y, 3, seed=1), make_folds(y, 3, seed=1)
    for (_, te_a), (_, te_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(te_a, te_b)
        counts = y.iloc[te_a].value_counts()
        assert counts.max() - counts.min() <= 1


def test_a_search_with_train_scores_is_the_learning_curves_last_point(tiny) -> None:
    # `songpop.train` draws a learning curve's full-size point from the search's final round
    # instead of fitting it again: it must be the point scikit-learn's own curve computes on the
    # same rows (the same stratified, seeded folds; logistic regression ignores row order).
    X, y = tiny
    spec = MODELS["logreg"]
    folds = make_folds(y, 3)
    res = search_model(spec, X, y, budget="default", folds=folds, train_scores=True)
    assert res.fold_train_accuracies is not None and len(res.fold_train_accuracies) == 3
    own = learning_curve_data(lambda: spec.build(list(X.columns)), X, y, cv=3, train_sizes=[1.0])
    measured = (len(folds[0][0]), res.fold_train_accuracies, res.fold_accuracies)
    reused = learning_curve_data(
        lambda: spec.build(list(X.columns)), X, y, cv=3, train_sizes=[0.5], measured=measured
    )
    assert reused["train_sizes"][-1] == own["train_sizes"][-1]
    for key in ("train_mean", "test_mean", "train_sd", "test_sd"):
        assert reused[key][-1] == pytest.approx(own[key][-1], abs=1e-9), key
    assert len(reused["train_sizes"]) == 2 and reused["train_sizes"][0] < own["train_sizes"][0]
    # without train_scores nothing is computed, and a point with the wrong number of folds fails
    assert search_model(spec, X, y, folds=folds).fold_train_accuracies is None
    with pytest.raises(ValueError, match="one score per fold"):
        learning_curve_data(
            lambda: spec.build(list(X.columns)), X, y, cv=3, train_sizes=[0.5],
            measured=(10, [0.5, 0.5], [0.5, 0.5]),
        )  # fmt: skip


def test_a_search_on_folds_of_its_own_gives_no_learning_curve_point(tiny) -> None:
    # train._learning_curves reuses a search's final round only when it ran on the curve's
    # own folds: a capped model's search draws other folds on its subset.
    from songpop.train import _same_folds

    X, y = tiny
    folds = make_folds(y, 3)
    res = search_model(MODELS["logreg"], X, y, folds=folds, train_scores=True)
    assert _same_folds(res, make_folds(y, 3))
    assert not _same_folds(res, make_folds(y, 3, seed=7))  # other folds
    assert not _same_folds(res, make_folds(y, 2))
    assert not _same_folds(res, folds[:1])

"""Unit tests of what a new song can honestly be told (issue 20): levels within a release era,
rolling origins, cut points learned on the training years, the artist's earlier chart record,
calibration inside the training rows, within-group ROC-AUC and the summary's year-only rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from songpop.errors import SchemaError
from songpop.evaluation.forward import (
    forward_note,
    forward_protocol,
    levels_by_cutpoints,
    rolling_origins,
    within_group_auc,
)
from songpop.prepare.history import NO_ENTRY_BEST, artist_years, describe_history, history_before
from songpop.prepare.label import cohort_of, era_levels, label_songs
from songpop.report.summary import plain_words, summary_rows

# --- levels within an era -------------------------------------------------------------------


def test_era_levels_cut_each_cohort_apart_and_leave_out_songs_without_a_year() -> None:
    # two cohorts whose scores do not overlap: global thirds would put the older all "low"
    years = pd.Series([1990] * 30 + [2015] * 30 + [np.nan] * 4, dtype="float64")
    score = pd.Series(list(range(30)) + list(range(100, 130)) + [50, 60, 70, 80], dtype=float)
    levels, report = era_levels(score, years, era_years=5, min_songs=30)
    assert report["no_year"] == 4
    assert levels[years.isna()].isna().all()
    for start in (1990, 2015):
        mine = levels[years == start].astype(str)
        assert mine.value_counts().to_dict() == {"low": 10, "medium": 10, "high": 10}
    # the top of the older cohort is "high" although it scores below every newer song
    assert levels.iloc[29] == "high" and score.iloc[29] < score.iloc[30]


def test_era_levels_with_ties_and_small_cohorts() -> None:
    years = pd.Series([2000] * 40 + [1960] * 5, dtype=float)
    score = pd.Series([0.0] * 20 + [1.0] * 10 + [2.0] * 10 + [5.0] * 5)  # many ties
    levels, report = era_levels(score, years, era_years=5, min_songs=30)
    assert report["small_cohorts"] == {"1960": 5} and report["cohorts"] == {"2000": 40}
    assert levels.iloc[40:].isna().all()
    counts = levels.iloc[:40].astype(str).value_counts()
    assert set(counts.index) == {"low", "medium", "high"} and counts.sum() == 40
    with pytest.raises(SchemaError, match="no release cohort"):
        era_levels(score.iloc[40:], years.iloc[40:], min_songs=30)


def test_label_songs_era_option_drops_and_counts_unyeared_songs() -> None:
    songs = pd.DataFrame(
        {"popularity": np.arange(70, dtype=float), "year": [2001] * 60 + [None] * 10}
    )
    out, report = label_songs(songs, "spotify", era_years=5)
    assert len(out) == 60 and report["era"]["no_year"] == 10
    assert set(out["level"].astype(str)) == {"low", "medium", "high"}
    with pytest.raises(SchemaError, match="composite and spotify"):
        label_songs(songs.assign(charted=True), "charted", era_years=5)


def test_cohort_of() -> None:
    assert cohort_of(pd.Series([1992, 1995, 2019, None]), 5).tolist()[:3] == [1990, 1995, 2015]


# --- forward in time --------------------------------------------------------------------------


def test_a_rolling_origin_never_trains_on_a_test_year() -> None:
    years = pd.Series(np.repeat(np.arange(1980, 2021), 50))
    origins = rolling_origins(years, min_train=100, min_test=100)
    assert [o.year for o in origins] == [2000, 2005, 2010, 2015]
    for o in origins:
        assert years.iloc[o.train].max() < o.year
        assert years.iloc[o.test].min() == o.year and years.iloc[o.test].max() == o.year + 4
        assert not set(o.train) & set(o.test)


def test_origins_without_enough_songs_are_left_out_and_decades_work() -> None:
    decades = pd.Series([1960] * 500 + [1990] * 500 + [2000] * 400 + [2010] * 400)
    origins = rolling_origins(decades, min_train=300, min_test=100)
    assert [(o.year, len(o.test)) for o in origins] == [(2000, 400), (2010, 400)]
    assert rolling_origins(pd.Series([2015] * 50), min_train=10, min_test=10) == []


def test_test_levels_use_the_training_years_cut_points() -> None:
    train = np.arange(90, dtype=float)  # thirds cut at 30 and 60
    newer = np.array([10.0, 70.0, 80.0, 95.0])  # a later era where everything scores higher
    assert levels_by_cutpoints(train, newer).tolist() == ["low", "high", "high", "high"]
    assert levels_by_cutpoints(train, train).tolist().count("high") == 30


def test_forward_protocol_relabels_and_scores_the_year_only_yardstick() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    years = rng.integers(1980, 2020, n)
    x = rng.normal(size=n)
    score = years - 1980 + 8 * x  # popularity rises with time, and with x
    songs = pd.DataFrame({"year": years, "score": score})
    y = pd.Series(levels_by_cutpoints(score, score))
    sets = {"year": pd.DataFrame({"year": years}), "audio": pd.DataFrame({"x": x})}
    out = forward_protocol(
        songs, y, sets, lambda fs: LogisticRegression(), time_column="year", relabel=True,
        classes=["low", "medium", "high"], n_boot=50,
    )  # fmt: skip
    assert out["latest"] == 2015 and {r["origin"] for r in out["rows"]} == {2000, 2005, 2010, 2015}
    latest = {r["feature_set"]: r for r in out["rows"] if r["origin"] == 2015}
    # levels cut at the training years' thirds: the newer songs are mostly "high"
    assert latest["year"]["majority_rate"] > 0.5
    # a model trained on balanced thirds meets a future where most songs are "high": the drift
    # shows as accuracy below the test years' majority rate, and the row says so
    assert latest["audio"]["accuracy"] < latest["audio"]["majority_rate"]
    assert latest["audio"]["note"].startswith("below the majority-class rate")
    assert all(r["accuracy_ci"][0] <= r["accuracy"] <= r["accuracy_ci"][1] for r in out["rows"])


def test_forward_notes_name_the_yardstick() -> None:
    base = {"majority_rate": 0.7, "dummy_accuracy": 0.7}
    year = {"feature_set": "year", "roc_auc": 0.5, "accuracy": 0.6, **base}
    worse = {"feature_set": "audio", "roc_auc": 0.49, "accuracy": 0.5, **base}
    better = {"feature_set": "audio", "roc_auc": 0.64, "accuracy": 0.8, **base}
    level_year = {**year, "accuracy": 0.7}  # the year alone, only as good as the commonest level
    assert forward_note(level_year, level_year, binary=False).startswith("not above the dummy")
    assert "ROC-AUC 0.5" in forward_note(year, year, binary=True)
    assert forward_note(worse, year, binary=True).startswith("does not beat the year-only")
    assert forward_note(better, year, binary=True) == ""
    assert forward_note(worse, year, binary=False).startswith("below the majority-class rate")
    assert forward_note(better, year, binary=False) == ""


def test_within_group_auc_ignores_what_the_group_explains() -> None:
    # the positive rate differs by group, the score only says the group: no skill inside one
    groups = np.array(["a"] * 100 + ["b"] * 100)
    y = np.array(["charted"] * 10 + ["not_charted"] * 90 + ["charted"] * 60 + ["not_charted"] * 40)
    p = np.where(groups == "b", 0.9, 0.1)
    out = within_group_auc(y, p, groups, "charted")
    assert out["mean"] == pytest.approx(0.5)
    assert set(out["groups"]) == {"a", "b"}


# --- the artist's earlier chart record ----------------------------------------------------------


def _weeks(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"chart_date": pd.Timestamp(d), "position": p, "title": t, "artist": a}
         for d, t, a, p in rows]
    )  # fmt: skip


def test_history_never_counts_the_song_itself_or_a_later_entry() -> None:
    table = artist_years(
        _weeks([
            ("1999-05-01", "First Hit", "Ada", 40),
            ("1999-05-08", "First Hit", "Ada", 12),
            ("2001-01-06", "The Song", "Ada", 3),  # the song's own run, before its "year"
            ("2003-02-01", "Later Hit", "Ada", 1),  # after the release year
            ("1998-01-03", "Other", "Bob", 50),
        ])
    )  # fmt: skip
    songs = pd.DataFrame(
        {"title": ["The Song", "New", "Solo"], "artist": ["Ada feat. Bob", "Ada", "Cy"],
         "year": [2002, 1999, 2002]}
    )  # fmt: skip
    out = history_before(songs, table)
    # the song's own 2001 weeks and the 2003 entry are not counted: only First Hit (1999)
    assert out.iloc[0].tolist() == [1.0, 2.0, 12.0]
    # released in 1999: the same year's weeks are not "before"
    assert out.iloc[1].tolist() == [0.0, 0.0, float(NO_ENTRY_BEST)]
    assert out.iloc[2].tolist() == [0.0, 0.0, float(NO_ENTRY_BEST)]
    assert describe_history(out.iloc[0].to_dict()).startswith("1 earlier Hot 100 entry")
    assert describe_history(out.iloc[2].to_dict()) == "no earlier Hot 100 entry"


def test_history_of_a_song_without_a_year_is_unknown() -> None:
    table = artist_years(_weeks([("1999-05-01", "Hit", "Ada", 1)]))
    out = history_before(pd.DataFrame({"title": ["x"], "artist": ["Ada"], "year": [None]}), table)
    assert out.isna().all(axis=None)


# --- calibration inside the training rows ---------------------------------------------------------

SEEN: list[np.ndarray] = []


class RecordingLogit(LogisticRegression):
    """Records the row ids (column 0) of every fit."""

    def fit(self, X, y, sample_weight=None):  # type: ignore[no-untyped-def]
        SEEN.append(np.asarray(X)[:, 0].copy())
        return super().fit(np.asarray(X)[:, 1:], y, sample_weight)

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        return super().predict_proba(np.asarray(X)[:, 1:])

    def decision_function(self, X):  # type: ignore[no-untyped-def]
        return super().decision_function(np.asarray(X)[:, 1:])


def test_calibration_is_fitted_on_the_training_rows_only() -> None:
    from songpop.train import calibrated

    rng = np.random.default_rng(1)
    ids = np.arange(400, dtype=float)
    X = pd.DataFrame({"id": ids, "x": rng.normal(size=400)})
    y = pd.Series(np.where(X["x"] + rng.normal(size=400) > 0, "charted", "not_charted"))
    train, test = np.arange(300), np.arange(300, 400)
    SEEN.clear()
    model = calibrated(RecordingLogit(), X.iloc[train], y.iloc[train])
    assert len(SEEN) >= 3  # one fit per calibration fold
    assert all(set(rows) <= set(ids[train]) for rows in SEEN)
    proba = model.predict_proba(X.iloc[test])
    assert np.allclose(proba.sum(axis=1), 1.0)


# --- the summary's rows ---------------------------------------------------------------------------


def _fs(acc: float, auc: float | None = None) -> dict:
    entry = {"accuracy": acc, "accuracy_ci": [acc - 0.02, acc + 0.02], "dummy_accuracy": 0.35,
             "macro_f1": acc - 0.05, "majority_rate": 0.36, "roc_auc": auc,
             "pr_auc": None if auc is None else auc - 0.4, "base_rate": 0.2}  # fmt: skip
    return {"best": "lgbm", "models": {"lgbm": entry}}


def test_summary_rows_put_the_year_only_row_first_and_say_what_does_not_beat_it() -> None:
    seed = {
        "task": "seed", "classes": ["high", "low", "medium"], "n_train": 80, "n_test": 20,
        "split": {"kind": "stratified"},
        "feature_sets": {"audio": _fs(0.49), "year": _fs(0.54), "audio+context": _fs(0.56)},
        "forward": {
            "latest": 2015, "relabel": True, "time_column": "year",
            "rows": [
                {"origin": 2015, "last": 2019, "feature_set": fs, "n_train": 50, "n_test": 10,
                 "accuracy": acc, "accuracy_ci": [acc - 0.1, acc + 0.1], "macro_f1": 0.3,
                 "dummy_accuracy": 0.2, "majority_rate": 0.75, "note": note}
                for fs, acc, note in (("year", 0.75, ""), ("audio", 0.4, "below the majority"))
            ],
        },
    }  # fmt: skip
    rows = summary_rows({"train_seed": seed})
    assert [r["features"] for r in rows[:3]] == [
        "year only (release year, or decade)", "audio only", "audio + context"
    ]  # fmt: skip
    assert rows[1]["note"] == "does not beat the year-only model (54.0%)"
    assert rows[2]["note"] == ""
    forward = [r for r in rows if r["protocol"].startswith("forward")]
    assert [r["features"] for r in forward] == ["year only (release year, or decade)",
                                                 "audio only"]  # fmt: skip
    assert "before 2015" in forward[0]["protocol"] and forward[1]["note"]
    words = " ".join(plain_words(rows))
    assert "the year alone gives 54%" in words and "audio only 49%" in words


# --- the answer's words ----------------------------------------------------------------------


def _answer(**changes: object) -> object:
    from songpop.inference.newsong import NewSongAnswer

    fields: dict = {
        "chance": 0.12, "year": 2026, "year_source": "not given: the current year, 2026",
        "base_rate": 0.033, "base_year": 2020, "artist": None,
        "history": {"artist_prior_entries": 0.0, "artist_prior_weeks": 0.0,
                    "artist_prior_best": 101.0},
        "history_words": "no earlier Hot 100 entry",
        "forward": {"roc_auc": 0.65, "origin": 2015, "last": 2019, "base_rate": 0.023,
                    "for_new_artists": True},
        "era_level": "high", "era_words": "high popularity: the top third of the songs "
        "released 2020-2024", "era_probabilities": {"low": 0.3, "medium": 0.3, "high": 0.4},
        "era_forward": {"accuracy": 0.34, "majority_rate": 0.36},
    }  # fmt: skip
    fields.update(changes)
    return NewSongAnswer(**fields)  # type: ignore[arg-type]


def test_the_answer_says_what_it_assumed_and_how_far_to_trust_it() -> None:
    lines = _answer().lines()
    assert lines[0] == (
        "12% chance to reach the Billboard Hot 100 among the releases of 2026 (the base rate: "
        "3.3% of 2020 releases, the latest year the data knows charted)"
    )
    assert "no artist given: scored as an artist with no earlier Hot 100 entry" in lines[1]
    assert "for artists with no earlier Hot 100 entry" in lines[2] and "65%" in lines[2]
    # an era level no better than the commonest level forward in time is not stated
    assert not any(line.startswith("Within its era") for line in lines)
    assert any("is not told" in line and "34%" in line for line in lines)
    told = _answer(era_told=True, artist="Ada", history_words="2 earlier Hot 100 entries")
    assert any(line.startswith("Within its era: high popularity") for line in told.lines())
    assert "2 earlier Hot 100 entries for Ada" in told.lines()[1]
    # an older year than the first the data can rate: the nearest year, said as such
    early = _answer(year=1960, base_year=1972, base_rate=0.686)
    assert "of 1972 releases, the nearest year with enough songs" in early.headline()


def test_base_rates_per_year() -> None:
    from songpop.inference.newsong import _base_rate

    info = {"base_rate": 0.14, "base_rate_per_year": {"1990": 0.2, "2019": 0.04, "2020": 0.03}}
    assert _base_rate(info, 2019) == (0.04, 2019)
    assert _base_rate(info, 2026) == (0.03, 2020)
    assert _base_rate(info, 1985) == (0.2, 1990)
    assert _base_rate({"base_rate": 0.14}, 2000) == (0.14, None)

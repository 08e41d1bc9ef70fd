"""Tempo at a metrical level (`songpop.audio.tempo`): the catalogue prior and the candidates'
scores on synthetic onset envelopes whose beat is known."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from songpop.audio.describe import FRAME_RATE, mean_tempogram
from songpop.audio.tempo import (
    FACTORS,
    TEMPO_PRIOR,
    TempoPrior,
    best_level,
    catalogue_tempos,
    fit_tempo_prior,
    score_levels,
)


def clicks(bpm: float, seconds: float = 60.0, accent_every: int = 0) -> np.ndarray:
    """An onset envelope with a click on every beat (every `accent_every`-th beat twice as
    strong) and a little noise, at the analysis frame rate."""
    rng = np.random.default_rng(0)
    env = rng.uniform(0, 0.05, int(seconds * FRAME_RATE))
    period = 60.0 * FRAME_RATE / bpm
    for k, t in enumerate(np.arange(0, len(env) - 1, period)):
        env[int(round(t))] += 2.0 if accent_every and k % accent_every == 0 else 1.0
    return env


def test_the_prior_is_the_maximum_likelihood_log_normal() -> None:
    rng = np.random.default_rng(1)
    tempos = 2 ** rng.normal(7.0, 0.3, 20_000)
    fitted = fit_tempo_prior(np.concatenate([tempos, [0.0, 0.0, 500.0, np.nan]]))
    assert fitted.log2_mean == pytest.approx(7.0, abs=0.01)
    assert fitted.log2_std == pytest.approx(0.3, abs=0.01)
    assert fitted.songs == 20_000  # silence (0), 500 BPM and NaN left out
    with pytest.raises(ValueError, match="1 usable tempos"):
        fit_tempo_prior(np.array([120.0, 0.0]))


def test_the_prior_peaks_at_its_median() -> None:
    prior = TempoPrior(7.0, 0.3, 10)
    assert prior.log_density(128.0) == 0.0
    assert prior.log_density(64.0) < prior.log_density(100.0) < 0.0


@pytest.mark.parametrize("locked", [100.0, 75.0])
def test_a_150_bpm_click_track_tracked_at_100_or_75_is_brought_back(locked: float) -> None:
    tg = mean_tempogram(clicks(150.0, accent_every=4))[:, 0]
    levels = score_levels(tg, locked, FRAME_RATE)
    assert [lv.factor for lv in levels] == [f for f in FACTORS if 30 <= locked * f <= 300]
    assert sum(lv.posterior for lv in levels) == pytest.approx(1.0, abs=1e-3)
    best = best_level(levels)
    assert best is not None and best.bpm == pytest.approx(150.0, rel=0.01)


def test_the_evidence_overrules_the_prior_when_the_beats_say_so() -> None:
    # clicks every 0.75 s (80 BPM), tracked at 120: the prior alone prefers 120 (nearer its
    # median), but nothing happens half way between the clicks, so 120's beats find nothing
    tg = mean_tempogram(clicks(80.0))[:, 0]
    levels = score_levels(tg, 120.0, FRAME_RATE)
    by_prior = max(levels, key=lambda lv: lv.log_prior)
    assert by_prior.bpm == pytest.approx(120.0)
    best = best_level(levels)
    assert best is not None and best.bpm == pytest.approx(80.0, rel=0.01)


def test_candidates_outside_the_range_or_the_tempogram_are_left_out() -> None:
    tg = mean_tempogram(clicks(120.0, seconds=20))[:, 0]
    levels = score_levels(tg, 250.0, FRAME_RATE)
    assert 2.0 not in [lv.factor for lv in levels]  # 500 BPM
    assert score_levels(tg[:3], 120.0, FRAME_RATE) == []
    assert best_level([]) is None


DATA = Path(os.environ.get("SONGPOP_DATA_DIR", "/nonexistent"))


@pytest.mark.skipif(not (DATA / "tracks").is_dir(), reason="no catalogue ($SONGPOP_DATA_DIR)")
def test_the_committed_prior_is_what_the_catalogue_gives() -> None:
    fitted = fit_tempo_prior(catalogue_tempos(str(DATA)))
    if fitted.songs != TEMPO_PRIOR.songs:
        pytest.skip(f"another catalogue ({fitted.songs} songs, the prior's has "
                    f"{TEMPO_PRIOR.songs})")  # fmt: skip
    assert math.isclose(fitted.log2_mean, TEMPO_PRIOR.log2_mean, abs_tol=1e-5)
    assert math.isclose(fitted.log2_std, TEMPO_PRIOR.log2_std, abs_tol=1e-5)

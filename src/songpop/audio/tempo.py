"""Tempo at a metrical level: the tracked tempo T and its neighbours T/2, 2T, 2T/3 and 3T/2,
scored by the onset envelope's periodicity at each and a prior learned from the catalogue.

A beat tracker can lock on a level of the metre other than the one a listener (or Spotify) names:
half or double the beat, or a dotted beat (2/3, 3/2). `score_levels` weighs the five candidates
as librosa's own tempo estimator weighs tempogram lags: posterior ∝ evidence × prior, with

- evidence: the song's mean autocorrelation tempogram (8 s windows, each normalised to 1 at lag
  0; `describe.mean_tempogram`) at the candidate's beat period: how well the onset envelope lines
  up with itself one implied beat later, the comb evidence the tracker itself starts from;
- prior: `TEMPO_PRIOR`, a log-normal over tempo fitted by maximum likelihood to the Spotify
  `tempo` column of the local catalogue (one value per song). The committed numbers come from
  `python -m songpop.audio.tempo` (which prints them from `$SONGPOP_DATA_DIR`); no number here
  was chosen by looking at an accuracy.

The product has no weight to tune: both factors enter once (Bayes' rule). The scores are kept
beside the measured tempo (`Description.tempo_levels`); `bench_audio` reports how often the
posterior's best level is right on the rendered corpus next to the tracker's own tempo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FACTORS: tuple[float, ...] = (1.0, 0.5, 2.0, 2 / 3, 1.5)
"""The candidate levels, as multiples of the tracked tempo."""
TEMPO_RANGE: tuple[float, float] = (30.0, 300.0)
"""Candidates outside this range (BPM) are not considered; catalogue tempos outside it (0 for
silence, a few tracker failures) are left out of the fit."""


@dataclass(frozen=True)
class TempoPrior:
    """A log-normal prior over tempo: log2(BPM) ~ Normal(log2_mean, log2_std).

    Attributes:
        log2_mean: mean of log2(tempo).
        log2_std: standard deviation of log2(tempo), octaves.
        songs: how many songs it was fitted on.
    """

    log2_mean: float
    log2_std: float
    songs: int

    def log_density(self, bpm: float) -> float:
        """Log density over log2-tempo, up to a constant (the same for every candidate)."""
        z = (math.log2(bpm) - self.log2_mean) / self.log2_std
        return -0.5 * z * z

    @property
    def median_bpm(self) -> float:
        return 2.0**self.log2_mean


TEMPO_PRIOR = TempoPrior(log2_mean=6.86762, log2_std=0.34067, songs=55941)
"""Fitted on the catalogue of the project's data folder (3 track tables, 55,941 distinct songs
with a tempo of 30-300 BPM): median 116.8 BPM, one standard deviation a factor 2^0.341 = 1.27.
Derived by `SONGPOP_DATA_DIR=... python -m songpop.audio.tempo` (see `fit_tempo_prior`)."""


def fit_tempo_prior(tempos: np.ndarray) -> TempoPrior:
    """The maximum-likelihood log-normal of the tempos within `TEMPO_RANGE`.

    Raises:
        ValueError: fewer than two usable tempos.
    """
    t = np.asarray(tempos, dtype=float)
    t = t[np.isfinite(t) & (t >= TEMPO_RANGE[0]) & (t <= TEMPO_RANGE[1])]
    if len(t) < 2:
        raise ValueError(f"{len(t)} usable tempos (within {TEMPO_RANGE} BPM); need at least 2")
    logs = np.log2(t)
    return TempoPrior(round(float(logs.mean()), 5), round(float(logs.std()), 5), int(len(t)))


def catalogue_tempos(data_dir: str | None = None) -> np.ndarray:
    """One Spotify tempo per distinct song (normalised title and artist) of the local catalogue."""
    # late: loads pyarrow, pandas, filelock (start-up)
    from songpop.inference.inputs.lookup import load_catalogue

    index = load_catalogue(data_dir).index
    rows = index.dropna(subset=["tempo"]).drop_duplicates(["norm_title", "norm_artist"])
    return rows["tempo"].astype(float).to_numpy()


@dataclass(frozen=True)
class Level:
    """One candidate metrical level.

    Attributes:
        factor: its tempo over the tracked tempo.
        bpm: its tempo.
        evidence: the mean tempogram at its beat period (0-1).
        log_prior: `TempoPrior.log_density` of its tempo.
        posterior: evidence × prior, normalised over the candidates.
    """

    factor: float
    bpm: float
    evidence: float
    log_prior: float
    posterior: float


def score_levels(
    tempogram: np.ndarray, bpm: float, frame_rate: float, prior: TempoPrior = TEMPO_PRIOR
) -> list[Level]:
    """Score the candidate levels of a tracked tempo.

    Args:
        tempogram: the mean autocorrelation tempogram, one value per lag in frames (lag 0 first).
        bpm: the tracked tempo.
        frame_rate: onset-envelope frames per second.
        prior: the tempo prior.

    Returns:
        The candidates within `TEMPO_RANGE` whose beat period the tempogram covers, in `FACTORS`
        order; empty when none is.
    """
    tg = np.asarray(tempogram, dtype=float).ravel()
    lags = np.arange(len(tg))
    found = []
    for factor in FACTORS:
        c = bpm * factor
        lag = 60.0 * frame_rate / c
        if not TEMPO_RANGE[0] <= c <= TEMPO_RANGE[1] or lag > len(tg) - 1:
            continue
        evidence = max(float(np.interp(lag, lags, tg)), 1e-6)
        found.append((factor, c, evidence, prior.log_density(c)))
    if not found:
        return []
    scores = np.array([math.log(e) + p for _, _, e, p in found])
    post = np.exp(scores - scores.max())
    post /= post.sum()
    return [Level(f, round(c, 3), round(e, 4), round(p, 4), round(float(q), 4))
            for (f, c, e, p), q in zip(found, post, strict=True)]  # fmt: skip


def best_level(levels: list[Level]) -> Level | None:
    """The candidate with the highest posterior (None for no candidate)."""
    return max(levels, key=lambda lv: lv.posterior) if levels else None


def main() -> None:
    """Print `TEMPO_PRIOR` as fitted on the data folder's catalogue."""
    print(repr(fit_tempo_prior(catalogue_tempos())))


if __name__ == "__main__":
    main()

"""How many pairs make a useful calibration: a learning curve of `songpop calibrate`'s fitting.

No local song has both audio and Spotify's published values, so the pairs are made: a pool of
rendered songs (pretty_midi, fluidsynth; varied tempo, key, instrument, drums and level) analysed
by songpop, each given "real" values by known mappings of its own descriptors (the calibration
test's: energy a logistic curve of the spectral flux, acousticness a line of the spectral
centroid, loudness 0.9 x LUFS + 4 dB) plus Gaussian noise sized so that the best possible R² is
`CEILINGS` (0.9: a tight relation; 0.6: a loose one). For each number of pairs n, `REPEATS` times:
n songs drawn at random are fitted exactly as `calibrate` chooses and fits a feature's mapping
(`calibrate._choose`: the candidate mappings compared by inner k-fold), and the R² is measured
on every song not drawn. Reported: median and quartiles of that held-out R² per feature,
ceiling and n; the fewest pairs from which the lower quartile stays at or above `MIN_R2` (the
level at which `analyze` applies a mapping: three draws in four give a usable mapping), and from
which the median stays at or above 80% of the realised ceiling (the noiseless values' R²).

Usage: python -m benchmarks.bench_calibration [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import audio_support as A  # noqa: E402
from songpop.audio.calibrate import MIN_R2  # noqa: E402
from songpop.io import write_json_atomic  # noqa: E402

POOL = 80
SIZES = (10, 15, 20, 30, 40, 50)
REPEATS = 8
CEILINGS = (0.9, 0.6)
PROGRAMS = (0, 24, 81, 30, 48, 56, 19, 25, 4, 29, 40, 73, 65, 11, 33)
SEED = 0


def pool() -> list[dict[str, float]]:
    """Calibration inputs (`calibrate.song_inputs`) of `POOL` rendered songs, 0-16 dB apart."""
    from songpop.audio import analyze
    from songpop.audio.calibrate import song_inputs

    rng = np.random.default_rng(SEED)
    out = []
    for i in range(POOL):
        wav, _ = A.song(
            f"lcurve{i}", tempo=int(rng.integers(70, 180)), tonic=i % 12, mode=i % 2,
            program=PROGRAMS[i % len(PROGRAMS)], drums=i % 3 != 0, bars=12, seed=500 + i,
        )  # fmt: skip
        level = A.scaled(wav, -float(i % 5) * 4, f"{wav.stem}-{i % 5 * 4}db.wav")
        out.append(song_inputs(analyze(level).descriptors))
    return out


def signals(inputs: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """The noiseless "real" values of each feature."""
    flux = np.array([d["spectral_flux"] for d in inputs])
    centroid = np.array([d["centroid_hz"] for d in inputs])
    lufs = np.array([d["loudness_lufs"] for d in inputs])
    return {
        "energy": 1 / (1 + np.exp(-(flux - np.median(flux)) / (flux.std() + 1e-9) * 2)),
        "acousticness": np.clip(1 - centroid / (centroid.max() * 1.2), 0, 1),
        "loudness": 0.9 * lufs + 4.0,
    }


def curve(inputs: list[dict[str, float]]) -> list[dict]:
    from sklearn.metrics import r2_score

    from songpop.audio.calibrate import _choose, predict

    names = sorted({n for d in inputs for n in d})
    X = {n: np.array([d.get(n, np.nan) for d in inputs], dtype=float) for n in names}
    rows = []
    rng = np.random.default_rng(SEED)
    for target, clean in signals(inputs).items():
        for ceiling in CEILINGS:
            noise = rng.normal(0, np.sqrt(clean.var() * (1 - ceiling) / ceiling), len(clean))
            y = clean + noise
            for n in SIZES:
                scores = []
                for _ in range(REPEATS):
                    train = rng.choice(len(y), n, replace=False)
                    test = np.setdiff1d(np.arange(len(y)), train)
                    model = _choose({k: v[train] for k, v in X.items()}, y[train], target)
                    guess = predict(model, {k: v[test] for k, v in X.items()})
                    guess = np.where(np.isfinite(guess), guess, y[train].mean())
                    scores.append(float(r2_score(y[test], guess)))
                q1, med, q3 = np.percentile(scores, [25, 50, 75])
                rows.append({"feature": target, "ceiling": ceiling, "pairs": n,
                             "held_out_r2_median": round(float(med), 3),
                             "q1": round(float(q1), 3), "q3": round(float(q3), 3),
                             "in_sample_ceiling": round(float(r2_score(y, clean)), 3)})  # fmt: skip
    return rows


def smallest(rows: list[dict], test: Callable[[dict], bool]) -> dict[str, int | None]:
    """Per feature and ceiling, the fewest pairs whose row passes `test` at that size and at
    every larger size (None: never)."""
    out: dict[str, int | None] = {}
    for key in dict.fromkeys(f"{r['feature']}@{r['ceiling']}" for r in rows):
        sel = [r for r in rows if f"{r['feature']}@{r['ceiling']}" == key]
        passing = [test(r) for r in sel]
        out[key] = next((r["pairs"] for i, r in enumerate(sel) if all(passing[i:])), None)
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (feature, ceiling), style in zip(
        sorted({(r["feature"], r["ceiling"]) for r in rows}), ["-o", "--o"] * 3, strict=False
    ):
        sel = [r for r in rows if r["feature"] == feature and r["ceiling"] == ceiling]
        n = [r["pairs"] for r in sel]
        ax.plot(
            n, [r["held_out_r2_median"] for r in sel], style, label=f"{feature}, ceiling {ceiling}"
        )
        ax.fill_between(n, [r["q1"] for r in sel], [r["q3"] for r in sel], alpha=0.15)
    ax.axhline(0.2, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("pairs used to fit")
    ax.set_ylabel("held-out R² (median, quartiles)")
    ax.set_title("calibrate: held-out R² against the number of pairs (made pairs)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    missing = A.missing_tools()
    if missing:
        raise RuntimeError(f"audio renderers missing: {missing}")
    rows = curve(pool())
    figures = {
        "pool": POOL, "repeats": REPEATS,
        "fewest_pairs_lower_quartile_at_least_min_r2": smallest(rows, lambda r: r["q1"] >= MIN_R2),
        "fewest_pairs_median_at_least_80pct_of_ceiling": smallest(
            rows, lambda r: r["held_out_r2_median"] >= 0.8 * r["in_sample_ceiling"]
        ),
    }  # fmt: skip
    write_json_atomic({**figures, "curve": rows}, out_dir / "learning_curve.json")
    plot(rows, out_dir / "learning_curve.png")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "calibration")
    args = parser.parse_args()
    print(json.dumps(main(args.out), indent=2))

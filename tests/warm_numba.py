"""Compile librosa's numba functions once, before the test workers start.

librosa caches its numba-compiled functions on disk (`cache=True`). On a fresh install two
pytest-xdist workers compiling the same function at once can each write the cache file while
the other reads it, and a half-written cache crashed a worker with a segmentation fault in
`librosa.util.peak_pick`. `make test` runs this first, in one process, so the workers only read
a finished cache. It analyses four seconds of a rendered chord with songpop's own analysis.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


def main() -> None:
    from songpop.audio.analyze import analyze

    rate = 22_050
    t = np.arange(4 * rate) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    beats = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(float) * np.random.default_rng(0).normal(
        0, 0.3, len(t)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "warm.wav"
        sf.write(path, (0.2 * chord + beats).astype("float32"), rate)
        analyze(path)


if __name__ == "__main__":
    main()

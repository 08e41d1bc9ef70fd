"""Benchmark: read time of every real source file (median of 3 runs), and the registry hash check.

Run through `make bench` (benchmarks/run_all.py) or `python -m benchmarks.bench_sources OUT`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from songpop import config
from songpop.io import write_json_atomic
from songpop.sources import registry
from songpop.sources.charts import read_charts
from songpop.sources.tracks import read_tracks

REPEATS = 3
FILES = {
    "hot100_weekly": read_charts,
    "hot_stuff_reconstructed": read_charts,
    "hot100_sample_json": read_charts,
    "tidytuesday_spotify_2020": read_tracks,
    "hit_predictor_dev": read_tracks,
    "spotify_1921_2020_seed_matched": read_tracks,
    "seed_features_to_predict": read_tracks,
}


def _median_seconds(action, repeats: int = REPEATS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(out_dir: Path) -> dict:
    """Time each reader on its real file and the uncached sha256 check of every default file.

    Args:
        out_dir: where `sources.json` with the figures is written.

    Returns:
        {"read_seconds": {dataset: median s}, "rows": {...}, "verify_all_seconds": s, ...}
    """
    data_dir = config.data_dir()
    figures: dict = {"data_dir": str(data_dir), "repeats": REPEATS, "read_seconds": {}, "rows": {}}
    for name, reader in FILES.items():
        path = registry.DATASETS[name].path(data_dir)
        seconds, table = _median_seconds(lambda path=path, reader=reader: reader(path))
        figures["read_seconds"][name] = round(seconds, 4)
        figures["rows"][name] = len(table)  # type: ignore[arg-type]
    defaults = [d for d in registry.DATASETS.values() if d.default]
    seconds, _ = _median_seconds(
        lambda: [registry.verify(d, data_dir, use_cache=False) for d in defaults]
    )
    figures["verify_all_seconds"] = round(seconds, 4)
    figures["verify_files"] = len(defaults)
    write_json_atomic(figures, Path(out_dir) / "sources.json")
    return figures


if __name__ == "__main__":
    import json

    print(
        json.dumps(
            main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/sources")), indent=2
        )
    )

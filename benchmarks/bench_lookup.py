"""The local catalogue: build time, cold load from its Parquet cache, and warm lookups.

Target (issue 12): a warm lookup answers in <= 50 ms over every track table of the data folder.
Queries: 200 real titles with their artists drawn from the catalogue itself (seeded), 100
titles with one letter changed (the fuzzy path), 100 titles that are not there, and 100 title
prefixes (the page's suggestions). Medians and 99th percentiles per kind, one process.

Usage: python -m benchmarks.bench_lookup [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from songpop.io import write_json_atomic


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


def main(out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    from songpop import config
    from songpop.inference.inputs import lookup

    folder = config.data_dir()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SONGPOP_CACHE_DIR"] = cache
        lookup._LOADED.clear()
        t = time.perf_counter()
        catalogue = lookup.load_catalogue(folder)  # builds and caches the index
        build = time.perf_counter() - t
        lookup._LOADED.clear()
        t = time.perf_counter()
        catalogue = lookup.load_catalogue(folder)  # from the Parquet cache
        load = time.perf_counter() - t
    rng = np.random.default_rng(0)
    rows = catalogue.index[catalogue.index["title"].notna()]
    picks = rows.iloc[rng.choice(len(rows), 300, replace=False)]
    real = list(zip(picks["title"], picks["artist"], strict=True))[:200]
    typos = []
    for title, artist in list(zip(picks["title"], picks["artist"], strict=True))[200:]:
        i = int(rng.integers(0, max(1, len(title))))
        typos.append((title[:i] + "x" + title[i + 1 :], artist))
    absent = [(f"zq{i}x nonexistent anthem {i}", None) for i in range(100)]
    prefixes = [str(t)[: max(3, len(str(t)) // 2)] for t, _ in real[:100]]
    catalogue.search(str(real[0][0]), real[0][1])  # warm: imports rapidfuzz, pandas paths
    timings: dict[str, list[float]] = {"exact": [], "fuzzy": [], "absent": [], "prefix": []}
    found = {"exact": 0, "fuzzy": 0, "absent": 0, "prefix": 0}
    for kind, queries in (("exact", real), ("fuzzy", typos), ("absent", absent)):
        for title, artist in queries:
            t = time.perf_counter()
            hits = catalogue.search(str(title), artist)
            timings[kind].append(time.perf_counter() - t)
            found[kind] += bool(hits)
    for prefix in prefixes:
        t = time.perf_counter()
        hits = catalogue.suggest(prefix)
        timings["prefix"].append(time.perf_counter() - t)
        found["prefix"] += bool(hits)
    figures = {
        "tracks_indexed": len(catalogue),
        "build_and_cache_s": round(build, 2),
        "load_from_cache_s": round(load, 3),
        **{f"{kind}_lookup": _ms(v) for kind, v in timings.items()},
        "found": {k: f"{v}/{len(timings[k])}" for k, v in found.items()},
        "target": "warm lookup <= 50 ms",
    }
    write_json_atomic(figures, out_dir / "lookup.json")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "lookup")
    args = parser.parse_args()
    print(json.dumps(main(args.out), indent=2))

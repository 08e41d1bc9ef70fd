"""Audio analysis: accuracy of the measured features on rendered MIDI, and its speed and memory.

Accuracy (issue 11): over every openttd-openmsx song whose MIDI states one tempo (and, for the
key, one key signature), and a set of songs written with pretty_midi (exact tempo, key and
instruments), all rendered by fluidsynth:
- tempo within 2% and within 4% of the MIDI tempo (songpop's: the beat tracker's tempo moved to
  the metrical level whose beats best fit the low-band onsets, weighed with the catalogue's tempo
  prior, `songpop.audio.tempo`; and the tracker's own, for comparison), and octave-tolerant
  (within 4% of the tempo,
  its double or its half: MIREX's "accuracy 2" without the thirds); octave errors (x2, x1/2)
  and other metrical-level errors (x3/2, x2/3, x4/3, x3/4) are counted apart. Aim: >= 85%
  within 2%.
- tonic, and key + mode, hit rates of the analysis (after its clarity gate). Aim: tonic >= 75%,
  key + mode 80%. And each published key profile (Krumhansl-Kessler, Temperley,
  Albrecht-Shanahan, edma) on the same mean chroma: exact key + mode, and the MIREX weighted
  score (1 exact, 0.5 a fifth away in the same mode, 0.3 relative, 0.2 parallel).
- time signature hit rate where the MIDI states one metre (reported as measured or default).

Speed: analysis time of each rendered song on one core (a subprocess with every thread pool set
to 1 and pinned to one CPU), as seconds per 3 minutes of audio: the median over the set (aim <=
1 s, warm); one analysis of a 3-minute song in a new process, imports and numba's JIT included
(aim <= 10 s); peak resident memory analysing a 10-minute file (aim <= 500 MB).

The tempo's method and weight were chosen on the development corpus of `benchmarks/dev_audio.py`,
never on these songs. The key profile was not: Albrecht-Shanahan was first picked as the best of
the four on these songs (issue #23), and the development corpus agreed later (78/96 against
67-71/96), so the key + mode figure here is that of a choice made on the songs it is scored on.

Usage: python -m benchmarks.bench_audio [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import audio_support as A  # noqa: E402
from songpop.io import write_json_atomic  # noqa: E402

ONE_THREAD = {
    k: "1"
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}
GENERATED = [  # tempo, tonic, mode, program, drums
    (120, 0, 1, 0, True), (96, 9, 0, 24, True), (140, 7, 1, 81, True), (84, 2, 0, 30, True),
    (128, 5, 1, 0, True), (110, 4, 0, 48, True), (75, 10, 1, 56, False), (165, 1, 0, 19, True),
    (100, 3, 1, 25, True), (132, 11, 0, 4, True), (90, 6, 1, 0, False), (150, 8, 0, 29, True),
]  # fmt: skip
RATIOS = {"octave": (2.0, 0.5), "metrical": (1.5, 2 / 3, 4 / 3, 0.75)}


def corpus() -> list[tuple[str, Path, A.MidiTruth]]:
    """(name, rendered wav, what the MIDI says) for every song of the benchmark."""
    items = []
    for midi in A.openmsx_songs():
        items.append((midi.stem, A.render_midi(midi), A.midi_truth(midi)))
    for i, (tempo, tonic, mode, program, drums) in enumerate(GENERATED):
        path, truth = A.song(
            f"bench{i}", tempo=tempo, tonic=tonic, mode=mode, program=program, drums=drums,
            bars=32, seed=i,
        )  # fmt: skip
        items.append((f"generated-{i}", path, truth))
    return items


def within(found: float | None, truth: float, tolerance: float, factors=(1.0,)) -> bool:
    return found is not None and any(abs(found / (truth * f) - 1) <= tolerance for f in factors)


def mirex_key_score(found: tuple[int, int], truth: tuple[int, int]) -> float:
    """MIREX's weighted key score: 1 exact, 0.5 a fifth (either way) in the same mode, 0.3 the
    relative key, 0.2 the parallel key, else 0. (tonic, mode) with mode 1 = major."""
    (tonic, mode), (t_tonic, t_mode) = found, truth
    if found == truth:
        return 1.0
    if mode == t_mode and (tonic - t_tonic) % 12 in (5, 7):
        return 0.5
    relative = (t_tonic + 9) % 12 if t_mode == 1 else (t_tonic + 3) % 12
    if mode != t_mode and tonic == relative:
        return 0.3
    if mode != t_mode and tonic == t_tonic:
        return 0.2
    return 0.0


def key_profiles(rows: list[dict], chroma: list[list[float] | None]) -> dict[str, dict]:
    """Each published profile's exact key + mode rate and MIREX score on the songs with a key."""
    import numpy as np

    from songpop.audio.describe import KEY_PROFILE, KEY_PROFILES, key_correlations

    out = {}
    for name in KEY_PROFILES:
        exact = score = n = 0
        for row, c in zip(rows, chroma, strict=True):
            if row["midi_key"] is None:
                continue
            n += 1
            if c is None:
                continue
            corr = key_correlations(np.asarray(c), name)
            mode, tonic = np.unravel_index(int(np.argmax(corr)), corr.shape)
            found, truth = (int(tonic), int(mode)), tuple(row["midi_key"])
            exact += found == truth
            score += mirex_key_score(found, truth)
        out[name] = {"key_mode_exact": round(exact / n, 3) if n else None,
                     "mirex_weighted": round(score / n, 3) if n else None,
                     "songs": n, "used": name == KEY_PROFILE}  # fmt: skip
    return out


def tempo_verdict(found: float | None, truth: float) -> str:
    if found is None:
        return "none"
    ratio = found / truth
    if abs(ratio - 1) <= 0.02:
        return "within 2%"
    for kind, ratios in RATIOS.items():
        if any(abs(ratio / r - 1) <= 0.02 for r in ratios):
            return kind
    return "wrong"


ANALYSE_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from songpop.audio import analyze
from songpop.audio.decode import decode
from songpop.audio.describe import mean_chroma
out = []
for path in sys.argv[1:]:
    analyze(path)  # warm: numba compiled, filters cached
    t = time.perf_counter(); song = analyze(path); dt = time.perf_counter() - t
    f = song.features
    chroma = mean_chroma(decode(path).mono)  # after the timing: every key profile's input
    out.append({"path": path, "seconds": dt, "duration": song.audio["seconds"],
                "chroma": None if chroma is None else chroma.tolist(),
                "tempo": f["tempo"].value,
                "tracker_tempo": song.tracked_tempo,
                "key": f["key"].value, "mode": f["mode"].value,
                "time_signature": f["time_signature"].value,
                "time_signature_source": f["time_signature"].source})
print(json.dumps(out))
"""

COLD_SCRIPT = "import sys; from songpop.audio import analyze; analyze(sys.argv[1])"
PEAK_SCRIPT = """
import resource, sys
from songpop.audio import analyze
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
analyze(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before / 1024, after / 1024)
"""


def _one_core(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **ONE_THREAD}
    return subprocess.run(
        ["taskset", "-c", "0", sys.executable, *args],
        env=env, capture_output=True, text=True, check=True, timeout=3600,
    )  # fmt: skip


def long_file(out: Path, minutes: float = 10.0) -> Path:
    """A 10-minute 44.1 kHz stereo WAV: rendered songs end to end."""
    import soundfile as sf

    path = out / "ten_minutes.wav"
    if path.is_file():
        return path
    need = int(minutes * 60 * A.RATE)
    with sf.SoundFile(str(path), "w", A.RATE, 2, subtype="PCM_16") as f:
        written = 0
        for midi in A.openmsx_songs():
            data, _ = A.read(A.render_midi(midi))
            take = data[: need - written]
            f.write(take)
            written += len(take)
            if written >= need:
                break
    return path


def main(out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    missing = A.missing_tools()
    if missing:
        raise RuntimeError(f"audio renderers missing: {missing}")
    items = corpus()
    analysed = json.loads(_one_core(["-c", ANALYSE_SCRIPT, *[str(p) for _, p, _ in items]]).stdout)
    rows = []
    for (name, _, truth), got in zip(items, analysed, strict=True):
        rows.append({
            "song": name,
            "minutes": round(got["duration"] / 60, 2),
            "seconds": round(got["seconds"], 3),
            "per_3_minutes": round(got["seconds"] * 180 / got["duration"], 3),
            "midi_tempo": truth.tempo,
            "tempo": got["tempo"],
            "tempo_verdict": tempo_verdict(got["tempo"], truth.tempo) if truth.tempo else None,
            "tracker_tempo": got["tracker_tempo"],
            "midi_key": None if truth.tonic is None else [truth.tonic, truth.mode],
            "key": [got["key"], got["mode"]],
            "midi_meter": truth.meter,
            "time_signature": [got["time_signature"], got["time_signature_source"]],
        })  # fmt: skip
    with_tempo = [r for r in rows if r["tempo_verdict"] is not None]
    with_key = [r for r in rows if r["midi_key"] is not None]
    with_meter = [r for r in rows if r["midi_meter"] is not None]
    verdicts = [r["tempo_verdict"] for r in with_tempo]
    n_key = len(with_key)

    def share(n: int, d: int) -> float:
        return round(n / d, 3) if d else float("nan")

    accuracy = {
        "tempo_songs": len(with_tempo),
        "tempo_within_2pct": share(verdicts.count("within 2%"), len(with_tempo)),
        "tempo_within_4pct": share(
            sum(within(r["tempo"], r["midi_tempo"], 0.04) for r in with_tempo), len(with_tempo)
        ),
        "tempo_octave_tolerant": share(
            sum(within(r["tempo"], r["midi_tempo"], 0.04, (1.0, 2.0, 0.5)) for r in with_tempo),
            len(with_tempo),
        ),
        "tracker_tempo_within_2pct": share(
            sum(within(r["tracker_tempo"], r["midi_tempo"], 0.02) for r in with_tempo),
            len(with_tempo),
        ),
        "tracker_tempo_within_4pct": share(
            sum(within(r["tracker_tempo"], r["midi_tempo"], 0.04) for r in with_tempo),
            len(with_tempo),
        ),
        "tempo_octave_errors": share(verdicts.count("octave"), len(with_tempo)),
        "tempo_metrical_errors": share(verdicts.count("metrical"), len(with_tempo)),
        "tempo_other_or_none": share(
            verdicts.count("wrong") + verdicts.count("none"), len(with_tempo)
        ),
        "key_songs": len(with_key),
        "tonic_hit_rate": share(sum(r["key"][0] == r["midi_key"][0] for r in with_key), n_key),
        "key_mode_hit_rate": share(sum(r["key"] == r["midi_key"] for r in with_key), n_key),
        "meter_songs": len(with_meter),
        "meter_hit_rate": share(
            sum(r["time_signature"][0] == r["midi_meter"] for r in with_meter), len(with_meter)
        ),
        "openmsx_songs": sum(not r["song"].startswith("generated") for r in rows),
        "generated_songs": sum(r["song"].startswith("generated") for r in rows),
    }  # fmt: skip
    per3 = [r["per_3_minutes"] for r in rows]
    three_minute = min(items, key=lambda it: abs(A.read(it[1])[0].shape[0] / A.RATE - 180))[1]
    cold = []
    for _ in range(3):
        t = time.perf_counter()
        _one_core(["-c", COLD_SCRIPT, str(three_minute)])
        cold.append(time.perf_counter() - t)
    ten = long_file(out_dir)
    before, after = map(float, _one_core(["-c", PEAK_SCRIPT, str(ten)]).stdout.split())
    speed = {
        "warm_seconds_per_3_minutes_median": round(statistics.median(per3), 3),
        "warm_seconds_per_3_minutes_max": round(max(per3), 3),
        "cold_new_process_seconds_median": round(statistics.median(cold), 2),
        "cold_song": three_minute.name,
        "ten_minute_file_peak_rss_mb": round(after, 1),
        "peak_rss_before_analysis_mb": round(before, 1),
        "one_core": "taskset -c 0, every thread pool at 1",
    }
    accuracy["key_profiles"] = key_profiles(rows, [got["chroma"] for got in analysed])
    figures = {"accuracy": accuracy, "speed": speed}
    write_json_atomic({**figures, "songs": rows}, out_dir / "audio.json")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results") / "audio")
    args = parser.parse_args()
    print(json.dumps(main(args.out), indent=2))

"""A development corpus for the audio analysis, apart from bench_audio's: methods and weights are
chosen here, and bench_audio then reports the chosen method once.

Each song is an MMA (Musical MIDI Accompaniment, Debian's `mma`) groove from its standard
library, a chord progression in a known key one chord a bar, and a melody written here with
pretty_midi (chord tones on the beats, scale steps between, in quarters, straight eighths,
dotted figures and rests), rendered by fluidsynth with the TimGM6mb soundfont as bench_audio's
songs are. Tempo, key, mode and metre are known exactly; none of bench_audio's songs (the
openttd-openmsx MIDI files and its `GENERATED` list, made by `audio_support.write_song`) is
among them. The seeds, grooves and tempo range below were set before any method was run on them.

Usage: python -m benchmarks.dev_audio [--songs 96] [--evaluate]
(prints each song's recipe and rendered path; with --evaluate, songpop's tempo and the tracker's
within 2% of the true tempo, and key + mode with each key profile)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import audio_support as A  # noqa: E402

GROOVES_4 = (
    "8Beat", "50sRock", "60sRock", "BasicRock", "BubbleRock", "FolkRock", "JazzRock", "Polka",
    "Ska", "SoftRock", "Twist", "Swing", "FastSwing", "BossaNova", "Samba", "R&B", "Strut",
    "Trance", "CountryBlues", "Dixie", "Zydeco", "Merengue", "Bluegrass", "Jive",
)  # fmt: skip
GROOVES_3 = ("Waltz", "CountryWaltz", "JazzWaltz")
NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# degree (0-6), quality suffix; V in minor is the major (harmonic) dominant
PROGRESSIONS = {
    1: [[(0, ""), (4, ""), (5, "m"), (3, "")], [(0, ""), (3, ""), (4, "7"), (0, "")],
        [(0, ""), (5, "m"), (1, "m"), (4, "7")], [(0, ""), (3, ""), (0, ""), (4, "")],
        [(0, ""), (2, "m"), (3, ""), (4, "")]],
    0: [[(0, "m"), (3, "m"), (4, "7"), (0, "m")], [(0, "m"), (5, ""), (2, ""), (6, "")],
        [(0, "m"), (6, ""), (5, ""), (4, "")], [(0, "m"), (3, "m"), (6, ""), (2, "")],
        [(0, "m"), (5, ""), (3, "m"), (4, "7")]],
}  # fmt: skip


def _chord(tonic: int, mode: int, degree: int, quality: str) -> tuple[str, list[int]]:
    scale = MAJOR if mode == 1 else MINOR
    root = (tonic + scale[degree]) % 12
    third = 3 if quality == "m" else 4
    return NAMES[root] + quality, [root, (root + third) % 12, (root + 7) % 12]


def spec(i: int) -> dict:
    """Song i's recipe, from its own seed."""
    rng = np.random.default_rng(1000 + i)
    waltz = rng.random() < 0.15
    groove = str(rng.choice(GROOVES_3 if waltz else GROOVES_4))
    tempo = float(round(2 ** rng.uniform(np.log2(70), np.log2(185))))
    mode = int(rng.random() < 0.55)
    tonic = int(rng.integers(0, 12))
    prog = int(rng.integers(0, len(PROGRESSIONS[mode])))
    program = int(rng.choice([0, 4, 11, 24, 26, 56, 65, 73, 80, 81]))
    return {"i": i, "groove": groove, "tempo": tempo, "tonic": tonic, "mode": mode,
            "progression": prog, "program": program, "beats": 3 if waltz else 4,
            "bars": 32}  # fmt: skip


def _melody(s: dict, chords: list[list[int]], rng: np.random.Generator):  # type: ignore[no-untyped-def]
    import pretty_midi

    scale = MAJOR if s["mode"] == 1 else MINOR
    beat = 60.0 / s["tempo"]
    inst = pretty_midi.Instrument(program=s["program"])
    base = 60 + s["tonic"] if s["tonic"] < 7 else 48 + s["tonic"]
    pitches = [base + o + p for o in (0, 12) for p in scale]
    t = 0.0
    for bar in range(s["bars"]):
        tones = chords[bar % len(chords)]
        for _ in range(s["beats"]):
            pattern = rng.choice(4, p=[0.3, 0.4, 0.15, 0.15])  # quarter, 8ths, dotted, rest
            durs = [[1.0], [0.5, 0.5], [0.75, 0.25], []][pattern]
            u = t
            for k, d in enumerate(durs):
                if k == 0:  # a chord tone on the beat
                    pc = tones[int(rng.integers(0, 3))]
                    p = base + (pc - base) % 12
                else:
                    p = pitches[int(rng.integers(0, len(pitches)))]
                inst.notes.append(pretty_midi.Note(int(rng.integers(70, 100)), int(p), u,
                                                   u + d * beat * 0.9))  # fmt: skip
                u += d * beat
            t += beat
    return inst


def write(s: dict, folder: Path) -> Path:
    """The song's MIDI file (MMA's accompaniment + the melody + the key signature)."""
    import pretty_midi

    rng = np.random.default_rng(2000 + s["i"])
    progression = PROGRESSIONS[s["mode"]][s["progression"]]
    chords = [_chord(s["tonic"], s["mode"], d, q) for d, q in progression]
    # MMA varies its grooves' timing and velocity at random: seeded, the same song every time
    lines = [f"RndSeed {3000 + s['i']}", f"Tempo {s['tempo']:g}", f"Groove {s['groove']}"]
    lines += [chords[bar % len(chords)][0] for bar in range(s["bars"] - 1)]
    lines += [chords[0][0], ""]
    stem = f"dev{s['i']}"
    source = folder / f"{stem}.mma"
    source.write_text("\n".join(lines))
    accompaniment = folder / f"{stem}-acc.mid"
    subprocess.run(["mma", str(source), "-f", str(accompaniment)], check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    pm = pretty_midi.PrettyMIDI(str(accompaniment))
    pm.instruments.append(_melody(s, [c[1] for c in chords], rng))
    pm.key_signature_changes = [pretty_midi.KeySignature(s["tonic"] + 12 * (1 - s["mode"]), 0)]
    out = folder / f"{stem}.mid"
    pm.write(str(out))
    return out


def corpus(n: int = 96) -> list[tuple[str, Path, dict]]:
    """(name, rendered wav, recipe) for the first n development songs."""
    if shutil.which("mma") is None:
        raise RuntimeError("mma is missing (Debian package mma)")
    folder = A.cache_dir() / "dev"
    folder.mkdir(exist_ok=True)
    items = []
    for i in range(n):
        s = spec(i)
        midi = write(s, folder)
        digest = hashlib.sha256(midi.read_bytes()).hexdigest()[:10]
        items.append((f"dev-{i}", A.render_midi(midi, f"dev{i}-{digest}.wav"), s))
    return items


def evaluate(items: list[tuple[str, Path, dict]]) -> dict:
    """songpop's analysis on the development songs: how often the tempo (and the tracker's own)
    is within 2% of the true tempo, and how often each key profile finds key and mode."""
    from songpop.audio.decode import decode
    from songpop.audio.describe import KEY_PROFILES, describe, key_correlations, mean_chroma

    tempo = tracker = 0
    keys = dict.fromkeys(KEY_PROFILES, 0)
    for _, path, s in items:
        mono = decode(path).mono
        found = describe(mono, float("nan"))
        tempo += found.tempo is not None and abs(found.tempo / s["tempo"] - 1) <= 0.02
        tracked = found.tracked_tempo
        tracker += tracked is not None and abs(tracked / s["tempo"] - 1) <= 0.02
        chroma = mean_chroma(mono)
        for name in KEY_PROFILES:
            if chroma is not None:
                corr = key_correlations(chroma, name)
                mode, tonic = np.unravel_index(int(np.argmax(corr)), corr.shape)
                keys[name] += (int(tonic), int(mode)) == (s["tonic"], s["mode"])
    return {"songs": len(items), "tempo_within_2pct": tempo, "tracker_within_2pct": tracker,
            "key_mode_exact": keys}  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=96)
    parser.add_argument("--evaluate", action="store_true")
    args = parser.parse_args()
    songs = corpus(args.songs)
    for name, path, s in songs:
        print(json.dumps({"song": name, "path": str(path), **s}))
    if args.evaluate:
        print(json.dumps(evaluate(songs), indent=2))

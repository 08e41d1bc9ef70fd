"""Real audio for the tests and benchmarks, made on the spot and cached (never committed).

Debian's fluidsynth renders MIDI with the TimGM6mb General MIDI soundfont: the real songs of
`openttd-openmsx` and songs written here with pretty_midi, whose tempo, key and instruments are
known exactly. espeak-ng speaks; soundfile and numpy mix, scale and convert. Renders go to a
cache folder (`SONGPOP_AUDIO_CACHE`, default `.cache/test-audio` in the checkout), made once
under a file lock so parallel test workers share them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OPENMSX = Path("/usr/share/games/openttd/baseset/openmsx")
SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
RATE = 44_100
TOOLS = ("fluidsynth", "espeak-ng", "sox")


def cache_dir() -> Path:
    path = Path(os.environ.get("SONGPOP_AUDIO_CACHE", ROOT / ".cache" / "test-audio"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def missing_tools() -> list[str]:
    """What the renderers need and this machine lacks (`.ci/run` installs them)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not SOUNDFONT.is_file():
        missing.append(str(SOUNDFONT))
    if not OPENMSX.is_dir():
        missing.append(str(OPENMSX))
    return missing


def _cached(name: str, make) -> Path:  # type: ignore[no-untyped-def]
    """`make(path)` once per name; concurrent callers wait for the first."""
    from filelock import FileLock

    out = cache_dir() / name
    if out.is_file():
        return out
    with FileLock(str(out) + ".lock"):
        if not out.is_file():
            tmp = out.with_name(f".{os.getpid()}.{out.name}")
            make(tmp)
            os.replace(tmp, out)
    return out


def render_midi(midi: Path, name: str | None = None, gain: float = 0.6) -> Path:
    """A MIDI file rendered to a 44.1 kHz stereo wav by fluidsynth."""
    name = name or f"{midi.stem}.wav"

    def make(tmp: Path) -> None:
        subprocess.run(
            ["fluidsynth", "-ni", "-g", str(gain), "-r", str(RATE), "-F", str(tmp),
             str(SOUNDFONT), str(midi)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip

    return _cached(name, make)


def openmsx_songs() -> list[Path]:
    """The real MIDI songs shipped by openttd-openmsx."""
    return sorted(OPENMSX.glob("*.mid"))


@dataclass(frozen=True)
class MidiTruth:
    """What a MIDI file says about itself: one tempo, or None when it changes; key and metre."""

    tempo: float | None
    tonic: int | None
    mode: int | None
    meter: int | None


def midi_truth(midi: Path) -> MidiTruth:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(midi))
    _, tempi = pm.get_tempo_changes()
    tempo = float(tempi[0]) if len(set(np.round(tempi, 1))) == 1 else None
    keys = {k.key_number for k in pm.key_signature_changes}
    tonic = mode = None
    if len(keys) == 1:
        number = keys.pop()
        tonic, mode = number % 12, 1 if number < 12 else 0
    metres = {(t.numerator, t.denominator) for t in pm.time_signature_changes}
    meter = next(iter(metres))[0] if len(metres) == 1 else None
    return MidiTruth(tempo, tonic, mode, meter)


MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


def write_song(
    path: Path,
    *,
    tempo: float = 120.0,
    tonic: int = 0,
    mode: int = 1,
    program: int = 0,
    drums: bool = True,
    bars: int = 24,
    beats_per_bar: int = 4,
    rubato: bool = False,
    seed: int = 0,
) -> MidiTruth:
    """Write a MIDI song with a known tempo, key and metre: I-V-vi-IV (or i-iv-V-i) chords
    with a melody on `program`, a bass, and (with `drums`) kick on every beat, snare on the
    back beats and closed hats on the off-beats. `rubato` makes the tempo wander ±25%.
    """
    import pretty_midi

    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    scale = MAJOR_SCALE if mode == 1 else HARMONIC_MINOR
    degrees = (0, 4, 5, 3) if mode == 1 else (0, 3, 4, 0)  # I-V-vi-IV; i-iv-V-i
    lead = pretty_midi.Instrument(program=program)
    bass = pretty_midi.Instrument(program=33)
    kit = pretty_midi.Instrument(program=0, is_drum=True)
    root = 60 + tonic if tonic < 6 else 48 + tonic
    t = 0.0
    for bar in range(bars):
        degree = degrees[bar % 4]
        chord = [root + scale[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
        for b in range(beats_per_bar):
            beat = 60.0 / tempo * (1 + (0.25 * np.sin(bar + b / 2) if rubato else 0))
            for pitch in chord:
                lead.notes.append(pretty_midi.Note(70, pitch, t, t + beat * 0.9))
            if b % 2 == 0:
                bass.notes.append(pretty_midi.Note(90, chord[0] - 24, t, t + beat * 1.8))
            melody = root + 12 + scale[int(rng.integers(0, 7))]
            lead.notes.append(pretty_midi.Note(85, melody, t, t + beat * 0.45))
            if drums:
                kit.notes.append(pretty_midi.Note(110, 36, t, t + 0.1))  # kick
                if b % 2 == 1:
                    kit.notes.append(pretty_midi.Note(100, 38, t, t + 0.1))  # snare
                kit.notes.append(pretty_midi.Note(70, 42, t + beat / 2, t + beat / 2 + 0.05))
            t += beat
    pm.instruments += [lead, bass] + ([kit] if drums else [])
    key = pretty_midi.KeySignature(tonic + (0 if mode == 1 else 12), 0.0)
    pm.key_signature_changes.append(key)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(beats_per_bar, 4, 0.0))
    pm.write(str(path))
    return MidiTruth(None if rubato else tempo, tonic, mode, beats_per_bar)


def song(name: str, **spec: object) -> tuple[Path, MidiTruth]:
    """A generated song (see `write_song`) rendered to wav and cached by its settings."""
    midi = cache_dir() / f".{os.getpid()}.{name}.mid"
    truth = write_song(midi, **spec)  # type: ignore[arg-type]
    digest = hashlib.sha256(midi.read_bytes()).hexdigest()[:10]  # the notes, not the recipe
    kept = midi.with_name(f"{name}-{digest}.mid")
    os.replace(midi, kept)
    return render_midi(kept, f"{name}-{digest}.wav"), truth


def speak(text: str, name: str, voice: str = "en-us", speed: int = 160) -> Path:
    """`text` spoken by espeak-ng, as a wav."""

    def make(tmp: Path) -> None:
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(tmp), text],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    return _cached(name, make)


SPEECH = (
    "Good evening. Tonight we look at the railway timetable for the coming winter. "
    "Trains to the north will run every hour, and the late service on Sundays returns in "
    "March. Passengers are asked to check the boards before they travel, because some "
    "platforms change while the works go on. That is all for now; thank you for listening, "
    "and we will be back next week with more news from the stations."
)


def read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data, rate


def write(path: Path, data: np.ndarray, rate: int, **kw: object) -> Path:
    import soundfile as sf

    sf.write(str(path), data, rate, **kw)
    return path


def scaled(source: Path, db: float, name: str) -> Path:
    """`source` made `db` decibels louder (negative: quieter)."""

    def make(tmp: Path) -> None:
        data, rate = read(source)
        write(tmp, data * 10 ** (db / 20), rate, format="WAV", subtype="FLOAT")

    return _cached(name, make)


def with_voice(music: Path, name: str, voice_db: float = 0.0) -> Path:
    """`music` with espeak-ng speaking over it (the speech repeated to the music's length), the
    voice at `voice_db` relative to the music's RMS."""

    def make(tmp: Path) -> None:
        import soxr

        data, rate = read(music)
        words, wrate = read(speak(SPEECH, "speech-en.wav"))
        words = soxr.resample(words, wrate, rate)[:, 0]
        reps = int(np.ceil(len(data) / len(words)))
        voice = np.tile(words, reps)[: len(data)]
        gain = np.sqrt(np.mean(data**2)) / (np.sqrt(np.mean(voice**2)) + 1e-9)
        mixed = data + (gain * 10 ** (voice_db / 20) * voice)[:, None]
        peak = np.abs(mixed).max()
        write(tmp, mixed / max(peak, 1.0) * 0.9 if peak > 1 else mixed, rate, format="WAV")

    return _cached(name, make)


def convert(source: Path, name: str, **kw: object) -> Path:
    """`source` rewritten by soundfile (format, subtype, rate through `samplerate`)."""

    def make(tmp: Path) -> None:
        data, rate = read(source)
        new_rate = int(kw.pop("samplerate", rate))  # type: ignore[arg-type]
        if new_rate != rate:
            import soxr

            data = soxr.resample(data, rate, new_rate)
        write(tmp, data, new_rate, **kw)

    return _cached(name, make)

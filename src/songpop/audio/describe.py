"""Audio descriptors: the named measurements every songpop feature from audio is made of.

`describe(decoded)` computes them once per file from one short-time Fourier transform (2,048
samples, hop 512 at 22,050 Hz: 23 ms frames) of the mid signal, plus the stereo signal for
loudness. Each descriptor is a plain number with a documented meaning (`DESCRIPTORS`); the
measured features (`songpop.audio.measure`) and the estimates (`songpop.audio.estimate`) are
functions of these numbers only, so what an estimate rests on can always be shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from songpop.audio.decode import RATE, Decoded
from songpop.audio.tempo import Level, best_level, score_levels

N_FFT = 2048
HOP = 512
FRAME_RATE = RATE / HOP
SILENCE_DBFS = -70.0
"""Frames quieter than this (RMS, dBFS) count as silence; a file with no louder frame is silent."""

DESCRIPTORS: dict[str, str] = {
    "loudness_lufs": "integrated loudness, ITU-R BS.1770-4 (pyloudnorm), LUFS",
    "rms_db": "mean frame RMS of the sounding frames, dBFS",
    "dynamic_range_db": "95th minus 10th percentile of frame RMS over sounding frames, dB",
    "onset_rate": "detected note onsets per second",
    "spectral_flux": "mean onset strength (positive log-mel spectral flux)",
    "tempo_bpm": "the tempo, BPM: the tracked beats' (median period over spans of 8 beats) "
    "at the metrical level that best fits the accents and the catalogue's tempi",
    "tempo_distance_oct": "distance of that tempo from 120 BPM, in octaves",
    "beat_strength": "onset strength on the tracked beats over the mean onset strength",
    "pulse_clarity": "onset-envelope autocorrelation at the beat period (0-1)",
    "beat_regularity": "1 minus the coefficient of variation of the beat intervals (0-1)",
    "centroid_hz": "mean spectral centroid of the sounding frames, Hz",
    "flatness": "mean spectral flatness (0 = tonal, 1 = noise)",
    "high_band_ratio": "share of the energy above 4 kHz",
    "zcr_std": "standard deviation of the zero-crossing rate over 23 ms frames",
    "low_energy_share": "share of frames below half the mean RMS (pauses between words)",
    "mod4hz": "share of the voice band's envelope modulation between 2 and 8 Hz",
    "centroid_std_hz": "standard deviation of the spectral centroid over frames, Hz",
    "key_clarity": "correlation of the chroma with the best key profile (Albrecht-Shanahan)",
    "key_margin": "that correlation minus the best other key's",
    "major_clarity": "best major-key correlation minus best minor-key correlation",
    "meter_confidence": "how much the chosen bar length's accent pattern beats the next one",
    "noise_floor_flatness": "spectral flatness of the quietest tenth of sounding frames",
    "sounding_share": "share of frames louder than -70 dBFS",
}

KEY_PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # (C major, C minor), published weights of each pitch class
    "krumhansl_kessler": (  # Krumhansl & Kessler (1982), probe-tone ratings
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (  # Temperley (1999), from the Kostka-Payne corpus
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    "albrecht_shanahan": (  # Albrecht & Shanahan (2013), from 490 pieces
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),
    ),
    "edma": (  # Faraldo et al. (2016), electronic dance music (Essentia's "edma")
        (0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123,
         0.05294487, 0.13159476, 0.05218986, 0.07443653, 0.06940723, 0.0642515),
        (0.17235348, 0.05336489, 0.0761009, 0.10043649, 0.05621498, 0.08527853,
         0.0497915, 0.13451001, 0.07458916, 0.05003023, 0.09187879, 0.05545106),
    ),
}  # fmt: skip
KEY_PROFILE = "albrecht_shanahan"
"""The profiles songpop uses: the best of the four on the rendered corpus (`bench_audio`:
key + mode 77.3%, MIREX score 0.800 on 22 songs, against 68.2% / 0.750 for Krumhansl-Kessler)
and on the development corpus (`benchmarks/dev_audio`: 78/96 against 67-71/96)."""
N_MELS = 64
ACCENT_BAND_HZ = 250.0
"""The mel bands below this (kick drum, bass) give the accent onsets the metrical level is
scored on (`songpop.audio.tempo`): the low band was chosen among three onset sources (the low
band, the full band, the percussive part) on the development corpus; 250 Hz was set once for
the kick and bass range, not swept."""
KEY_HOP = 4096
"""Chroma frames for the key every 0.19 s: a key is a property of seconds, not of frames."""
CHROMA_BINS = 36
"""Constant-Q bins per octave of the key's chroma: librosa's default for `chroma_cqt`, given to
the tuning estimate as `chroma_cqt` itself would."""
METERS: tuple[int, ...] = (3, 4, 5)
"""Bar lengths (beats) tried for the time signature; Spotify reports 3 to 7."""


@dataclass
class Description:
    """What `describe` found.

    Attributes:
        values: descriptor name → value (NaN where it cannot be computed, e.g. in silence).
        silent: no frame louder than `SILENCE_DBFS`.
        tempo: beats per minute at the chosen metrical level (`tempo_levels`), or None.
        tracked_tempo: the beat tracker's own tempo, before the level was chosen, or None.
        key: (pitch class, mode) of the best key profile, or None.
        meter: beats per bar of the strongest accent pattern, or None.
        tempo_levels: the tracked tempo's metrical candidates scored by their beats' alignment
            with the accents and the catalogue's tempo prior (`songpop.audio.tempo`); `tempo` is
            the best one's.
    """

    values: dict[str, float] = field(default_factory=dict)
    silent: bool = False
    tempo: float | None = None
    tracked_tempo: float | None = None
    key: tuple[int, int] | None = None
    meter: int | None = None
    tempo_levels: list[Level] = field(default_factory=list)


def describe(mono: np.ndarray, loudness: float) -> Description:
    """Compute every descriptor of `DESCRIPTORS` for a decoded file.

    Args:
        mono: the mid signal at `RATE` (`Decoded.mono`).
        loudness: its integrated loudness (`loudness_lufs(decoded)`), measured on the channels
            before they were folded to one.

    Returns:
        The descriptors, with the tempo, key and metre they imply.
    """
    import librosa

    out = Description(values={name: float("nan") for name in DESCRIPTORS})
    v = out.values
    frames = frame_summaries(mono)
    frame_rms = frames.rms
    rms_db = 20 * np.log10(np.maximum(frame_rms, 1e-10))
    sounding = rms_db > SILENCE_DBFS
    v["sounding_share"] = float(sounding.mean()) if len(sounding) else 0.0
    if not sounding.any():
        out.silent = True
        return out
    v["loudness_lufs"] = loudness if np.isfinite(loudness) else float("nan")
    snd_db = rms_db[sounding]
    v["rms_db"] = float(20 * np.log10(np.mean(frame_rms[sounding])))
    v["dynamic_range_db"] = float(np.percentile(snd_db, 95) - np.percentile(snd_db, 10))
    _spectral(frames, sounding, v)
    mel = frames.mel
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    _rhythm(log_mel, out)
    _voice(mono, mel, v)
    _key(mono, out)
    return out


@dataclass
class Frames:
    """Per-frame summaries of the power spectrum (the spectrum itself is never kept whole).

    Attributes:
        rms: frame RMS (linear, Hann-window corrected).
        centroid: spectral centroid (Hz).
        flatness: spectral flatness of the magnitudes (DC left out).
        high: power above 4 kHz.
        total: total power.
        mel: the 64-band mel power spectrogram.
    """

    rms: np.ndarray
    centroid: np.ndarray
    flatness: np.ndarray
    high: np.ndarray
    total: np.ndarray
    mel: np.ndarray


def frame_summaries(y: np.ndarray, block: int = 2048) -> Frames:
    """The STFT (centred frames, as librosa.stft makes them) summarised frame by frame,
    `block` frames at a time, so that a long file's spectrogram never sits in memory whole."""
    import librosa

    n_frames = 1 + len(y) // HOP
    padded = np.pad(y, N_FFT // 2)
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    mel_basis = librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS, fmax=RATE / 2)
    out = Frames(*(np.empty(n_frames, np.float64) for _ in range(5)),
                 mel=np.empty((N_MELS, n_frames), np.float32))  # fmt: skip
    high_bins = freqs >= 4000
    for first in range(0, n_frames, block):
        last = min(first + block, n_frames)
        piece = padded[first * HOP : (last - 1) * HOP + N_FFT]
        spec = librosa.stft(piece, n_fft=N_FFT, hop_length=HOP, center=False)
        power = spec.real**2 + spec.imag**2
        total = power.sum(axis=0, dtype=np.float64)
        out.total[first:last] = total
        out.rms[first:last] = np.sqrt(total * 2 / N_FFT**2 / 0.375)  # Hann window power gain
        out.centroid[first:last] = (freqs[:, None] * power).sum(axis=0) / (total + 1e-20)
        out.high[first:last] = power[high_bins].sum(axis=0)
        mag = np.sqrt(power[1:]) + 1e-10
        out.flatness[first:last] = np.exp(np.log(mag).mean(axis=0)) / mag.mean(axis=0)
        out.mel[:, first:last] = mel_basis @ power
    return out


def loudness_lufs(decoded: Decoded) -> float:
    """The file's integrated loudness (LUFS), its channels weighted as BS.1770 says (a mono file
    counted once, not as two identical channels)."""
    signal = decoded.samples[:, :1] if decoded.mono_source else decoded.samples
    return integrated_loudness(signal, decoded.rate)


def integrated_loudness(samples: np.ndarray, rate: int, chunk_seconds: int = 30) -> float:
    """Integrated loudness (LUFS) per ITU-R BS.1770-4, streamed.

    pyloudnorm's `Meter.integrated_loudness` copies the whole signal and filters it in float64
    (about 2.5 times the file's decoded size at once: 280 MB for ten minutes); this applies
    pyloudnorm's own K-weighting filters chunk by chunk, carrying the filter state, and gates
    the 400 ms blocks (75% overlap) as the standard says. A unit test holds it to pyloudnorm's
    answer.

    Args:
        samples: (n, channels) float32, up to two channels (gain 1 each).
        rate: sample rate; a tenth of a second must be a whole number of samples.

    Returns:
        LUFS, or -inf for a signal below the absolute gate (-70 LUFS).
    """
    import pyloudnorm
    from scipy.signal import lfilter, lfilter_zi

    meter = pyloudnorm.Meter(rate)
    stages = [(f.b, f.a) for f in meter._filters.values()]  # K-weighting: shelf, high-pass
    step = int(round(rate * meter.block_size * (1 - meter.overlap)))  # 100 ms
    n_steps = len(samples) // step
    energy = np.zeros((samples.shape[1], n_steps))
    chunk = step * (chunk_seconds * rate // step)
    for ch in range(samples.shape[1]):
        state = [lfilter_zi(b, a) * 0.0 for b, a in stages]
        for start in range(0, n_steps * step, chunk):
            x = samples[start : min(start + chunk, n_steps * step), ch].astype(np.float64)
            for k, (b, a) in enumerate(stages):
                x, state[k] = lfilter(b, a, x, zi=state[k])
            energy[ch, start // step : start // step + len(x) // step] = (
                np.square(x).reshape(-1, step).sum(axis=1)
            )
    per_block = int(round(1 / (1 - meter.overlap)))  # 4 steps of 100 ms make a 400 ms block
    if n_steps < per_block:
        return float("-inf")
    kernel = np.ones(per_block)
    z = np.array([np.convolve(e, kernel, "valid") for e in energy]) / (per_block * step)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(z.sum(axis=0))
        above = block_lufs >= -70.0
        if not above.any():
            return float("-inf")
        relative = -0.691 + 10 * np.log10(z[:, above].mean(axis=1).sum()) - 10.0
        gated = above & (block_lufs > relative)
        return float(-0.691 + 10 * np.log10(z[:, gated].mean(axis=1).sum()))


def _spectral(frames: Frames, sounding: np.ndarray, v: dict[str, float]) -> None:
    centroid = frames.centroid[sounding]
    v["centroid_hz"] = float(centroid.mean())
    v["centroid_std_hz"] = float(centroid.std())
    v["high_band_ratio"] = float(
        frames.high[sounding].sum() / (frames.total[sounding].sum() + 1e-20)
    )
    flat = frames.flatness[sounding]
    v["flatness"] = float(flat.mean())
    rms = frames.rms[sounding]
    quiet = rms <= np.percentile(rms, 10)
    v["noise_floor_flatness"] = float(flat[quiet].mean()) if quiet.any() else float("nan")


def _rhythm(log_mel: np.ndarray, out: Description) -> None:
    import librosa

    v = out.values
    env = librosa.onset.onset_strength(S=log_mel, sr=RATE, hop_length=HOP)
    seconds = log_mel.shape[1] / FRAME_RATE
    v["spectral_flux"] = float(env.mean())
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=RATE, hop_length=HOP)
    v["onset_rate"] = float(len(onsets) / max(seconds, 1e-9))
    if env.max() <= 0:
        return
    tempogram = mean_tempogram(env)
    tempo = librosa.feature.tempo(tg=tempogram, sr=RATE, hop_length=HOP)
    tracked = _tracked(env, float(tempo[0]))
    if tracked is None:
        return
    tracked_bpm, beats = tracked
    out.tracked_tempo = tracked_bpm
    mel_f = librosa.mel_frequencies(n_mels=log_mel.shape[0], fmax=RATE / 2)
    accent = librosa.onset.onset_strength(
        S=log_mel[mel_f < ACCENT_BAND_HZ], sr=RATE, hop_length=HOP
    )
    peaks = librosa.onset.onset_detect(onset_envelope=accent, sr=RATE, hop_length=HOP)
    out.tempo_levels = score_levels(peaks, accent[peaks], tracked_bpm, FRAME_RATE)
    best = best_level(out.tempo_levels)
    bpm = tracked_bpm
    if best is not None and best.factor != 1.0:
        # the tracked tempo is precise; the beats are tracked again at the chosen level for the
        # descriptors that read them (beat strength and regularity, metre)
        bpm = tracked_bpm * best.factor
        again = _tracked(env, bpm)
        if again is not None:
            beats = again[1]
    out.tempo = bpm
    v["tempo_bpm"] = bpm
    v["tempo_distance_oct"] = float(abs(np.log2(bpm / 120.0)))
    v["beat_strength"] = float(env[beats].mean() / (env.mean() + 1e-9))
    intervals = np.diff(beats)
    v["beat_regularity"] = float(np.clip(1 - intervals.std() / intervals.mean(), 0, 1))
    lag = int(round(FRAME_RATE * 60 / bpm))
    centred = env - env.mean()
    ac = librosa.autocorrelate(centred, max_size=lag * 8 + 2)
    if ac[0] > 0 and lag < len(ac):
        v["pulse_clarity"] = float(np.clip(ac[lag] / ac[0], 0, 1))
    _meter(env, beats, out)


def _tracked(env: np.ndarray, start_bpm: float) -> tuple[float, np.ndarray] | None:
    """librosa's beat tracker from a starting tempo: the tracked beats' tempo and the beats
    (frames), or None for fewer than 8 beats."""
    import librosa

    tempo, beats = librosa.beat.beat_track(
        onset_envelope=env, sr=RATE, hop_length=HOP, bpm=start_bpm
    )
    if len(beats) < 8 or float(np.atleast_1d(tempo)[0]) <= 0:
        return None
    # The tracker's tempo is a tempogram bin (about 2.5% apart at 120 BPM); the tracked beats'
    # own period, measured over spans of up to 8 beats, is far finer.
    span = min(8, len(beats) - 1)
    period = float(np.median((beats[span:] - beats[:-span]) / span))
    return 60.0 * FRAME_RATE / period, beats


def mean_tempogram(env: np.ndarray, block: int = 4096) -> np.ndarray:
    """The time-averaged autocorrelation tempogram that `librosa.feature.tempo` builds (8 s
    windows), computed `block` frames at a time with a window's context on each side: the same
    columns, without the whole tempogram's FFT in memory (300 MB for ten minutes).

    Returns:
        A (win, 1) array to pass to `librosa.feature.tempo(tg=...)`.
    """
    import librosa

    win = int(librosa.time_to_frames(8.0, sr=RATE, hop_length=HOP))
    n = len(env)
    total = np.zeros(win)
    for a in range(0, n, block):
        b = min(a + block, n)
        lo, hi = max(0, a - win), min(n, b + win)
        tg = librosa.feature.tempogram(
            onset_envelope=env[lo:hi], sr=RATE, hop_length=HOP, win_length=win
        )
        total += tg[:, a - lo : b - lo].sum(axis=1)
    return (total / n)[:, None]


def _meter(env: np.ndarray, beats: np.ndarray, out: Description) -> None:
    """The bar length whose accent pattern repeats best over the beat-level onset strengths."""
    accents = np.array([env[b : b + 3].max() for b in beats], dtype=float)
    if len(accents) < 4 * max(METERS):
        return
    accents = (accents - accents.mean()) / (accents.std() + 1e-9)
    n = len(accents)

    def repeat(m: int) -> float:
        return float(np.mean([np.dot(accents[:-k], accents[k:]) / (n - k) for k in (m, 2 * m)]))

    scores = {m: repeat(m) for m in METERS}
    ranked = sorted(scores, key=scores.get, reverse=True)  # type: ignore[arg-type]
    best, second = ranked[0], ranked[1]
    out.meter = best
    out.values["meter_confidence"] = float(np.clip(scores[best] - scores[second], 0, 1))


def _voice(mono: np.ndarray, mel: np.ndarray, v: dict[str, float]) -> None:
    """Speech cues: syllable-rate (2-8 Hz) modulation in the voice band, pauses, ZCR spread."""
    import librosa

    # zero crossings per hop (23 ms), counted on the signal itself: librosa's framed version
    # copies the signal 4 times over (2,048-sample frames every 512)
    crossings = np.signbit(mono[1:]) != np.signbit(mono[:-1])
    n = len(crossings) // HOP * HOP
    zcr = crossings[:n].reshape(-1, HOP).mean(axis=1)
    v["zcr_std"] = float(zcr.std())
    mel_f = librosa.mel_frequencies(n_mels=mel.shape[0], fmax=RATE / 2)
    band = (mel_f >= 300) & (mel_f <= 3400)
    envelope = np.sqrt(mel[band].sum(axis=0))
    rms = np.sqrt(mel.sum(axis=0))
    v["low_energy_share"] = float((rms < 0.5 * rms.mean()).mean())
    win = int(FRAME_RATE * 3)  # 3 s windows: 0.33 Hz resolution
    if len(envelope) < win:
        return
    frames = librosa.util.frame(envelope, frame_length=win, hop_length=win // 2)
    frames = frames - frames.mean(axis=0, keepdims=True)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(win)[:, None], axis=0)) ** 2
    mod_f = np.fft.rfftfreq(win, 1 / FRAME_RATE)
    in_band = spectrum[(mod_f >= 2) & (mod_f <= 8)].sum(axis=0)
    total = spectrum[(mod_f >= 0.5) & (mod_f <= 20)].sum(axis=0) + 1e-20
    v["mod4hz"] = float(np.median(in_band / total))


def _key(mono: np.ndarray, out: Description) -> None:
    """Key and mode: the mean constant-Q chroma's correlation with the 24 rotated key profiles
    (`KEY_PROFILE`; constant-Q resolves the low notes an STFT smears)."""
    profile = mean_chroma(mono)
    if profile is None:
        return
    corr = key_correlations(profile)  # corr[mode, tonic]
    order = np.argsort(corr, axis=None)[::-1]
    mode, tonic = np.unravel_index(order[0], corr.shape)
    out.key = (int(tonic), int(mode))
    v = out.values
    v["key_clarity"] = float(corr[mode, tonic])
    v["key_margin"] = float(corr.flat[order[0]] - corr.flat[order[1]])
    v["major_clarity"] = float(corr[1].max() - corr[0].max())


def key_correlations(profile: np.ndarray, name: str = KEY_PROFILE) -> np.ndarray:
    """(2, 12) correlations of a mean chroma with the minor (row 0) and major (row 1) key
    profiles `name` of `KEY_PROFILES`, rotated to each tonic."""
    major, minor = (np.asarray(p) for p in KEY_PROFILES[name])
    return np.array(
        [[np.corrcoef(profile, np.roll(p, k))[0, 1] for k in range(12)] for p in (minor, major)]
    )


def mean_chroma(mono: np.ndarray) -> np.ndarray | None:
    """The file's mean constant-Q chroma (12 values), or None when it has none."""
    import librosa

    # In one-minute pieces (whole hops apart), so that a long file's constant-Q transform never
    # sits in memory at once; the mean chroma is the same up to the pieces' edges.
    piece = KEY_HOP * int(60 * RATE / KEY_HOP)
    starts = list(range(0, len(mono), piece))
    if len(starts) > 1 and len(mono) - starts[-1] < piece // 2:
        starts.pop()  # a short tail joins the piece before it
    ends = [*starts[1:], len(mono)]
    if not starts:
        return None
    # The tuning (the offset of the recording's A from 440 Hz) is the file's: estimated once, on
    # the middle piece, where `chroma_cqt` would estimate it again for every piece (a quarter of
    # the key's time; the same keys on the test songs, clarity within 0.001).
    middle = len(starts) // 2
    tuning = librosa.estimate_tuning(
        y=mono[starts[middle] : ends[middle]], sr=RATE, bins_per_octave=CHROMA_BINS
    )
    sums, frames = np.zeros(12), 0
    for start, end in zip(starts, ends, strict=True):
        part = mono[start:end]
        chroma = librosa.feature.chroma_cqt(
            y=part, sr=RATE, hop_length=KEY_HOP, bins_per_octave=CHROMA_BINS, tuning=tuning
        )
        sums += chroma.sum(axis=1)
        frames += chroma.shape[1]
    if not frames:
        return None
    profile = sums / frames
    if not np.isfinite(profile).all() or profile.std() == 0:
        return None
    return profile

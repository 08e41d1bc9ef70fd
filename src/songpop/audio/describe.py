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
    "tempo_bpm": "the tracked beats' tempo, BPM (the median period over spans of 8 beats)",
    "tempo_distance_oct": "distance of that tempo from 120 BPM, in octaves",
    "beat_strength": "onset strength on the tracked beats over the mean onset strength",
    "pulse_clarity": "onset-envelope autocorrelation at the beat period (0-1)",
    "beat_regularity": "1 minus the coefficient of variation of the beat intervals (0-1)",
    "centroid_hz": "mean spectral centroid of the sounding frames, Hz",
    "flatness": "mean spectral flatness (0 = tonal, 1 = noise)",
    "high_band_ratio": "share of the energy above 4 kHz",
    "zcr_std": "standard deviation of the frame zero-crossing rate",
    "low_energy_share": "share of frames below half the mean RMS (pauses between words)",
    "mod4hz": "share of the voice band's envelope modulation between 2 and 8 Hz",
    "centroid_std_hz": "standard deviation of the spectral centroid over frames, Hz",
    "key_clarity": "correlation of the chroma with the best key profile (Krumhansl-Kessler)",
    "key_margin": "that correlation minus the best other key's",
    "major_clarity": "best major-key correlation minus best minor-key correlation",
    "meter_confidence": "how much the chosen bar length's accent pattern beats the next one",
    "noise_floor_flatness": "spectral flatness of the quietest tenth of sounding frames",
    "sounding_share": "share of frames louder than -70 dBFS",
}

# Krumhansl & Kessler (1982) key profiles, C major and C minor.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
KEY_HOP = 4096
"""Chroma frames for the key every 0.19 s: a key is a property of seconds, not of frames."""
METERS: tuple[int, ...] = (3, 4, 5)
"""Bar lengths (beats) tried for the time signature; Spotify reports 3 to 7."""


@dataclass
class Description:
    """What `describe` found.

    Attributes:
        values: descriptor name → value (NaN where it cannot be computed, e.g. in silence).
        silent: no frame louder than `SILENCE_DBFS`.
        tempo: beats per minute from the beat tracker, or None.
        key: (pitch class, mode) of the best key profile, or None.
        meter: beats per bar of the strongest accent pattern, or None.
    """

    values: dict[str, float] = field(default_factory=dict)
    silent: bool = False
    tempo: float | None = None
    key: tuple[int, int] | None = None
    meter: int | None = None


def describe(decoded: Decoded) -> Description:
    """Compute every descriptor of `DESCRIPTORS` for a decoded file.

    Args:
        decoded: the signal (`songpop.audio.decode.decode`).

    Returns:
        The descriptors, with the tempo, key and metre they imply.
    """
    import librosa

    out = Description(values={name: float("nan") for name in DESCRIPTORS})
    v = out.values
    mono = decoded.mono
    power = np.abs(librosa.stft(mono, n_fft=N_FFT, hop_length=HOP)) ** 2
    frame_rms = np.sqrt(power.sum(axis=0) * 2 / N_FFT**2 / 0.375)  # Hann window power gain
    rms_db = 20 * np.log10(np.maximum(frame_rms, 1e-10))
    sounding = rms_db > SILENCE_DBFS
    v["sounding_share"] = float(sounding.mean()) if len(sounding) else 0.0
    if not sounding.any():
        out.silent = True
        return out
    _loudness(decoded, v)
    snd_db = rms_db[sounding]
    v["rms_db"] = float(20 * np.log10(np.mean(frame_rms[sounding])))
    v["dynamic_range_db"] = float(np.percentile(snd_db, 95) - np.percentile(snd_db, 10))
    _spectral(power, frame_rms, sounding, v)
    mel = librosa.feature.melspectrogram(S=power, sr=RATE, n_mels=64, fmax=RATE / 2)
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    _rhythm(log_mel, out)
    _voice(mono, mel, v)
    _key(mono, out)
    return out


def _loudness(decoded: Decoded, v: dict[str, float]) -> None:
    import pyloudnorm

    meter = pyloudnorm.Meter(decoded.rate)  # K-weighting, 400 ms blocks, gated
    signal = decoded.samples[:, :1] if decoded.mono_source else decoded.samples
    value = float(meter.integrated_loudness(signal.astype(np.float64)))
    v["loudness_lufs"] = value if np.isfinite(value) else float("nan")


def _spectral(
    power: np.ndarray, frame_rms: np.ndarray, sounding: np.ndarray, v: dict[str, float]
) -> None:
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    p = power[:, sounding]
    total = p.sum(axis=0) + 1e-20
    centroid = (freqs[:, None] * p).sum(axis=0) / total
    v["centroid_hz"] = float(centroid.mean())
    v["centroid_std_hz"] = float(centroid.std())
    v["high_band_ratio"] = float(p[freqs >= 4000].sum() / total.sum())
    mag = np.sqrt(p[1:]) + 1e-10  # flatness on magnitudes, DC left out
    flat = np.exp(np.log(mag).mean(axis=0)) / mag.mean(axis=0)
    v["flatness"] = float(flat.mean())
    quiet = frame_rms[sounding] <= np.percentile(frame_rms[sounding], 10)
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
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=RATE, hop_length=HOP)
    if len(beats) < 8 or float(np.atleast_1d(tempo)[0]) <= 0:
        return
    # The tracker's tempo is a tempogram bin (about 2.5% apart at 120 BPM); the tracked beats'
    # own period, measured over spans of up to 8 beats, is far finer.
    span = min(8, len(beats) - 1)
    period = float(np.median((beats[span:] - beats[:-span]) / span))
    bpm = 60.0 * FRAME_RATE / period
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

    zcr = librosa.feature.zero_crossing_rate(mono, frame_length=N_FFT, hop_length=HOP)[0]
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
    """Key and mode: the mean constant-Q chroma's correlation with the 24 rotated
    Krumhansl-Kessler profiles (constant-Q resolves the low notes an STFT smears)."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=mono, sr=RATE, hop_length=KEY_HOP)
    profile = chroma.mean(axis=1)
    if not np.isfinite(profile).all() or profile.std() == 0:
        return
    corr = np.array(
        [[np.corrcoef(profile, np.roll(p, k))[0, 1] for k in range(12)] for p in (_MINOR, _MAJOR)]
    )  # corr[mode, tonic]
    order = np.argsort(corr, axis=None)[::-1]
    mode, tonic = np.unravel_index(order[0], corr.shape)
    out.key = (int(tonic), int(mode))
    v = out.values
    v["key_clarity"] = float(corr[mode, tonic])
    v["key_margin"] = float(corr.flat[order[0]] - corr.flat[order[1]])
    v["major_clarity"] = float(corr[1].max() - corr[0].max())

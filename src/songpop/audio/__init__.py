"""songpop listens: an audio file's features, measured or estimated, each marked as such.

`analyze(path) -> SongFeatures`. Stages: `decode` (file → stereo float32 at 22,050 Hz), `tags`
(mutagen), `describe` (named descriptors from one STFT), `estimate` (the documented, uncalibrated
mappings to Spotify's 0-1 features) and `analyze` (the measured features and the record).
Importing this package loads no audio library.
"""

from __future__ import annotations

from songpop.audio.analyze import SongFeatures, Value, analyze
from songpop.audio.decode import AUDIO_SUFFIXES, is_audio_path

__all__ = ["AUDIO_SUFFIXES", "SongFeatures", "Value", "analyze", "is_audio_path"]

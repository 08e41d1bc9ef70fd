"""songpop: learn what makes songs popular from chart and audio-feature data, and predict it.

The names a notebook needs, each loaded on first use so that `import songpop` stays cheap
(docs/python-api.md shows them at work):

- `load_bundle(folder)`: a saved model (`songpop.bundle.store.load_bundle`).
- `predict(records, bundle)`: levels and probabilities (`songpop.inference.core.predict`).
- `score_file(in_path, out_path, bundle)`: a CSV or Parquet file (`songpop.inference.batch`).
- `analyze(path)`: an audio file's features, each with its source (`songpop.audio.analyze`).
- `lookup(title_or_link, artist)`: songs of the local catalogue
  (`songpop.inference.inputs.find.list_candidates`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from songpop.audio.analyze import analyze
    from songpop.bundle.store import load_bundle
    from songpop.inference.batch import score_file
    from songpop.inference.core import predict
    from songpop.inference.inputs.find import list_candidates as lookup

_LAZY = {  # name → (module, its name there)
    "analyze": ("songpop.audio.analyze", "analyze"),
    "load_bundle": ("songpop.bundle.store", "load_bundle"),
    "lookup": ("songpop.inference.inputs.find", "list_candidates"),
    "predict": ("songpop.inference.core", "predict"),
    "score_file": ("songpop.inference.batch", "score_file"),
}

__all__ = ["__version__", "analyze", "load_bundle", "lookup", "predict", "score_file"]


def __getattr__(name: str) -> Any:
    """The public functions, imported when first asked for (`import songpop` loads no library)."""
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'songpop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

"""Trained models on disk.

- `store`: one bundle folder — save, load, verify (`save_bundle`, `load_bundle`, `Bundle`).
- `catalog`: a run's models folder — `index.json`, the default model, `runs/LATEST`, the
  songpop home's record of finished runs (`resolve_model`, `register_run`, `list_bundles`,
  `update_index`, `choose_default`).
"""

from songpop.bundle.models_index import (
    INDEX_FILE,
    LATEST_FILE,
    choose_default,
    find_run,
    last_run,
    list_bundles,
    new_song_parts,
    read_index,
    register_run,
    resolve_model,
    set_run_default,
    update_index,
)
from songpop.bundle.store import (
    ESTIMATOR_FILE,
    META_FILE,
    REFERENCE_SAMPLE_FILE,
    Bundle,
    load_bundle,
    read_meta,
    reference_stats,
    save_bundle,
    sha256_file,
    verify_bundle,
    verify_files,
)

__all__ = [
    "ESTIMATOR_FILE",
    "INDEX_FILE",
    "LATEST_FILE",
    "META_FILE",
    "REFERENCE_SAMPLE_FILE",
    "Bundle",
    "choose_default",
    "find_run",
    "last_run",
    "list_bundles",
    "load_bundle",
    "new_song_parts",
    "read_index",
    "read_meta",
    "reference_stats",
    "register_run",
    "resolve_model",
    "save_bundle",
    "set_run_default",
    "sha256_file",
    "update_index",
    "verify_bundle",
    "verify_files",
]

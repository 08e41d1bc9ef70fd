"""Reusing a stage of an earlier run whose inputs and settings have not changed.

Every stage of `songpop run` has a key: the sha256 of its name, its settings, the keys of the
stages it reads from (or the fingerprint of the raw data files), and songpop's own code (every
module's source: a changed line makes every key new). A run records its keys in
`runs/<run>/stages.json`; before running a stage, `songpop run` looks for a finished earlier run
with the same key and, when it finds one, links that run's outputs into the new run folder (hard
links: nothing is copied, and since every output is written atomically, by rename, a later
write never changes a file another run links to) instead of recomputing them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from songpop.io import write_json_atomic

STAGES_FILE = "stages.json"


@lru_cache(maxsize=1)
def code_version() -> str:
    """The sha256 of songpop's source files (modules, templates, the page)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".css", ".html", ".js") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def data_fingerprint(folder: Path) -> list[list[Any]]:
    """Each file of a raw data folder: relative path, size and modification time (ns); the
    folders songpop writes there itself (hidden ones, e.g. the catalogue cache) are left out."""
    folder = Path(folder)
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            stat = path.stat()
            out.append([rel.as_posix(), stat.st_size, stat.st_mtime_ns])
    return out


def stage_key(stage: str, **inputs: Any) -> str:
    """The key of a stage: its name, its inputs and settings, and songpop's code."""
    blob = json.dumps(
        {"stage": stage, "inputs": inputs, "code": code_version()}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def read_stages(run_dir: Path) -> dict[str, Any]:
    """A run's stage records (empty when it has none or they cannot be read)."""
    path = Path(run_dir) / STAGES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_reusable(
    runs_root: Path, current: Path, stage: str, key: str, outputs: Iterable[str]
) -> Path | None:
    """The newest earlier run whose `stage` has this key and still holds all its outputs."""
    outputs = list(outputs)
    runs = sorted((p for p in Path(runs_root).iterdir() if p.is_dir()), reverse=True)
    for run in runs:
        if run.resolve() == Path(current).resolve():
            continue
        record = read_stages(run).get(stage)
        if record and record.get("key") == key and all((run / o).exists() for o in outputs):
            return run
    return None


def link_outputs(source: Path, target: Path, outputs: Iterable[str]) -> None:
    """Hard-link each output (file or folder) of `source` into `target` (a copy where a link
    cannot be made, e.g. across file systems)."""
    for name in outputs:
        src, dst = Path(source) / name, Path(target) / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, copy_function=_link_or_copy)
        else:
            if dst.exists():
                dst.unlink()
            _link_or_copy(src, dst)


def _link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def record_stage(
    run_dir: Path, stage: str, key: str, seconds: float, reused_from: str | None
) -> None:
    """Add one stage's record to `stages.json` (atomically)."""
    records = read_stages(run_dir)
    records[stage] = {"key": key, "seconds": round(seconds, 3), "reused_from": reused_from}
    write_json_atomic(records, Path(run_dir) / STAGES_FILE)

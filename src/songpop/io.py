"""Atomic writes: a reader never sees a half-written file; a failure leaves no partial output.

Every temporary file or folder is named after the process that made it
(`.<name>.<pid>.<random>.tmp`, `.build-<pid>-<random>`), next to what it will replace. A process
killed outright (SIGKILL, a power cut) cannot remove its own; the next write to the same place
removes those of processes that no longer run (`sweep_orphans`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

_ORPHAN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^./]+\.tmp$|^\.build-(?P<bpid>\d+)-[^/]+$")


def temp_prefix(name: str) -> str:
    """The prefix of a temporary file or folder that will replace `name`: `.<name>.<pid>.`."""
    return f".{name}.{os.getpid()}."


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def replace_dir(new: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Put the finished folder `new` at `target`, replacing a folder there as a whole.

    The old folder is first renamed aside (`.<name>.<pid>.old.tmp`), then `new` takes its
    place, then the old one is removed: a reader sees the old folder or the new one, never a
    mix. A process killed between the two renames leaves no `target`; `recover_dir` (run by
    the next writer) puts the old folder back.
    """
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = target.with_name(f"{temp_prefix(target.name)}old.tmp")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_dir(target: str | os.PathLike[str]) -> None:
    """Undo what a killed `replace_dir` left: the old folder back where it was, when it is gone.

    Then every temporary file or folder that a dead process left beside `target` is removed.
    """
    target = Path(target)
    if not target.exists():
        for entry in sorted(target.parent.glob(f".{target.name}.*.old.tmp")):
            match = _ORPHAN.match(entry.name)
            if match and match["name"] == target.name and not pid_alive(int(match["pid"])):
                os.replace(entry, target)
                break
    sweep_orphans(target.parent, target.name)


def sweep_orphans(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove the temporary files and folders that dead processes left in `folder`.

    Args:
        folder: where to look.
        name: only those made to replace this name (`.<name>.<pid>.*.tmp`); None: every one,
            staging folders (`.build-<pid>-*`) included.

    Returns:
        What was removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _ORPHAN.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        pid = int(match["pid"] or match["bpid"])
        if pid_alive(pid):
            continue
        target = Path(entry.path)
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(target)
            else:
                target.unlink()
            removed.append(target)
    return removed


def umask() -> int:
    """The process's file-mode creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str | os.PathLike[str], path: Path) -> None:
    """Give the temporary file ordinary permissions (mkstemp makes it 0600), then rename it."""
    os.chmod(tmp, 0o666 & ~umask())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to `path`; on success it replaces `path`, on error it is removed.

    Args:
        path: the final file.
        mode: "w" (text) or "wb" (binary).
        **kwargs: passed to `open` (e.g. encoding, newline).

    Yields:
        The open temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_orphans(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Give a temporary path next to `path` for a library that writes by file name.

    On success the temporary file replaces `path`; on error it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_orphans(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_parquet_atomic(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write `df` to Parquet atomically and return the path."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write `df` to CSV atomically and return the path."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        df.to_csv(handle, index=False)
    return Path(path)


def write_json_atomic(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write `obj` as indented JSON atomically and return the path."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, default=str, sort_keys=False)
        handle.write("\n")
    return Path(path)


def json_safe(value: Any) -> Any:
    """Turn numpy scalars/arrays and tuples into plain JSON types, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


JSON_MAX_DEPTH = 64
"""Deepest nesting of arrays and objects songpop reads from a JSON document (bundle.json,
`--json` records, provider answers); none of songpop's own is deeper than 8."""


def loads_limited(data: str | bytes, *, max_bytes: int, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Parse JSON text no longer than `max_bytes` and nested no deeper than `max_depth`.

    Raises:
        ValueError: too large, too deep, or not JSON; the message says which (callers prefix
            the file or answer it came from).
    """
    if len(data) > max_bytes:
        raise ValueError(f"{len(data):,} bytes; at most {max_bytes:,} are read")
    try:
        document = json.loads(data)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    depth = json_depth(document, stop=max_depth + 1)
    if depth > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    return document


def json_depth(document: Any, stop: int = 1 << 30) -> int:
    """How deeply arrays and objects nest in a parsed document (a scalar: 0), counted without
    recursion; stops counting past `stop`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            items: Any = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest >= stop:
            return deepest
        stack.extend((item, depth) for item in items if isinstance(item, dict | list))
    return deepest

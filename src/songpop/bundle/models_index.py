"""The catalogue of a run's models: `index.json`, the default model and `runs/LATEST`.

A models folder (`runs/<run>/models`) holds one bundle per (task, feature set, model) and an
`index.json` that lists them with their scores and names the default model. `runs/LATEST` names
the last finished run. Saving and loading one bundle is `songpop.bundle.store`'s job; this
module only reads and writes the catalogue around them.

The default model of a task is chosen by a rule that gives the same answer for the same data and
seed on any machine (`choose_default`): the best audio-only model by cross-validated accuracy
among those fast to serve — the bundles scored through a checked ONNX graph
(`songpop.bundle.compiled`), whose single prediction takes a fraction of a millisecond where
the estimator's own path takes several (`make bench`, `bench_scoring`) — unless that gives up
more than `config.SERVING_TOLERANCE` of cross-validated accuracy, in which case the best model
is kept and the reason says so. Measured timings are reported, never used to choose.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock

from songpop import config
from songpop.bundle.store import META_FILE, read_meta
from songpop.errors import BundleError
from songpop.io import write_json_atomic

log = logging.getLogger(__name__)

INDEX_FILE = "index.json"
LATEST_FILE = "LATEST"
LOCK_FILE = ".index.lock"
LOCK_TIMEOUT_S = 120.0
"""How long a writer waits for another to finish with index.json before giving up."""


def list_bundles(models_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Describe every bundle below `models_dir` without loading the estimators.

    Args:
        models_dir: a folder of bundle folders (e.g. `runs/<run>/models`), searched recursively.

    Returns:
        One dict per bundle, sorted by path: path, model_id, task, label_strategy,
        feature_set, classes, created, metrics, `default` (True for the folder's default
        model per its index.json) and `scored_by` ("onnx" or "estimator"). A
        folder whose bundle.json is unreadable is listed with an `error`.
    """
    models_dir = Path(models_dir)
    default = None
    with contextlib.suppress(BundleError):
        default = _default_from_index(models_dir, read_index(models_dir))
    rows = []
    for meta_path in sorted(models_dir.rglob(META_FILE)):
        folder = meta_path.parent
        if any(part.startswith(".") for part in folder.relative_to(models_dir).parts):
            continue  # a bundle being written or replaced
        try:
            meta = read_meta(folder)
        except BundleError as exc:
            rows.append({"path": str(folder), "error": str(exc)})
            continue
        rows.append(
            {
                "path": str(folder),
                "model_id": meta["model_id"],
                "task": meta.get("task"),
                "label_strategy": meta["label_strategy"],
                "feature_set": meta["feature_set"],
                "classes": meta["classes"],
                "created": meta.get("created"),
                "metrics": meta.get("metrics", {}),
                "default": default is not None and folder.resolve() == default.resolve(),
                "scored_by": "onnx" if (meta.get("layout") or {}).get("onnx") else "estimator",
            }
        )
    return rows


def resolve_model(
    path_or_none: str | os.PathLike[str] | None = None, task: str | None = None
) -> Path:
    """The bundle folder to use: the given one, else the default model of the last run.

    The last run is found by `last_run` (from any folder: `songpop run` registers each
    finished run in the songpop home); its `models/index.json` holds `{"default": <bundle id
    or path relative to models/>, ...}`.

    Args:
        path_or_none: a bundle folder, a run folder or its `models` folder (its default
            model), `latest` (the last run's default), a model id as `songpop models list`
            prints it ("seed/audio/lgbm", of the last run), the same led by a run's name
            ("20261202-173533/seed/audio/lgbm", or "latest/seed/audio/lgbm"), or None.
        task: without a bundle named, the default model of this task ("seed") instead of the
            run's default.

    Returns:
        The bundle folder.

    Raises:
        BundleError: there is no such bundle, or no run yet; the message says where it looked
            and how to fix it.
    """
    if path_or_none is None or str(path_or_none).strip().lower() == "latest":
        models_dir = _latest_models_dir(required=True)
        assert models_dir is not None
        return _default_from_index(models_dir, task=task)
    path = _through_latest_files(Path(path_or_none).expanduser())
    if (path / META_FILE).is_file():
        return path
    if (path / INDEX_FILE).is_file():
        return _default_from_index(path, task=task)
    if (path / "models" / INDEX_FILE).is_file():
        return _default_from_index(path / "models", task=task)
    if not path.is_absolute() and ".." not in path.parts and path.parts:
        by_id = _latest_models_dir()
        if by_id is not None and (by_id / path / META_FILE).is_file():
            return by_id / path
        run = find_run(path.parts[0])
        if run is not None:
            rest = Path(*path.parts[1:]) if len(path.parts) > 1 else None
            if rest is None and (run / "models" / INDEX_FILE).is_file():
                return _default_from_index(run / "models", task=task)
            if rest is not None and (run / "models" / rest / META_FILE).is_file():
                return run / "models" / rest
    raise BundleError(
        f"--model {path_or_none}: no {META_FILE} there; expected a model bundle folder, a run "
        "folder, `latest`, or a model id as `songpop models list` prints it (seed/audio/lgbm "
        "for the last run, RUN/seed/audio/lgbm for another)"
    )


def _through_latest_files(path: Path) -> Path:
    """`runs/LATEST/models/x` → `runs/<the run LATEST names>/models/x` (LATEST is a file)."""
    parts = path.parts
    for i, part in enumerate(parts):
        if part == LATEST_FILE:
            latest = Path(*parts[: i + 1])
            if latest.is_file():
                with contextlib.suppress(OSError):
                    name = latest.read_text(encoding="utf-8").strip()
                    if name and "/" not in name and name not in (".", ".."):
                        return latest.parent / name / Path(*parts[i + 1 :])
            break
    return path


REGISTRY_FILE = "runs.json"
"""In the songpop home: `{"latest": <the last finished run's folder>, "runs": {name: folder}}`."""


def register_run(run_dir: str | os.PathLike[str]) -> Path:
    """Record a finished run in the songpop home (`config.songpop_home()`) as the last run, so
    that `predict`, `serve` and `models list` find it from any folder.

    Args:
        run_dir: the run folder (stored as an absolute path).

    Returns:
        The registry file written.
    """
    home = config.songpop_home()
    home.mkdir(parents=True, exist_ok=True)
    path = home / REGISTRY_FILE
    run_dir = Path(run_dir).resolve()
    with FileLock(str(home / ".runs.lock"), timeout=LOCK_TIMEOUT_S):
        registry = _read_registry(path)
        registry["runs"][run_dir.name] = str(run_dir)
        registry["latest"] = str(run_dir)
        write_json_atomic(registry, path)
    return path


def _read_registry(path: Path) -> dict[str, Any]:
    """The home's registry; an unreadable one counts as empty (it is rewritten on the next
    run), with a warning."""
    empty: dict[str, Any] = {"latest": None, "runs": {}}
    if not path.is_file():
        return empty
    try:
        registry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s); ignored", path, exc)
        return empty
    if not isinstance(registry, dict) or not isinstance(registry.get("runs", {}), dict):
        log.warning("%s: not a songpop run registry; ignored", path)
        return empty
    latest = registry.get("latest")
    runs = {str(k): str(v) for k, v in registry.get("runs", {}).items() if isinstance(v, str)}
    return {"latest": latest if isinstance(latest, str) else None, "runs": runs}


def last_run() -> tuple[Path | None, list[str]]:
    """The last finished run's folder, and where it was looked for, in order.

    1. `$SONGPOP_RUNS_DIR/LATEST` when that variable is set (then only there);
    2. `./runs/LATEST`, the runs of the folder you stand in (a checkout after `make run`);
    3. the songpop home's registry, which every `songpop run` updates (`register_run`).

    Returns:
        (the run folder or None, the places looked at, in words).
    """
    looked: list[str] = []
    env = os.environ.get(config.RUNS_DIR_ENV)
    local = [Path(env)] if env else [Path("runs")]
    for runs in local:
        latest = runs / LATEST_FILE
        looked.append(str(latest))
        if latest.is_file():
            name = latest.read_text(encoding="utf-8").strip()
            return runs / name, looked
    if env:
        return None, looked
    registry_path = config.songpop_home() / REGISTRY_FILE
    looked.append(str(registry_path))
    registered = _read_registry(registry_path)["latest"]
    if registered:
        run = Path(registered)
        if run.is_dir():
            return run, looked
        looked[-1] += f" (it names {run}, which no longer exists)"
    return None, looked


def find_run(name: str) -> Path | None:
    """A run folder by its name (`latest` for the last run): registered in the songpop home,
    beside the last run, or in the runs folder here; None when none holds a models folder."""
    if name.lower() == "latest":
        return last_run()[0]
    if not name or name in (".", "..") or "/" in name:
        return None
    candidates = []
    registered = _read_registry(config.songpop_home() / REGISTRY_FILE)["runs"].get(name)
    if registered:
        candidates.append(Path(registered))
    last = last_run()[0]
    if last is not None:
        candidates.append(last.parent / name)
    candidates.append(config.runs_dir() / name)
    for candidate in candidates:
        if (candidate / "models").is_dir():
            return candidate
    return None


def _latest_models_dir(required: bool = False) -> Path | None:
    """The last finished run's models folder, or None when there is none (an error saying
    where it looked and the two ways to fix it when `required`)."""
    run, looked = last_run()
    if run is None:
        if not required:
            return None
        raise BundleError(
            f"no model given and no finished run found (looked in {' and '.join(looked)}); "
            "either run `songpop run` (`make run` in a checkout; it registers its run in "
            f"{config.songpop_home()}, set ${config.HOME_ENV} to move that), or pass --model "
            "with a bundle or run folder"
        )
    models_dir = run / "models"
    if not (models_dir / INDEX_FILE).is_file():
        if not required:
            return None
        raise BundleError(
            f"the last run {run.name!r} has no {models_dir / INDEX_FILE}; "
            "run `songpop run` (`make run` in a checkout) or pass --model DIR"
        )
    return models_dir


def read_index(models_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """A models folder's `index.json` (default model, its reason, every bundle's entry).

    Raises:
        BundleError: the index is missing, unreadable or not a JSON object, naming the file.
    """
    index_path = Path(models_dir) / INDEX_FILE
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{index_path}: cannot read the model index ({exc})") from exc
    if not isinstance(index, dict):
        raise BundleError(f"{index_path}: expected a JSON object, got {type(index).__name__}")
    return index


def _default_from_index(
    models_dir: Path, index: dict[str, Any] | None = None, task: str | None = None
) -> Path:
    index_path = models_dir / INDEX_FILE
    index = read_index(models_dir) if index is None else index
    default = index.get("default")
    if task is not None:
        tasks = index.get("tasks") or {}
        if task not in tasks:
            raise BundleError(
                f"{index_path}: no task {task!r} in this run; its tasks are "
                f"{', '.join(sorted(tasks)) or 'none'}"
            )
        default = tasks[task].get("default")
    if not default:
        raise BundleError(f"{index_path}: no 'default' model recorded")
    candidates = [models_dir / str(default)]
    for entry in index.get("models", []):
        if isinstance(entry, dict) and default in (entry.get("id"), entry.get("model_id")):
            if entry.get("path"):
                candidates.insert(0, models_dir / str(entry["path"]))
    for candidate in candidates:
        if (candidate / META_FILE).is_file():
            return candidate
    raise BundleError(
        f"{index_path}: default model {default!r} not found (looked for {candidates[-1]})"
    )


def update_index(
    models_dir: str | os.PathLike[str],
    task: str,
    entries: Sequence[Mapping[str, Any]],
    best: Mapping[str, str],
    *,
    set_default: bool,
) -> tuple[str, str]:
    """Merge one task's bundles into `models_dir/index.json`; return its default and why.

    Args:
        models_dir: the models folder.
        task: the task the entries belong to (its old entries are replaced).
        entries: one per bundle: `id`, `path`, `task`, `feature_set`, `model`, `cv_accuracy`,
            `accuracy`, `accuracy_ci`, `dummy_accuracy`, `best`.
        best: feature set → the id of its best model by cross-validation.
        set_default: make this task's default the folder's default.

    Returns:
        (the task's default bundle id, the sentence saying why).
    """
    models_dir = Path(models_dir)
    path = models_dir / INDEX_FILE
    models_dir.mkdir(parents=True, exist_ok=True)
    # Two `songpop train` runs into one folder must not lose each other's update: the read,
    # merge and write happen under a lock file next to the index.
    with FileLock(str(models_dir / LOCK_FILE), timeout=LOCK_TIMEOUT_S):
        return _merge_into_index(models_dir, path, task, entries, best, set_default)


def _merge_into_index(
    models_dir: Path,
    path: Path,
    task: str,
    entries: Sequence[Mapping[str, Any]],
    best: Mapping[str, str],
    set_default: bool,
) -> tuple[str, str]:
    index: dict[str, Any] = {"default": None, "models": [], "tasks": {}}
    if path.is_file():
        try:
            index.update(read_index(models_dir))
        except BundleError as exc:
            log.warning("%s; writing a new index", exc)
    kept = [e for e in index.get("models", []) if e.get("task") != task]
    ours = [dict(e) for e in entries]
    fs_default = "audio" if any(e["feature_set"] == "audio" for e in ours) else next(iter(best))
    task_default, reason = choose_default([e for e in ours if e["feature_set"] == fs_default])
    index["models"] = kept + ours
    index.pop("serving_targets", None)
    index.setdefault("tasks", {})[task] = {
        "best": dict(best),
        "default": task_default,
        "default_reason": reason,
    }
    if set_default or not index.get("default"):
        index["default"] = task_default
        index["default_reason"] = f"task {task!r}, {fs_default} features: {reason}"
    write_json_atomic(index, path)
    return task_default, reason


def set_run_default(
    models_dir: str | os.PathLike[str], default: str, reason: str, new_song: Mapping[str, Any]
) -> None:
    """Make `default` the run's default model (what every interface uses without --model) and
    record the new-song answer's parts (`new_song`: the chance-to-chart bundle, the level
    within its era, their forward-in-time figures and the rule that chose them)."""
    models_dir = Path(models_dir)
    with FileLock(str(models_dir / LOCK_FILE), timeout=LOCK_TIMEOUT_S):
        index = read_index(models_dir)
        index["default"] = default
        index["default_reason"] = reason
        index["new_song"] = dict(new_song)
        write_json_atomic(index, models_dir / INDEX_FILE)


def new_song_parts(models_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run's new-song answer (`index.json` "new_song"), or None for a run without one."""
    try:
        index = read_index(models_dir)
    except BundleError:
        return None
    parts = index.get("new_song")
    return dict(parts) if isinstance(parts, dict) else None


def choose_default(
    entries: Sequence[Mapping[str, Any]], tolerance: float = config.SERVING_TOLERANCE
) -> tuple[str, str]:
    """The default model among a task's models, and why it was chosen.

    Deterministic: it reads the cross-validated accuracy (fixed by the data and the seed) and
    whether the bundle is scored through an ONNX graph, never a timing.

    Args:
        entries: one per model: `id`, `model` (the registry name), `cv_accuracy` and
            `fast_to_serve`. The dummy baseline is never chosen.
        tolerance: the most cross-validated accuracy given up for a model that is fast to
            serve.

    Returns:
        (bundle id, a sentence saying why).
    """
    ranked = sorted(
        (e for e in entries if e.get("model") != "dummy"),
        key=lambda e: (-(e.get("cv_accuracy") or 0.0), str(e["id"])),
    )
    if not ranked:
        ranked = list(entries)
    if not ranked:
        raise ValueError("no model to choose a default from")
    best = ranked[0]

    def fast(entry: Mapping[str, Any]) -> bool:
        return bool(entry.get("fast_to_serve"))

    close = [
        e for e in ranked if fast(e) and e["cv_accuracy"] >= best["cv_accuracy"] - tolerance - 1e-12
    ]
    if not close:
        return str(best["id"]), (
            f"best by cross-validated accuracy ({best['cv_accuracy']:.4f}); no model fast to "
            f"serve comes within {100 * tolerance:g} point(s) of it, so the serving targets "
            f"(single p50 < {config.SERVING_TARGETS['single_p50_ms']:g} ms, batch >= "
            f"{config.SERVING_TARGETS['batch_rows_per_s']:,.0f} rows/s) may be missed"
        )
    chosen = close[0]
    if chosen is best:
        return str(best["id"]), (
            f"best by cross-validated accuracy ({best['cv_accuracy']:.4f}), and fast to serve "
            "(scored through its ONNX graph)"
        )
    return str(chosen["id"]), (
        f"best by cross-validated accuracy ({chosen['cv_accuracy']:.4f}) among the models fast "
        f"to serve (scored through an ONNX graph); {best['id']} scores "
        f"{best['cv_accuracy']:.4f}, at most {100 * tolerance:g} point(s) more, but has no ONNX "
        "graph and is slow to serve"
    )

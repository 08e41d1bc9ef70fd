"""Paths and named constants shared by every stage. Importing this module does no work."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path

from songpop import vocabulary as _vocabulary  # a plain table: no work on import

SEED: int = 42
"""The one random seed, passed explicitly to every splitter, estimator and torch."""

DATA_DIR_ENV = "SONGPOP_DATA_DIR"
RUNS_DIR_ENV = "SONGPOP_RUNS_DIR"
HOME_ENV = "SONGPOP_HOME"
CACHE_DIR_ENV = "SONGPOP_CACHE_DIR"

# --- features ---------------------------------------------------------------------------------
# Every feature is declared once, in `songpop.vocabulary`; these are views of that table.

# The report's inputs: ten numeric features plus `key` (one-hot to 12 columns) = 22 inputs.
AUDIO_FEATURES: tuple[str, ...] = _vocabulary.AUDIO_FEATURES
AUDIO_CATEGORICAL: tuple[str, ...] = tuple(
    n for n in AUDIO_FEATURES if _vocabulary.FEATURES[n].categorical
)
AUDIO_NUMERIC: tuple[str, ...] = tuple(n for n in AUDIO_FEATURES if n not in AUDIO_CATEGORICAL)

# Context a source may carry besides the audio; used only in the "audio + context" feature set.
# `decade` (1990 = the 1990s) stands in for the year where a source knows only the decade (the
# Hit Predictor); a model uses one of the two.
CONTEXT_FEATURES: tuple[str, ...] = _vocabulary.CONTEXT_FEATURES
HISTORY_FEATURES: tuple[str, ...] = _vocabulary.HISTORY_FEATURES
"""The artist's Hot 100 record before the release year ("audio + year + artist history")."""
TIME_FEATURES: tuple[str, ...] = _vocabulary.TIME_FEATURES
"""Context features that are calendar years: whole numbers, in years."""

# A chart song's history, aggregated from its weekly chart rows (position 1 is best).
CHART_HISTORY_COLUMNS: tuple[str, ...] = (
    "weeks_on_chart",
    "best_position",
    "avg_position",
    "avg_prev_position",
    "debut_date",
    "n_runs",
)
# Columns derived from the charts. They define labels and NEVER become model features.
CHART_COLUMNS: tuple[str, ...] = (
    "charted",
    *CHART_HISTORY_COLUMNS,
    "chart_title",
    "chart_artist",
    "match_method",
    "match_score",
)
# Label inputs that are not chart columns but must not be features either.
LABEL_COLUMN = "level"
"""The label a model learns: the level of a song table (`songpop.prepare.label`)."""
LABEL_COLUMNS: tuple[str, ...] = ("popularity", "score", "level", "hit_target")

# Valid ranges (inclusive) and units, from the vocabulary.
FEATURE_RANGES: dict[str, tuple[float, float]] = {
    n: f.bounds for n, f in _vocabulary.FEATURES.items()
}
FEATURE_UNITS: dict[str, str] = {n: f.unit for n, f in _vocabulary.FEATURES.items() if f.unit}

# --- serving ----------------------------------------------------------------------------------
# What the default model should do on the project's 2-core machine (issue 5), measured by
# `make bench` (`songpop.serving.measure_speed`). The default is chosen without timings: the best
# by cross-validation among the bundles with an ONNX graph (`songpop.bundle.models_index`).
SERVING_TARGETS: dict[str, float] = {"single_p50_ms": 2.0, "batch_rows_per_s": 200_000}
SERVING_TOLERANCE: float = 0.01
"""The most cross-validated accuracy the default may give up for speed (1 point: about two
standard errors of a 3-fold CV estimate on the seed task, half a test interval's half-width)."""

# --- labels -----------------------------------------------------------------------------------
LEVELS: tuple[str, ...] = ("low", "medium", "high")
HIT_CLASSES: tuple[str, ...] = ("not_hit", "hit")
CHART_CLASSES: tuple[str, ...] = ("not_charted", "charted")
"""The chart-chance label: did the track reach the Hot 100 (by the build's own chart match)."""
LABEL_STRATEGIES: tuple[str, ...] = ("composite", "spotify", "hit", "charted")
ERA_YEARS: int = 5
"""Width of the release cohorts the era-relative levels are cut within (1990-1994, ...)."""
FIRST_CHART_YEAR: int = 1958
"""The Hot 100 began in August 1958: a track released earlier could not have charted on it."""

# --- forward in time ----------------------------------------------------------------------------
FORWARD_ORIGINS: tuple[int, ...] = (2000, 2005, 2010, 2015)
"""Rolling origins: train on the songs released before Y, test on those released Y to Y+4."""
FORWARD_HORIZON: int = 5
FORWARD_MIN_TRAIN: int = 300
FORWARD_MIN_TEST: int = 100

# The seed profile: the original report's inputs and rules (see NOTES.md).
SEED_CHART_CUTOFF = "2021-05-29"


def data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """Where the raw data lives: `--data-dir`, else $SONGPOP_DATA_DIR, else a per-user cache.

    Args:
        cli_value: the value of a `--data-dir` option, if given.

    Returns:
        The folder (not created here).
    """
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    import pooch  # imported late: importing config must stay cheap

    return Path(pooch.os_cache("songpop"))


JOBS_ENV = "SONGPOP_JOBS"
"""Cores one fitting process may use (folds in parallel, torch threads): `songpop run` sets it
to 1 inside each of its side-by-side workers."""


def jobs(default: int) -> int:
    """`default`, or fewer when $SONGPOP_JOBS says so (at least 1)."""
    value = os.environ.get(JOBS_ENV)
    return max(1, min(default, int(value))) if value and value.isdigit() else default


def runs_dir() -> Path:
    """Where `songpop run` keeps its run folders: $SONGPOP_RUNS_DIR, else ./runs."""
    return Path(os.environ.get(RUNS_DIR_ENV, "runs"))


def songpop_home() -> Path:
    """The per-user songpop home, where `songpop run` registers its finished runs so that
    `predict`, `serve` and `models list` find them from any folder: $SONGPOP_HOME, else the
    user data folder (platformdirs: ~/.local/share/songpop on Linux, ~/Library/Application
    Support/songpop on macOS, %LOCALAPPDATA%\\songpop on Windows). Not created here."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs  # imported late: importing config must stay cheap

    return Path(platformdirs.user_data_dir("songpop", appauthor=False))


def cache_dir() -> Path:
    """Where songpop keeps what it can always make again (the catalogue index, provider
    answers): $SONGPOP_CACHE_DIR, else the per-user cache folder (platformdirs:
    ~/.cache/songpop on Linux, ~/Library/Caches/songpop on macOS). Never the data folder,
    which may be shared or read-only. Created when missing."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        folder = Path(env).expanduser()
    else:
        import platformdirs  # imported late: importing config must stay cheap

        folder = Path(platformdirs.user_cache_dir("songpop", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


FEATURE_SET_SLUGS: dict[str, str] = {
    "audio": "audio",
    "audio+context": "audio_context",
    "measured": "measured",
    "year": "year",
    "history": "history",
}
"""Each feature set's name in model ids and file names (no "+")."""

FEATURE_SET_LABELS: dict[str, str] = {
    "audio": "audio only",
    "audio+context": "audio + context",
    "measured": "measured from audio (+ year or decade)",
    "year": "year only (release year, or decade)",
    "history": "audio + year + artist history",
}
"""How each feature set is named in tables. "measured" holds only what songpop measures in an
audio file itself (`vocabulary.MEASURED_FEATURES`: duration, loudness, tempo, key, mode, time
signature) plus the year or decade a file's tags can give: what a prediction from a file rests
on when no estimate is trusted."""

TASK_TITLES: dict[str, str] = {
    "seed": "Popularity level (the original report's songs)",
    "hit": "Hit or not (Hit Predictor songs)",
    "chart": "How big a hit (songs that charted)",
    "chart_chance": "Chance to reach the Hot 100 (released tracks of six genres)",
    "seed_era": "Popularity level within its release era (the original report's songs)",
    "chart_era": "How big a hit within its release era (songs that charted)",
}
"""Each task of `songpop run` in plain words (pages, tables)."""


def usable_cores() -> int:
    """The cores this process may use: joblib's count, which honours the CPU affinity
    (`taskset`), a container's CPU quota (cgroups) and `LOKY_MAX_CPU_COUNT`, where
    `os.cpu_count()` counts the machine's (two workers on a one-core quota would halve each
    other's speed and double the memory). 1 with `JOBLIB_MULTIPROCESSING=0`, as joblib says."""
    import joblib  # imported late: importing config must stay cheap

    return max(1, int(joblib.cpu_count()))


EXTRAS: dict[str, tuple[str, str]] = {"mlp": ("torch", "PyTorch")}
"""The optional dependency groups a model may need (pyproject.toml's
`[project.optional-dependencies]`): group → (the module it provides, its name in words). The
default install leaves PyTorch out (about 850 MB with sympy, a third of songpop's install):
`make run` never fits an MLP; `songpop reproduce`, `--budget full` and `--models mlp` do."""


def extra_installed(extra: str) -> bool:
    """Whether the optional group `extra` (a key of `EXTRAS`) can be imported, without importing
    it (a module set to None in `sys.modules` counts as missing, as Python's import does; so do a
    finder that refuses it and a folder left without its code, which `find_spec` reports as a
    namespace with no origin)."""
    module = EXTRAS[extra][0]
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a finder that refuses it, or a module without a spec
        return False
    return spec is not None and spec.origin is not None


def extra_install_command(extra: str) -> str:
    """The shell command that installs the optional group `extra` into this Python: its
    packages as songpop's installed metadata pins them, else its module by name (never
    `pip install 'songpop[mlp]'`, which would fetch songpop itself from the package index, not
    the checkout a user runs)."""
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    try:
        requires = importlib.metadata.requires("songpop") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source folder, not installed
        requires = []
    pins = [r.split(";")[0].strip() for r in requires if ";" in r and marker.search(r)]
    return shlex.join([sys.executable, "-m", "pip", "install", *(pins or [EXTRAS[extra][0]])])


def missing_extra_message(what: str, extra: str, plural: bool = False) -> str:
    """`what` needs the optional group `extra`, in words, with the command that installs it."""
    return (
        f"{what} {'need' if plural else 'needs'} {EXTRAS[extra][1]}, which songpop's default "
        f"install leaves out; to add it: {extra_install_command(extra)}"
    )

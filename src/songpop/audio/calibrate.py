"""Calibration from the user's own library: songpop's descriptors paired with real values.

`songpop calibrate FOLDER --out calibration.json` analyses every audio file of a folder and pairs
what songpop hears (its descriptors and uncalibrated estimates) with real values of the same
song: offline, the local catalogue's song that the file's title and artist tags name (the
lookup's own matching rules, `songpop.inference.inputs.find.tagged_song`); with `--online`,
ReccoBeats' analysis of the file's excerpts. For each estimated feature, and for the loudness
(integrated LUFS to Spotify's dB), it then chooses among a few small mappings, each of which can
be written as plain numbers:

- `isotonic`: a monotone step-and-ramp curve of one input (the uncalibrated estimate, or one
  descriptor the estimate rests on), scikit-learn's IsotonicRegression;
- `linear`: a straight line of one input (the loudness);
- `trees`: a small gradient-boosted regressor (scikit-learn, 60 trees of depth 2) of every
  descriptor and the estimate, its trees written out node by node.

The choice is made by k-fold cross-validation inside the training pairs; the held-out R² and
mean absolute error reported for each feature come from an outer k-fold loop around that choice
(nested), so they are honest about the choosing too. A feature whose held-out R² is below
`MIN_R2` is written but not applied: `analyze` keeps its estimate. The file is JSON (never a
pickle) with its format version, the descriptor set, the library versions and the pairs' count;
before it is written, it is read back the way `analyze` reads it and must give the same values.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from songpop import vocabulary
from songpop.audio import analyze
from songpop.audio.analyze import Value
from songpop.audio.describe import DESCRIPTORS
from songpop.audio.estimate import ESTIMATES, estimate
from songpop.errors import InputError, SongpopError

if TYPE_CHECKING:
    from songpop.audio.analyze import SongFeatures

FORMAT = "songpop-calibration"
VERSION = 1
MIN_PAIRS = 20
"""Fewer pairs than this are refused: five folds of four songs say nothing."""
FOLDS = 5
MIN_R2 = 0.2
"""A mapping whose held-out R² is below this is kept in the file but not applied."""
TARGETS: tuple[str, ...] = (*vocabulary.ESTIMATED_FEATURES, "loudness")
ENV = "SONGPOP_CALIBRATION"
ESTIMATE = "estimate"
"""The input name of a feature's own uncalibrated estimate."""
TREES = {"n_estimators": 60, "max_depth": 2, "learning_rate": 0.1}


class CalibrationError(InputError):
    """A calibration cannot be made (too few pairs) or a calibration file cannot be used."""


@dataclass
class Pair:
    """One song: what songpop heard and the real values.

    Attributes:
        file: the audio file.
        inputs: descriptor name → value, and `estimate:<feature>` → the uncalibrated estimate.
        truth: feature → the real value (catalogue or ReccoBeats).
        source: where the real values came from ("catalogue:<file>" or "reccobeats").
    """

    file: str
    inputs: dict[str, float]
    truth: dict[str, float]
    source: str


def song_inputs(descriptors: dict[str, float]) -> dict[str, float]:
    """A song's calibration inputs: its descriptors and each feature's uncalibrated estimate."""

    out = {k: float(v) for k, v in descriptors.items()}
    for name, est in estimate(descriptors).items():
        out[f"{ESTIMATE}:{name}"] = float("nan") if est.value is None else float(est.value)
    return out


def _candidates(target: str) -> list[dict[str, Any]]:
    """The mappings tried for one feature (unfitted specs)."""
    if target == "loudness":
        return [{"kind": "linear", "input": "loudness_lufs"},
                {"kind": "isotonic", "input": "loudness_lufs"}]  # fmt: skip

    out: list[dict[str, Any]] = [{"kind": "isotonic", "input": f"{ESTIMATE}:{target}"}]
    out += [{"kind": "isotonic", "input": d} for d in ESTIMATES[target].descriptors]
    out.append({"kind": "trees"})
    return out


def _tree_inputs(target: str) -> list[str]:

    return [*DESCRIPTORS, f"{ESTIMATE}:{target}"]


# --- fitting: each mapping fitted with scikit-learn, then written out as plain numbers ---------


def _fit(spec: dict[str, Any], X: dict[str, np.ndarray], y: np.ndarray, target: str) -> dict:
    kind = spec["kind"]
    if kind == "linear":
        x = X[spec["input"]]
        slope, intercept = np.polyfit(x, y, 1)
        return {**spec, "slope": float(slope), "intercept": float(intercept)}
    if kind == "isotonic":
        import warnings

        from sklearn.isotonic import IsotonicRegression

        x = X[spec["input"]]
        with warnings.catch_warnings():  # "auto" warns when the direction is unclear: it is
            warnings.simplefilter("ignore", UserWarning)  # the cross-validation that judges
            iso = IsotonicRegression(increasing="auto", out_of_bounds="clip").fit(x, y)
        return {**spec, "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    from sklearn.ensemble import GradientBoostingRegressor

    names = _tree_inputs(target)
    M = np.column_stack([X[n] for n in names])
    fill = np.nanmedian(M, axis=0)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    M = np.where(np.isfinite(M), M, fill)
    gbr = GradientBoostingRegressor(**TREES, random_state=0).fit(M, y)
    trees = []
    for est in gbr.estimators_[:, 0]:
        t = est.tree_
        trees.append({
            "left": t.children_left.tolist(), "right": t.children_right.tolist(),
            "feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
            "value": t.value[:, 0, 0].tolist(),
        })  # fmt: skip
    return {"kind": "trees", "inputs": names, "fill": fill.tolist(),
            "init": float(np.mean(y)), "learning_rate": TREES["learning_rate"],
            "trees": trees}  # fmt: skip


def predict(model: dict[str, Any], X: dict[str, np.ndarray]) -> np.ndarray:
    """A written-out mapping's values for the inputs (NaN where an input it needs is NaN)."""
    kind = model["kind"]
    if kind == "linear":
        return model["slope"] * X[model["input"]] + model["intercept"]
    if kind == "isotonic":
        x = X[model["input"]]
        out = np.interp(x, model["x"], model["y"])
        return np.where(np.isfinite(x), out, np.nan)
    names = model["inputs"]
    M = np.column_stack([X[n] for n in names])
    M = np.where(np.isfinite(M), M, np.asarray(model["fill"]))
    total = np.full(len(M), model["init"], dtype=float)
    rows = np.arange(len(M))
    for tree in model["trees"]:
        left, right = np.asarray(tree["left"]), np.asarray(tree["right"])
        feature, threshold = np.asarray(tree["feature"]), np.asarray(tree["threshold"])
        node = np.zeros(len(M), dtype=int)
        while True:
            inner = left[node] != -1
            if not inner.any():
                break
            go_left = M[rows, np.maximum(feature[node], 0)] <= threshold[node]
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        total += model["learning_rate"] * np.asarray(tree["value"])[node]
    return total


def _usable(spec: dict[str, Any], X: dict[str, np.ndarray]) -> bool:
    if spec["kind"] == "trees":
        return True
    x = X.get(spec["input"])
    return x is not None and bool(np.isfinite(x).all()) and np.ptp(x) > 0


def _cv_error(spec: dict, X: dict[str, np.ndarray], y: np.ndarray, target: str, k: int) -> float:
    from sklearn.model_selection import KFold

    errors = np.empty(len(y))
    for train, test in KFold(k, shuffle=True, random_state=1).split(y):
        Xt = {n: v[train] for n, v in X.items()}
        if not _usable(spec, Xt):
            return math.inf
        model = _fit(spec, Xt, y[train], target)
        errors[test] = predict(model, {n: v[test] for n, v in X.items()}) - y[test]
    return float(np.mean(errors**2))


def _choose(X: dict[str, np.ndarray], y: np.ndarray, target: str) -> dict[str, Any]:
    k = min(FOLDS, len(y))
    specs = [s for s in _candidates(target) if _usable(s, X)]
    scores = [_cv_error(s, X, y, target, k) for s in specs]
    return _fit(specs[int(np.argmin(scores))], X, y, target)


@dataclass
class Mapping:
    """One feature's fitted mapping with its held-out quality."""

    feature: str
    model: dict[str, Any]
    pairs: int
    r2: float
    mae: float

    @property
    def applied(self) -> bool:
        """Used by `analyze` (held-out R² at least `MIN_R2`)."""
        return self.r2 >= MIN_R2


def fit_feature(pairs: list[Pair], target: str, folds: int = FOLDS) -> Mapping | None:
    """Choose and fit one feature's mapping; its held-out R² and MAE from nested k-fold."""
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import KFold

    kept = [p for p in pairs if math.isfinite(p.truth.get(target, math.nan))]
    if len(kept) < MIN_PAIRS:
        return None
    names = sorted({n for p in kept for n in p.inputs})
    X = {n: np.array([p.inputs.get(n, math.nan) for p in kept], dtype=float) for n in names}
    y = np.array([p.truth[target] for p in kept], dtype=float)
    held = np.empty(len(y))
    for train, test in KFold(folds, shuffle=True, random_state=0).split(y):
        model = _choose({n: v[train] for n, v in X.items()}, y[train], target)
        guess = predict(model, {n: v[test] for n, v in X.items()})
        fallback = X.get(f"{ESTIMATE}:{target}", X.get("loudness_lufs"))
        held[test] = np.where(np.isfinite(guess), guess, fallback[test])
    held = np.where(np.isfinite(held), held, float(np.mean(y)))
    model = _choose(X, y, target)
    r2, mae = float(r2_score(y, held)), float(mean_absolute_error(y, held))
    return Mapping(target, model, len(kept), round(r2, 4), round(mae, 4))


@dataclass
class Calibration:
    """Fitted mappings, as written to and read from a calibration file.

    Attributes:
        mappings: feature → its mapping (also those not applied, below `MIN_R2`).
        pairs: how many songs were paired.
        source: "catalogue" or "reccobeats".
        file: where it was read from (None before it is written).
        meta: the file's other fields (versions, descriptor set, folds, when).
    """

    mappings: dict[str, Mapping]
    pairs: int
    source: str
    file: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The file's content (JSON-ready)."""

        return {
            "format": FORMAT, "version": VERSION, "pairs": self.pairs, "source": self.source,
            "folds": FOLDS, "min_r2": MIN_R2, "descriptor_set": list(DESCRIPTORS),
            "libraries": _versions(), **{k: v for k, v in self.meta.items() if k == "created"},
            "features": {
                name: {"pairs": m.pairs, "held_out": {"r2": m.r2, "mae": m.mae},
                       "applied": m.applied, "model": m.model}
                for name, m in self.mappings.items()
            },
        }  # fmt: skip

    def apply(self, song: SongFeatures) -> SongFeatures:
        """Replace the song's estimates (and measured loudness) by the applied mappings'
        values, in place, each marked `calibrated` with its held-out error."""

        X = {k: np.array([v]) for k, v in song_inputs(song.descriptors).items()}
        where = Path(self.file).name if self.file else "the calibration"
        song.calibration = {"file": self.file, "pairs": self.pairs, "source": self.source}
        for name, m in self.mappings.items():
            current = song.features.get(name)
            if current is None or current.value is None:
                continue
            if not m.applied:
                note = (f"{current.note + '; ' if current.note else ''}{where}: held-out R² "
                        f"{m.r2:.2f} < {MIN_R2}, not applied")  # fmt: skip
                song.features[name] = Value(current.value, current.source, current.basis,
                                            current.confidence, note)  # fmt: skip
                continue
            got = float(predict(m.model, {n: X.get(n, np.array([np.nan])) for n in _needs(m)})[0])
            if not math.isfinite(got):
                continue
            low, high = vocabulary.FEATURES[name].bounds
            basis = tuple(_needs(m)) if m.model["kind"] != "trees" else ("descriptors",)
            song.features[name] = Value(
                round(min(max(got, low), high), 4), "calibrated", basis,
                note=f"{where}: {m.model['kind']} mapping fitted on {m.pairs} pairs "
                f"({self.source}); held-out R² {m.r2:.2f}, MAE {m.mae:.3g}",
                error=m.mae,
            )  # fmt: skip
        return song


def _needs(m: Mapping) -> list[str]:
    return list(m.model["inputs"]) if m.model["kind"] == "trees" else [m.model["input"]]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("songpop", "numpy", "scikit-learn", "librosa"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def fit_calibration(pairs: list[Pair], source: str) -> Calibration:
    """Fit every target's mapping from the pairs.

    Raises:
        CalibrationError: fewer than `MIN_PAIRS` pairs.
    """
    if len(pairs) < MIN_PAIRS:
        raise CalibrationError(f"{len(pairs)} pairs found; a calibration needs at least "
                               f"{MIN_PAIRS}")  # fmt: skip
    mappings = {}
    for target in TARGETS:
        fitted = fit_feature(pairs, target)
        if fitted is not None:
            mappings[target] = fitted
    import datetime as dt

    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Calibration(mappings, len(pairs), source, meta={"created": created})


# --- reading and writing -------------------------------------------------------------------


def _fail(where: str, field: str, expected: str) -> CalibrationError:
    return CalibrationError(f"{where}: {field}: expected {expected}")


def _numbers(value: Any, where: str, name: str, length: int | None = None) -> list[float]:
    ok = isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )
    if not ok or (length is not None and len(value) != length) or not value:
        size = f" of {length}" if length is not None else ""
        raise _fail(where, name, f"a non-empty list{size} of finite numbers")
    return [float(v) for v in value]


def _check_model(model: Any, where: str, name: str) -> dict[str, Any]:

    known = {*DESCRIPTORS, *(f"{ESTIMATE}:{f}" for f in vocabulary.ESTIMATED_FEATURES)}
    if not isinstance(model, dict) or model.get("kind") not in ("linear", "isotonic", "trees"):
        raise _fail(where, f"{name}.kind", "'linear', 'isotonic' or 'trees'")
    inputs = model.get("inputs") if model["kind"] == "trees" else [model.get("input")]
    if not isinstance(inputs, list) or not inputs or not all(i in known for i in inputs):
        some = ", ".join(sorted(DESCRIPTORS)[:3])
        raise _fail(where, f"{name}.input", f"descriptors songpop computes ({some}, ...) or "
                    "estimate:<feature>")  # fmt: skip
    if model["kind"] == "linear":
        for key in ("slope", "intercept"):
            _numbers([model.get(key)], where, f"{name}.{key}")
    elif model["kind"] == "isotonic":
        x = _numbers(model.get("x"), where, f"{name}.x")
        _numbers(model.get("y"), where, f"{name}.y", len(x))
        if any(b < a for a, b in zip(x, x[1:], strict=False)):
            raise _fail(where, f"{name}.x", "increasing numbers")
    else:
        _numbers(model.get("fill"), where, f"{name}.fill", len(inputs))
        _numbers([model.get("init"), model.get("learning_rate")], where, f"{name}.init")
        trees = model.get("trees")
        if not isinstance(trees, list) or not trees:
            raise _fail(where, f"{name}.trees", "a non-empty list of trees")
        for i, tree in enumerate(trees):
            _check_tree(tree, len(inputs), where, f"{name}.trees[{i}]")
    return model


def _check_tree(tree: Any, n_inputs: int, where: str, name: str) -> None:
    if not isinstance(tree, dict):
        raise _fail(where, name, "a tree object")
    left = _numbers(tree.get("left"), where, f"{name}.left")
    n = len(left)
    right = _numbers(tree.get("right"), where, f"{name}.right", n)
    feature = _numbers(tree.get("feature"), where, f"{name}.feature", n)
    _numbers(tree.get("threshold"), where, f"{name}.threshold", n)
    _numbers(tree.get("value"), where, f"{name}.value", n)
    for i in range(n):  # children come after their parent: no cycle, every index in range
        if (left[i] == -1) != (right[i] == -1):
            raise _fail(where, f"{name} node {i}", "both children or none")
        if left[i] != -1 and not (i < left[i] < n and i < right[i] < n):
            raise _fail(where, f"{name} node {i}", "children after their parent, within the tree")
        if left[i] != -1 and not 0 <= feature[i] < n_inputs:
            raise _fail(where, f"{name} node {i}.feature", f"an input index below {n_inputs}")


def from_json(doc: Any, where: str) -> Calibration:
    """A calibration from a file's parsed content, every field checked.

    Raises:
        CalibrationError: naming the file and the field that is wrong.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(where, "format", f"{FORMAT!r} (a file written by songpop calibrate)")
    if doc.get("version") != VERSION:
        raise _fail(where, "version", f"{VERSION} (this songpop reads version {VERSION}; "
                    f"the file says {doc.get('version')!r}: calibrate again)")  # fmt: skip
    pairs = doc.get("pairs")
    if not isinstance(pairs, int) or isinstance(pairs, bool) or pairs < 1:
        raise _fail(where, "pairs", "a positive whole number")
    features = doc.get("features")
    if not isinstance(features, dict):
        raise _fail(where, "features", "an object of feature → mapping")
    mappings = {}
    for name, entry in features.items():
        if name not in TARGETS:
            raise _fail(where, f"features.{name}", "one of " + ", ".join(TARGETS))
        if not isinstance(entry, dict) or not isinstance(entry.get("held_out"), dict):
            raise _fail(where, f"features.{name}.held_out", "an object with r2 and mae")
        r2, mae = _numbers([entry["held_out"].get("r2"), entry["held_out"].get("mae")], where,
                           f"features.{name}.held_out")  # fmt: skip
        count = entry.get("pairs")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise _fail(where, f"features.{name}.pairs", "a positive whole number")
        model = _check_model(entry.get("model"), where, f"features.{name}.model")
        mappings[name] = Mapping(name, model, count, r2, mae)
    meta = {k: v for k, v in doc.items() if k not in ("features", "pairs", "source")}
    return Calibration(mappings, pairs, str(doc.get("source", "?")), where, meta)


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read a calibration file (see `from_json`).

    Raises:
        CalibrationError: missing, not JSON, or a field that is wrong (named).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{p}: cannot read the calibration file "
                               f"({exc.strerror or type(exc).__name__})") from None  # fmt: skip
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CalibrationError(f"{p}: not JSON ({exc}); expected a file written by songpop "
                               "calibrate") from None  # fmt: skip
    return from_json(doc, str(p))


def calibration_path(option: str | os.PathLike[str] | None) -> Path | None:
    """The calibration file to use: the option, else `$SONGPOP_CALIBRATION`, else None."""
    chosen = option if option is not None else os.environ.get(ENV) or None
    return Path(chosen) if chosen is not None else None


def write_calibration(calibration: Calibration, pairs: list[Pair], path: Path) -> Path:
    """Write the file atomically, after reading it back as `analyze` would and checking that
    it gives the fitted values on every pair.

    Raises:
        CalibrationError: the written-out form would not read back the same (nothing written).
    """
    from songpop.io import write_json_atomic  # late: loads pyarrow, pandas (start-up)

    try:
        doc = json.loads(json.dumps(calibration.to_json(), allow_nan=False))
    except ValueError:
        raise CalibrationError(f"{path}: a fitted mapping holds a number that is not finite; "
                               "nothing written") from None  # fmt: skip
    again = from_json(doc, str(path))
    for name, m in calibration.mappings.items():
        X = {n: np.array([p.inputs.get(n, np.nan) for p in pairs]) for n in _needs(m)}
        a, b = predict(m.model, X), predict(again.mappings[name].model, X)
        if not np.allclose(a, b, equal_nan=True):
            raise CalibrationError(f"{path}: the {name} mapping does not read back the same; "
                                   "nothing written")  # fmt: skip
    return write_json_atomic(doc, path)


# --- pairing a folder ------------------------------------------------------------------------


@dataclass
class Collected:
    """A folder's pairs, and the files left out with why."""

    pairs: list[Pair]
    unpaired: list[tuple[str, str]]
    files: int


def collect_pairs(
    paths: list[str],
    *,
    catalogue: Any = None,
    online: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> Collected:
    """Analyse the files and pair each with its real values.

    Args:
        paths: audio files.
        catalogue: the local catalogue (offline pairing by the tags' title and artist).
        online: `songpop.audio.online.OnlineAnalysis` (pairing with ReccoBeats' values).
        progress: called with (done, total) after each file.
    """
    # late: loads pyarrow, pandas, filelock (start-up)
    from songpop.inference.inputs.find import tagged_song

    pairs: list[Pair] = []
    unpaired: list[tuple[str, str]] = []
    for i, path in enumerate(paths):
        try:
            song = analyze(path)
        except SongpopError as exc:
            unpaired.append((path, str(exc)))
            song = None
        if song is not None and song.audio.get("silent"):
            unpaired.append((path, "silent"))
        elif song is not None:
            inputs = song_inputs(song.descriptors)
            if online is not None:
                online.hear(song)
                if song.online is None:
                    unpaired.append((path, song.notes[-1] if song.notes else "no answer"))
                else:
                    truth = {k: v["mean"] for k, v in song.online["features"].items()}
                    pairs.append(Pair(path, inputs, truth, "reccobeats"))
            else:
                known = tagged_song(song.tags.title, song.tags.artist, catalogue)
                if known is None:
                    why = ("no title and artist tags" if not (song.tags.title and song.tags.artist)
                           else "its tags name no catalogue song")  # fmt: skip
                    unpaired.append((path, why))
                else:
                    truth = {k: float(v) for k, v in known.features.items() if k in TARGETS
                             and v is not None}  # fmt: skip
                    pairs.append(Pair(path, inputs, truth, known.source))
        if progress is not None:
            progress(i + 1, len(paths))
    return Collected(pairs, unpaired, len(paths))


def too_few(folder: str, collected: Collected) -> CalibrationError:
    """The refusal of a folder with fewer than `MIN_PAIRS` pairs, saying what was found."""
    reasons: dict[str, int] = {}
    for _, why in collected.unpaired:
        key = why if len(why) < 60 else "could not be analysed or paired"
        reasons[key] = reasons.get(key, 0) + 1
    detail = "; ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    return CalibrationError(
        f"{folder}: {len(collected.pairs)} pair(s) found among {collected.files} audio file(s)"
        + (f" ({detail})" if detail else "")
        + f"; a calibration needs at least {MIN_PAIRS}"
    )

"""Why a model predicts what it does: per-song contributions and global importance.

- Tree models (LightGBM, random forest, histogram gradient boosting, as the last step of a
  pipeline): SHAP's TreeExplainer on the transformed features, exact; the one-hot `key_*`
  columns are folded back into `key`. LightGBM's values are in log-odds (the raw margin), the
  forests' in probability.
- Every other model: Shapley values estimated by antithetic permutation sampling against a small
  background of real training rows (the rows nearest to k-means centres of the bundle's
  reference sample): the algorithm of `shap.PermutationExplainer` with an independent masker,
  written in numpy so that all model evaluations of a batch go through one vectorised call
  (shap's version needs a numba compilation of ~15 s on first use). Values are in probability;
  contributions add up exactly to f(x) − mean f(background).

Each contribution comes with a plain-words sentence that places the song's value among all the
songs the model learned from, the same reference its push is measured against (a Shapley value
is a move away from the model's average over those songs): "louder than 80% of the songs the
model learned from (-4.1 dB): pushes up the chance of high popularity". Comparing with one
class's songs instead would read as a contradiction ("quieter than 70% of high-popularity
songs: pushes up the chance of high") whenever the song sits between the classes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from songpop import config, vocabulary
from songpop.bundle.frame import feature_frame
from songpop.errors import SchemaError
from songpop.inference.scoring import predict_proba
from songpop.inference.validate import validate_frame
from songpop.prepare.label import class_words
from songpop.vocabulary import format_value, is_categorical

if TYPE_CHECKING:
    from songpop.bundle import Bundle

log = logging.getLogger(__name__)

BACKGROUND_SIZE = 10
PERMUTATIONS = 4
"""Permutations per row (each used forwards and backwards) of the model-agnostic method."""
GLOBAL_ROWS = 500
"""Rows sampled for global importance with tree SHAP (exact and cheap)."""
GLOBAL_ROWS_AGNOSTIC = 100
GLOBAL_PERMUTATIONS = 2
"""Rows and permutations for global importance with the model-agnostic method: every row costs
2 × permutations × (features + 1) × background model evaluations, and a slow model (an SVC,
an ensemble holding one) must not hold up the report; averages over 100 rows are stable."""

_TREE_MODULES = ("lightgbm.", "sklearn.ensemble.", "sklearn.tree.")


@dataclass
class Contribution:
    """One feature's push on a prediction.

    Attributes:
        feature: the feature's name.
        value: the song's value of it.
        contribution: how much it moves the predicted class's score (log-odds or probability,
            see `Explanation.unit`); positive pushes up.
        direction: "up" or "down".
        percentile: the share (0–100) of the training songs with a lower value, for numeric
            features; for categories, the share of the training songs in this category.
        text: the same in plain words.
    """

    feature: str
    value: float
    contribution: float
    direction: str
    percentile: float | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return asdict(self)


@dataclass
class Explanation:
    """Why one record got its prediction.

    Attributes:
        target: the class explained (the predicted level).
        unit: "log-odds" or "probability": the scale of the contributions.
        method: "tree_shap" or "permutation_shap".
        base_value: the model's average score for `target` (over the training data or the
            background rows).
        output_value: base_value + the sum of the contributions = the model's score for
            `target` on this record.
        contributions: one per feature, the strongest first.
    """

    target: str
    unit: str
    method: str
    base_value: float
    output_value: float
    contributions: list[Contribution]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        out = asdict(self)
        out["contributions"] = [c.to_dict() for c in self.contributions]
        return out

    def sentences(self, top: int = 3) -> list[str]:
        """The plain-words sentences of the `top` strongest contributions."""
        return [c.text for c in self.contributions[:top]]

    def __iter__(self) -> Iterator[Contribution]:
        return iter(self.contributions)

    def __len__(self) -> int:
        return len(self.contributions)


# --- explainers ---------------------------------------------------------------------------------


class _TreeExplainer:
    """Exact SHAP values of the last (tree) step of a pipeline, folded to the input features."""

    method = "tree_shap"

    def __init__(self, bundle: Bundle) -> None:
        with warnings.catch_warnings():  # shap's colour maps use soon-deprecated matplotlib calls
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import shap

        estimator = bundle.estimator
        steps = getattr(estimator, "steps", None)
        self.final = steps[-1][1] if steps else estimator
        self.pre = estimator[:-1] if steps and len(steps) > 1 else None
        self.features = list(bundle.feature_names)
        if self.pre is not None:
            names_out = [str(n) for n in self.pre.get_feature_names_out()]
        else:
            names_out = self.features
        self.fold = _fold_matrix(names_out, self.features)
        self.explainer = shap.TreeExplainer(self.final)
        self.unit = (
            "log-odds" if type(self.final).__module__.startswith("lightgbm") else ("probability")
        )
        if "HistGradient" in type(self.final).__name__:
            self.unit = "log-odds"
        self.n_classes = len(bundle.classes)

    def values(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(contributions n × features × classes, base values per class)."""
        frame = feature_frame(X, self.features)
        Z = self.pre.transform(frame) if self.pre is not None else frame
        if hasattr(Z, "toarray"):
            Z = Z.toarray()
        raw = np.asarray(self.explainer.shap_values(Z, check_additivity=False), dtype=np.float64)
        base = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=np.float64))
        if raw.ndim == 2:  # one margin (binary): class 1's log-odds; class 0's is its negative
            raw = np.stack([-raw, raw], axis=-1)
            base = np.array([-base[0], base[0]])
        folded = np.einsum("nmk,mf->nfk", raw, self.fold)
        return folded, base


class _PermutationExplainer:
    """Shapley values by antithetic permutation sampling, model-agnostic, in probability."""

    method = "permutation_shap"
    unit = "probability"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.predict = lambda A: predict_proba(bundle, A)
        self.background = background_rows(bundle)
        self.base = self.predict(self.background).mean(axis=0)

    def values(
        self, X: np.ndarray, permutations: int = PERMUTATIONS
    ) -> tuple[np.ndarray, np.ndarray]:
        """(contributions n × features × classes, base values per class)."""
        n, m = X.shape
        B = self.background
        k = len(self.bundle.classes)
        # The same permutations for every row, so a row's explanation does not depend on the
        # other rows of the call.
        rng = np.random.default_rng(config.SEED)
        orders = []
        for _ in range(permutations):
            order = rng.permutation(m)
            orders += [order, order[::-1]]
        # For each order: m+1 masks (features switched on one by one).
        masks = np.zeros((len(orders), m + 1, m), dtype=bool)
        for p, order in enumerate(orders):
            for step in range(1, m + 1):
                masks[p, step] = masks[p, step - 1]
                masks[p, step, order[step - 1]] = True
        flat = masks.reshape(-1, m)
        phi = np.zeros((n, m, k))
        chunk = max(1, 20_000 // (len(flat) * len(B)))
        for lo in range(0, n, chunk):
            rows = X[lo : lo + chunk]
            grid = np.where(flat[None, :, None, :], rows[:, None, None, :], B[None, None, :, :])
            out = self.predict(grid.reshape(-1, m))
            out = out.reshape(len(rows), len(orders), m + 1, len(B), k).mean(axis=3)
            gains = np.diff(out, axis=2)  # the gain of the feature switched on at each step
            for p, order in enumerate(orders):
                phi[lo : lo + chunk, order] += gains[:, p]
        phi /= len(orders)
        return phi, self.base


def _fold_matrix(names_out: Sequence[str], features: Sequence[str]) -> np.ndarray:
    """A 0/1 matrix mapping each transformed column to the input feature it comes from."""
    fold = np.zeros((len(names_out), len(features)))
    by_length = sorted(features, key=len, reverse=True)
    for i, name in enumerate(names_out):
        bare = name.rsplit("__", 1)[-1]  # "num__num__loudness" after two transformers
        match = next(
            (f for f in by_length if bare == f or bare.startswith(f + "_")),
            None,
        )
        if match is None:
            raise ValueError(f"transformed column {name!r} maps to no input feature")
        fold[i, features.index(match)] = 1.0
    return fold


def background_rows(bundle: Bundle, size: int = BACKGROUND_SIZE) -> np.ndarray:
    """Real training rows near the k-means centres of the reference sample (standardised).

    Falls back to the typical values (medians / most frequent categories) recorded in the
    bundle, and to the middle of each feature's range when those are absent.
    """
    features = bundle.feature_names
    sample = bundle.reference_sample()
    if sample is not None and all(f in sample.columns for f in features):
        data = sample[features].astype("float64").to_numpy(na_value=np.nan)
        data = data[~np.isnan(data).any(axis=1)]
        if len(data) > size:
            from sklearn.cluster import KMeans

            scaled = (data - data.mean(axis=0)) / np.where(data.std(axis=0) > 0, data.std(0), 1)
            km = KMeans(n_clusters=size, n_init=4, random_state=config.SEED).fit(scaled)
            dist = ((scaled[:, None, :] - km.cluster_centers_[None]) ** 2).sum(axis=2)
            return data[np.unique(dist.argmin(axis=0))]
        if len(data):
            return data
    typical = (bundle.reference or {}).get("typical", {})
    row = []
    for f in features:
        spec = vocabulary.feature(f)
        low, high = (spec.low, spec.high) if spec else (0.0, 1.0)
        value = typical.get(f)
        row.append(float(value) if value is not None else (low + high) / 2)
    return np.asarray([row], dtype=np.float64)


def explainer_for(bundle: Bundle) -> _TreeExplainer | _PermutationExplainer:
    """The bundle's explainer (kept with the loaded bundle, never pickled): exact tree SHAP
    when possible, else permutation SHAP."""
    return bundle.derived("explainer", lambda: _make_explainer(bundle))


def _make_explainer(bundle: Bundle) -> _TreeExplainer | _PermutationExplainer:
    steps = getattr(bundle.estimator, "steps", None)
    final = steps[-1][1] if steps else bundle.estimator
    if type(final).__module__.startswith(_TREE_MODULES):
        try:
            return _TreeExplainer(bundle)
        except Exception as exc:  # shap does not know this model: use the agnostic method
            log.info(
                "model %s: tree SHAP unavailable (%s); using permutations", bundle.model_id, exc
            )
    return _PermutationExplainer(bundle)


# --- per-song explanations ----------------------------------------------------------------------


def explain_rows(
    bundle: Bundle,
    X: np.ndarray,
    targets: Sequence[str],
    years: Sequence[float | None] | None = None,
) -> list[Explanation]:
    """Explain each row's score for its target class.

    Args:
        bundle: the loaded model bundle.
        X: valid rows, float array with columns in `bundle.feature_names` order.
        targets: the class to explain for each row (usually the predicted level).
        years: each row's release year, where known: its values are then placed among the
            training songs released within a few years of it (default: the model's own year
            column, when it has one).

    Returns:
        One Explanation per row.
    """
    explainer = explainer_for(bundle)
    phi, base = explainer.values(np.asarray(X, dtype=np.float64))
    years = row_years(bundle, X, years)
    out = []
    for i, target in enumerate(targets):
        k = bundle.classes.index(target)
        contributions = [
            _contribution(bundle, name, float(X[i, j]), float(phi[i, j, k]), target, years[i])
            for j, name in enumerate(bundle.feature_names)
        ]
        contributions.sort(key=lambda c: abs(c.contribution), reverse=True)
        out.append(
            Explanation(
                target=target,
                unit=explainer.unit,
                method=explainer.method,
                base_value=float(base[k]),
                output_value=float(base[k] + phi[i, :, k].sum()),
                contributions=contributions,
            )
        )
    return out


def explain_table(
    bundle: Bundle, X: np.ndarray, targets: Sequence[str], top: int = 3
) -> tuple[pd.DataFrame, str]:
    """Explanations of a batch as columns, for scored files.

    Args:
        bundle: the loaded model bundle.
        X: valid rows, float array with columns in `bundle.feature_names` order.
        targets: the class to explain for each row (usually the predicted level).
        top: how many of the strongest contributions `why` puts in words.

    Returns:
        (a table with one row per row of X: `why`, the `top` strongest contributions in plain
        words joined by "; ", then `contribution_<feature>` for every feature; the unit of the
        contributions, "log-odds" or "probability").
    """
    explainer = explainer_for(bundle)
    X = np.asarray(X, dtype=np.float64)
    names = list(bundle.feature_names)
    years = row_years(bundle, X, None)
    if len(X):
        phi, _ = explainer.values(X)
        k = np.asarray([bundle.classes.index(t) for t in targets], dtype=np.int64)
        own = phi[np.arange(len(X)), :, k]  # each row's contributions to its own target
    else:
        own = np.empty((0, len(names)))
    strongest = np.argsort(-np.abs(own), axis=1, kind="stable")[:, : max(0, top)]
    why = [
        "; ".join(
            _contribution(
                bundle, names[j], float(X[i, j]), float(own[i, j]), targets[i], years[i]
            ).text
            for j in strongest[i]
        )
        for i in range(len(X))
    ]
    table = pd.DataFrame({"why": pd.array(why, dtype="string")})
    for j, name in enumerate(names):
        table[f"contribution_{name}"] = own[:, j]
    return table, explainer.unit


REFERENCE_GROUP = "the songs the model learned from"
"""The songs a value is placed among: all training songs, the reference of the push too."""
MIDDLE = 10.0
"""A value whose mid-rank is within this many points of 50% is "about the middle": "louder
than 52% of songs" says less than it seems to."""


def row_years(
    bundle: Bundle, X: np.ndarray, years: Sequence[float | None] | None
) -> list[float | None]:
    """Each row's release year: as given, else the model's own year column, else None."""
    if years is not None:
        return [None if y is None or not np.isfinite(float(y)) else float(y) for y in years]
    if "year" in bundle.feature_names:
        column = np.asarray(X, dtype=np.float64)[:, list(bundle.feature_names).index("year")]
        return [None if not np.isfinite(y) else float(y) for y in column]
    return [None] * len(X)


def _contribution(
    bundle: Bundle, name: str, value: float, phi: float, target: str, year: float | None = None
) -> Contribution:
    direction = "up" if phi >= 0 else "down"
    where, percentile = describe_value(bundle, name, value, year)
    words = class_words(target)
    push = f"pushes {direction} the chance of {words}"
    if abs(phi) < 1e-12:
        push = f"makes no difference to the chance of {words}"
    text = f"{where}: {push}"
    era = tracks_the_era(bundle, name)
    if era and abs(phi) >= 1e-12:
        text += f" ({era})"
    return Contribution(name, value, phi, direction, percentile, text)


def tracks_the_era(bundle: Bundle, name: str) -> str:
    """ "loudness mostly tells the model when a song was made" for a feature whose Spearman
    correlation with the release year among the training songs reaches the bundle's threshold
    (0.3); "" otherwise, and for the year itself."""
    era = (bundle.reference or {}).get("era") or {}
    rho = (era.get("tracks_year") or {}).get(name)
    if name in ("year", "decade"):
        return "the release year itself: popularity drifts with the era"
    if rho is None or abs(rho) < float(era.get("threshold", 0.3)):
        return ""
    spec = vocabulary.feature(name)
    label = spec.label.lower() if spec else name
    trend = "rose" if rho > 0 else "fell"
    return (
        f"{label} mostly tells the model when a song was made: it {trend} with the release "
        f"year among the training songs (Spearman {rho:+.2f})"
    )


def _era_percentiles(
    bundle: Bundle, name: str, year: float | None
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The percentiles of `name` among the training songs released within the bundle's era
    window of `year` (the nearest stored year), with the group in words; None without."""
    if year is None:
        return None
    era = (bundle.reference or {}).get("era") or {}
    by_year = era.get("by_year") or {}
    if not by_year or not era.get("q"):
        return None
    nearest = min(by_year, key=lambda y: abs(int(y) - year))
    first, last, n, values = by_year[nearest]
    if name not in values:
        return None
    group = f"the training songs released {first}-{last}"
    return np.asarray(values[name], dtype=float), np.asarray(era["q"], dtype=float), group


def describe_value(
    bundle: Bundle, name: str, value: float, year: float | None = None
) -> tuple[str, float | None]:
    """Place a value among the training songs, in words, and the percentile behind it: among
    those released within a few years of `year` when the bundle knows them (a song is compared
    with its own era), else among all of them.

    Returns:
        (e.g. "louder than 80% of the training songs released 2010-2020 (-4.1 dB)", 80.0);
        the percentile is None when the bundle has no reference statistics for the feature.
    """
    reference = bundle.reference or {}
    shown = format_value(name, value)
    group = REFERENCE_GROUP
    if is_categorical(name):
        table = reference.get("categories", {}).get("overall", {}).get(name)
        label = _category(name, value)
        if table is None:
            return label, None
        share = 100.0 * float(table.get(str(int(value)), 0.0))
        return f"{label} (like {share:.0f}% of {group})", round(share, 1)
    percentiles = reference.get("percentiles", {})
    q = percentiles.get("q")
    values = percentiles.get("overall", {}).get(name)
    in_era = _era_percentiles(bundle, name, year)
    if in_era is not None:
        values, q, group = in_era
    if values is None or q is None:
        return f"{name} {shown}", None
    below, above = _shares_below_above(
        value, np.asarray(values, dtype=float), np.asarray(q, dtype=float)
    )
    spec = vocabulary.feature(name)
    more = spec.more if spec and spec.more else f"higher {name}"
    less = spec.less if spec and spec.less else f"lower {name}"
    pct = (below + 100.0 - above) / 2  # mid-rank: ties count half
    if abs(pct - 50.0) < MIDDLE:
        label = spec.label.lower() if spec else name
        text = f"{label} near the middle of {group} ({shown})"
    elif below >= above:
        text = f"{more} than {below:.0f}% of {group} ({shown})"
    else:
        text = f"{less} than {above:.0f}% of {group} ({shown})"
    return text, round(pct, 1)


def _shares_below_above(value: float, values: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """(% of the group strictly below `value`, % strictly above), from stored percentiles.

    Many songs can share one value (instrumentalness 0): those count as neither below nor above.
    """
    left = int(np.searchsorted(values, value, side="left"))
    right = int(np.searchsorted(values, value, side="right"))
    if right - left >= 2:  # a flat stretch: the value is shared by a share of the group
        below = float(q[left - 1]) if left > 0 else 0.0
        at_or_below = float(q[right - 1]) if right < len(q) else 100.0
        return below, 100.0 - at_or_below
    share = float(np.interp(value, values, q, left=0.0, right=100.0))
    return share, 100.0 - share


def _category(name: str, value: float) -> str:
    spec = vocabulary.feature(name)
    return spec.category_words(value) if spec else f"{name} = {int(value)}"


# --- global importance and the report section ---------------------------------------------------


def global_importance(
    bundle: Bundle, X: pd.DataFrame, *, max_rows: int | None = None
) -> pd.DataFrame:
    """Mean absolute contribution of each feature over the rows of `X`.

    Args:
        bundle: the loaded model bundle.
        X: rows with the model's feature columns (e.g. the test set); a seeded sample of at most
            `max_rows` of them is explained.
        max_rows: the sample size (default: `GLOBAL_ROWS` with tree SHAP,
            `GLOBAL_ROWS_AGNOSTIC` with the model-agnostic method).

    Returns:
        One row per feature, most important first: feature, importance (mean |contribution|
        averaged over the classes), one `importance_<class>` column per class, unit, method,
        n_rows.

    Raises:
        SchemaError: no row of `X` has valid values for every feature.
    """
    explainer = explainer_for(bundle)
    agnostic = isinstance(explainer, _PermutationExplainer)
    if max_rows is None:
        max_rows = GLOBAL_ROWS_AGNOSTIC if agnostic else GLOBAL_ROWS
    values, ok, _ = validate_frame(X, bundle.feature_names)
    values = values[ok]
    if len(values) == 0:
        raise SchemaError(
            f"global importance of {bundle.model_id}: none of the {len(X)} rows has valid values "
            f"for every feature ({', '.join(bundle.feature_names)})"
        )
    if len(values) > max_rows:
        pick = np.random.default_rng(config.SEED).choice(len(values), max_rows, replace=False)
        values = values[np.sort(pick)]
    if agnostic:
        phi, _ = explainer.values(values, permutations=GLOBAL_PERMUTATIONS)
    else:
        phi, _ = explainer.values(values)
    per_class = np.abs(phi).mean(axis=0)  # features × classes
    table = pd.DataFrame({"feature": bundle.feature_names, "importance": per_class.mean(axis=1)})
    for k, name in enumerate(bundle.classes):
        table[f"importance_{name}"] = per_class[:, k]
    table["unit"] = explainer.unit
    table["method"] = explainer.method
    table["n_rows"] = int(len(values))
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)

"""The model registry: one name → one unfitted pipeline, its family and its search space.

Every entry builds a complete pipeline (preprocessing chosen by family in
`songpop.features.make_model_pipeline`, then the model), so search, cross-validation, saving and
comparison are one code path. Search spaces name the pipeline's parameters (``model__C``).

Two groups:

* songpop's models, trained by `songpop train` and `songpop run`: ``dummy``, ``logreg``, ``knn``,
  ``svc``, ``rf``, ``lgbm``, ``hgb`` (by name only), ``mlp`` and ``ensemble`` (soft voting over
  the best of the others; `songpop.train` picks the members by cross-validation on the training
  rows).
* the report's originals, for `songpop reproduce`: ``knn_original`` / ``svc_original`` (MinMax,
  SMOTENC inside the pipeline), ``knn_original_smote`` / ``svc_original_smote`` (what the code
  did: plain SMOTE that treats `key` as a number), ``rf_original`` (the report's grid, searched on
  the training rows only) and ``mlp_original`` / ``mlp_baseline_original`` (the report's two
  networks).

SVC probabilities come from `CalibratedClassifierCV(SVC(), ensemble=False)`: scikit-learn 1.9
deprecates `SVC(probability=True)` in its favour, and it makes the calibration explicit (Platt
scaling fitted on cross-validated decision values of the training rows, seeded folds) while the
final SVC is still one model fitted on all training rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ImbPipeline
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - enables the import below
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import HalvingGridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from songpop import config
from songpop.config import extra_installed, missing_extra_message
from songpop.errors import MissingExtraError, SchemaError
from songpop.features import check_features, make_model_pipeline

Factory = Callable[[list[str], int], Any]


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: registry key, also the bundle's model id.
        family: preprocessing family (see `songpop.features.FAMILIES`).
        description: one line for tables and `songpop models list`.
        factory: `(feature_names, seed) -> unfitted estimator`.
        space: hyper-parameter space for the search, pipeline parameter → candidate values.
        search_budgets: budgets in which `space` is searched; elsewhere the defaults are fitted.
        quick_params: overrides that make the model small for the "quick" budget (tests).
        in_default: trained by `songpop train` / `songpop run` when no model list is given.
        original: one of the report's models (reproduce only).
        ensemble_member: may join the soft-voting ensemble.
        heavy: costly to fit; the "default" budget scores it on one fold instead of all.
        max_rows: outside the "full" budget, fit on at most this many training rows (a
            stratified sample of them), for models whose cost grows faster than the rows.
        learning_curve: the report draws its learning curve (besides the best model's).
        large_tables: its fit stays affordable on tables of 20,000+ training songs (the hit
            task); models whose cost grows faster than the rows say False.
        cheap: one of the few fast models trained for a task that is barely predictable.
        comparison: `songpop run` fits it only in the "full" budget (`models_for`): a model
            kept to compare with the leaders, not to lead. In every feature set of every task
            of the runs of 2026-12-06 it was never the best by cross-validation (LightGBM or
            logistic regression was), and together they were a third of `songpop run`'s CPU time.
        extra: the optional dependency group it needs (a key of `config.EXTRAS`); None: the default
            install is enough.
    """

    name: str
    family: str
    description: str
    factory: Factory
    space: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    search_budgets: tuple[str, ...] = ("default", "full")
    quick_params: Mapping[str, Any] = field(default_factory=dict)
    in_default: bool = True
    original: bool = False
    ensemble_member: bool = True
    heavy: bool = False
    max_rows: int | None = None
    learning_curve: bool = False
    large_tables: bool = True
    cheap: bool = False
    comparison: bool = False
    extra: str | None = None

    @property
    def installed(self) -> bool:
        """Whether what it needs beyond the default install is installed."""
        return self.extra is None or extra_installed(self.extra)

    def build(
        self, feature_names: Sequence[str], seed: int = config.SEED, *, quick: bool = False
    ) -> Any:
        """An unfitted estimator for these input columns.

        Args:
            feature_names: the input columns in order (checked against the leakage guard).
            seed: random seed passed to every random part.
            quick: apply `quick_params` (small models for tests).

        Returns:
            The unfitted estimator (a pipeline for every entry but the ensemble's members).

        Raises:
            MissingExtraError: it needs an optional group that is not installed.
        """
        require_installed([self.name])
        estimator = self.factory(check_features(feature_names), seed)
        if quick and self.quick_params:
            estimator.set_params(**self.quick_params)
        return estimator


# --- songpop's models ---------------------------------------------------------------------------


def _dummy(names: list[str], seed: int) -> Any:  # noqa: ARG001  (the builders' signature)
    return make_model_pipeline("dummy", names, DummyClassifier(strategy="prior"))


def _logreg(names: list[str], seed: int) -> Any:  # noqa: ARG001  (the builders' signature)
    return make_model_pipeline("linear", names, LogisticRegression(C=1.0, max_iter=2000))


def _knn(names: list[str], seed: int) -> Any:  # noqa: ARG001  (the builders' signature)
    return make_model_pipeline(
        "distance", names, KNeighborsClassifier(n_neighbors=50, weights="distance")
    )


def _svc_model(seed: int, **params: Any) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(
        SVC(**params),
        method="sigmoid",
        ensemble=False,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed),
    )


def _svc(names: list[str], seed: int) -> Any:
    return make_model_pipeline("kernel", names, _svc_model(seed, kernel="rbf", C=1.0))


def _rf(names: list[str], seed: int) -> Any:
    model = RandomForestClassifier(
        n_estimators=200, min_samples_leaf=5, max_features="sqrt", n_jobs=1, random_state=seed
    )
    return make_model_pipeline("tree", names, model)


def _lgbm(names: list[str], seed: int) -> Any:
    # 150 trees at a learning rate of 0.067 (total shrinkage 10, as 500 x 0.02 before issue
    # #25): 5-fold CV on the training rows of seed, hit and chart, three feature sets each, moved
    # accuracy by -0.29 to +0.16 points (mean -0.1; log loss +0.001) in a third of the time.
    model = LGBMClassifier(
        n_estimators=150,
        learning_rate=0.067,
        num_leaves=7,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.7,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )
    return make_model_pipeline("boosting", names, model)


def _lgbm_fast(names: list[str], seed: int) -> Any:
    """The same LightGBM as `lgbm`, under the name the fast tasks' model lists, the forward
    protocol and their saved bundles use (it had 150 trees when `lgbm` had 500)."""
    return _lgbm(names, seed)


def _hgb(names: list[str], seed: int) -> Any:
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    return make_model_pipeline("boosting", names, model)


def _mlp(names: list[str], seed: int) -> Any:
    from songpop.models.mlp import mlp_finetuned  # torch is imported only when an MLP is built

    return make_model_pipeline("neural", names, mlp_finetuned(random_state=seed))


def _ensemble(names: list[str], seed: int) -> Any:
    """Soft voting over logreg, rf and lgbm; `songpop.train` swaps in the best members."""
    return soft_voting([(n, MODELS[n].build(names, seed)) for n in ("logreg", "rf", "lgbm")])


def soft_voting(members: Sequence[tuple[str, Any]]) -> VotingClassifier:
    """A soft-voting ensemble (the mean of the members' class probabilities).

    Args:
        members: `(name, unfitted estimator)` pairs, each able to `predict_proba`.

    Returns:
        An unfitted `VotingClassifier`.
    """
    if len(members) < 2:
        raise SchemaError(f"an ensemble needs at least two members, got {len(members)}")
    return VotingClassifier(list(members), voting="soft", n_jobs=1)


def prefit_voting(members: Sequence[tuple[str, Any]], y: Any) -> VotingClassifier:
    """The soft-voting ensemble of members already fitted on the training labels `y`.

    What `soft_voting(...).fit(X, y)` would give when each member's fit is deterministic and
    was made on the same rows (it clones and refits every member): the fitted members are set
    in place of those refits, and the label encoding is fitted on `y` as `fit` does. The
    members keep their string classes; their probability columns are in the same sorted order
    as the encoded ones, so the ensemble's probabilities are the same.
    """
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    ensemble = soft_voting([(name, clone(est)) for name, est in members])
    ensemble.le_ = LabelEncoder().fit(np.asarray(y))
    ensemble.classes_ = ensemble.le_.classes_
    ensemble.estimators_ = [est for _, est in members]
    ensemble.named_estimators_ = Bunch(**dict(members))
    names_in = getattr(members[-1][1], "feature_names_in_", None)
    if names_in is not None:  # as fit sets it (n_features_in_ is read from the members)
        ensemble.feature_names_in_ = names_in
    return ensemble


# --- the report's originals ---------------------------------------------------------------------


def _knn_original(names: list[str], seed: int) -> Any:
    model = KNeighborsClassifier(n_neighbors=2)
    return make_model_pipeline("distance", names, model, resample=True, scaler="minmax", seed=seed)


def _svc_original(names: list[str], seed: int) -> Any:
    model = SVC(kernel="poly", C=2)
    return make_model_pipeline("kernel", names, model, resample=True, scaler="minmax", seed=seed)


def _literal_smote(names: list[str], seed: int, model: Any, scaler: Any) -> ImbPipeline:
    """The original code: SMOTE on the raw columns (key interpolated as a number), then scaling
    and one-hot encoding of whatever key values SMOTE made (fractional keys become categories)."""
    num = [i for i, n in enumerate(names) if n != "key"]
    cat = [i for i, n in enumerate(names) if n == "key"]
    prep = ColumnTransformer(
        [("num", scaler, num), ("cat", OneHotEncoder(handle_unknown="ignore"), cat)],
        sparse_threshold=0.0,
    )
    return ImbPipeline([("resample", SMOTE(random_state=seed)), ("prep", prep), ("model", model)])


def _knn_original_smote(names: list[str], seed: int) -> Any:
    return _literal_smote(names, seed, KNeighborsClassifier(n_neighbors=2), MinMaxScaler())


def _svc_original_smote(names: list[str], seed: int) -> Any:
    return _literal_smote(names, seed, SVC(kernel="poly", C=2), MinMaxScaler())


RF_ORIGINAL_GRID: dict[str, list[Any]] = {
    "model__n_estimators": [50, 250, 1000],
    "model__max_depth": [10, 50, 200],
    "model__min_samples_leaf": [3, 7, 10],
    # the report's {"auto", "sqrt"}: "auto" was removed and meant "sqrt" for classifiers.
    "model__max_features": ["sqrt", "log2"],
}


def _rf_original(names: list[str], seed: int) -> Any:
    """The report's grid over a StandardScaler + one-hot + random forest pipeline.

    The search is the estimator: fitting it searches 3 folds of the rows it is given (the
    training rows), by successive halving over the full grid, and refits the best on them.
    """
    num = [i for i, n in enumerate(names) if n != "key"]
    cat = [i for i, n in enumerate(names) if n == "key"]
    prep = ColumnTransformer(
        [("num", StandardScaler(), num), ("cat", OneHotEncoder(handle_unknown="ignore"), cat)],
        sparse_threshold=0.0,
    )
    pipe = ImbPipeline(
        [("prep", prep), ("model", RandomForestClassifier(random_state=seed, n_jobs=1))]
    )
    return HalvingGridSearchCV(
        pipe,
        RF_ORIGINAL_GRID,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed),
        factor=3,
        scoring="accuracy",
        random_state=seed,
        n_jobs=2,
    )


def _mlp_original(names: list[str], seed: int) -> Any:
    from songpop.models.mlp import mlp_finetuned  # late: loads torch, tqdm (start-up)

    return make_model_pipeline("neural", names, mlp_finetuned(random_state=seed))


def _mlp_baseline_original(names: list[str], seed: int) -> Any:
    from songpop.models.mlp import mlp_baseline  # late: loads torch, tqdm (start-up)

    return make_model_pipeline("neural", names, mlp_baseline(random_state=seed))


_LOG_C = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "dummy",
            "dummy",
            "class frequencies of the training rows (the baseline)",
            _dummy,
            ensemble_member=False,
            cheap=True,
        ),
        ModelSpec(
            "logreg",
            "linear",
            "multinomial logistic regression, scaled inputs",
            _logreg,
            space={"model__C": _LOG_C},
            learning_curve=True,
            cheap=True,
        ),
        ModelSpec(
            "knn",
            "distance",
            "k nearest neighbours, scaled inputs",
            _knn,
            space={
                "model__n_neighbors": [15, 25, 50, 75, 100, 150],
                "model__weights": ["uniform", "distance"],
            },
            quick_params={"model__n_neighbors": 5},
            learning_curve=True,
            comparison=True,
        ),
        ModelSpec(
            "svc",
            "kernel",
            "RBF support vector classifier, Platt-calibrated probabilities",
            _svc,
            space={
                "model__estimator__C": [0.3, 1.0, 3.0],
                "model__estimator__gamma": ["scale", 0.01, 0.03],
            },
            search_budgets=("full",),
            quick_params={"model__cv": 2},
            heavy=True,
            max_rows=6000,
            large_tables=False,
            comparison=True,
        ),
        ModelSpec(
            "rf",
            "tree",
            "random forest",
            _rf,
            space={
                "model__n_estimators": [250, 500],
                "model__min_samples_leaf": [1, 3, 5, 10],
                "model__max_features": ["sqrt", 0.5],
                "model__max_depth": [None, 12, 20],
            },
            search_budgets=("full",),
            quick_params={"model__n_estimators": 30},
            comparison=True,
        ),
        ModelSpec(
            "lgbm",
            "boosting",
            "LightGBM gradient-boosted trees",
            _lgbm,
            space={
                "model__n_estimators": [250, 500, 800],
                "model__learning_rate": [0.01, 0.02, 0.05],
                "model__num_leaves": [4, 7, 15, 31],
                "model__min_child_samples": [20, 50, 100],
                "model__colsample_bytree": [0.5, 0.7, 1.0],
            },
            quick_params={"model__n_estimators": 40},
            cheap=True,
        ),
        ModelSpec(
            "lgbm_fast",
            "boosting",
            "LightGBM, 150 trees: the year-only baseline and every fit of the forward protocol",
            _lgbm_fast,
            quick_params={"model__n_estimators": 40},
            in_default=False,
            cheap=True,
        ),
        ModelSpec(
            "hgb",
            "boosting",
            "scikit-learn histogram gradient boosting",
            _hgb,
            space={
                "model__learning_rate": [0.02, 0.05, 0.1],
                "model__max_leaf_nodes": [7, 15, 31],
                "model__l2_regularization": [0.0, 1.0, 10.0],
            },
            quick_params={"model__max_iter": 40},
            in_default=False,
        ),
        ModelSpec(
            "mlp",
            "neural",
            "PyTorch MLP (the report's fine-tuned network, early stopping)",
            _mlp,
            search_budgets=(),
            quick_params={"model__max_epochs": 8, "model__patience": 3},
            ensemble_member=False,
            heavy=True,
            extra="mlp",
            max_rows=8000,
            large_tables=False,
            comparison=True,
        ),
        ModelSpec(
            "ensemble",
            "ensemble",
            "soft voting over the best models by cross-validation",
            _ensemble,
            search_budgets=(),
            quick_params={"rf__model__n_estimators": 30, "lgbm__model__n_estimators": 40},
            ensemble_member=False,
        ),
        # --- the report's originals, for `songpop reproduce` ---------------------------------
        ModelSpec(
            "knn_original",
            "distance",
            "report: KNN k=2, MinMax, SMOTENC on training rows",
            _knn_original,
            search_budgets=(),
            in_default=False,
            original=True,
            ensemble_member=False,
        ),
        ModelSpec(
            "knn_original_smote",
            "distance",
            "report code: KNN k=2, MinMax, plain SMOTE (key as a number)",
            _knn_original_smote,
            search_budgets=(),
            in_default=False,
            original=True,
            ensemble_member=False,
        ),
        ModelSpec(
            "svc_original",
            "kernel",
            "report: SVC poly C=2, MinMax, SMOTENC on training rows",
            _svc_original,
            search_budgets=(),
            in_default=False,
            original=True,
            ensemble_member=False,
        ),
        ModelSpec(
            "svc_original_smote",
            "kernel",
            "report code: SVC poly C=2, MinMax, plain SMOTE (key as a number)",
            _svc_original_smote,
            search_budgets=(),
            in_default=False,
            original=True,
            ensemble_member=False,
        ),
        ModelSpec(
            "rf_original",
            "tree",
            "report: random forest, its grid (3-fold on training rows), StandardScaler",
            _rf_original,
            search_budgets=(),
            quick_params={
                "n_jobs": 1,
                "param_grid": {
                    "model__n_estimators": [20],
                    "model__max_depth": [10],
                    "model__min_samples_leaf": [3, 7],
                    "model__max_features": ["sqrt"],
                },
            },
            in_default=False,
            original=True,
            ensemble_member=False,
        ),
        ModelSpec(
            "mlp_original",
            "neural",
            "report: MLP 22-128-64-32-3, BatchNorm, dropout 0.45, AdamW 1e-4",
            _mlp_original,
            search_budgets=(),
            quick_params={"model__max_epochs": 8, "model__patience": 3},
            in_default=False,
            original=True,
            ensemble_member=False,
            heavy=True,
            extra="mlp",
        ),
        ModelSpec(
            "mlp_baseline_original",
            "neural",
            "report: MLP 22-64-3, dropout 0.01, AdamW 0.03",
            _mlp_baseline_original,
            search_budgets=(),
            quick_params={"model__max_epochs": 8, "model__patience": 3},
            in_default=False,
            original=True,
            ensemble_member=False,
            heavy=True,
            extra="mlp",
        ),
    )
}


def default_models() -> list[str]:
    """The models `songpop train` fits when no list is given, in training order: those whose
    optional dependencies are installed (`left_out` names the others)."""
    return [name for name, spec in MODELS.items() if spec.in_default and spec.installed]


def left_out(names: Iterable[str] | None = None) -> dict[str, str]:
    """Default models (or `names`) whose optional group is not installed: name → that group (a
    key of `config.EXTRAS`; `missing_extra_message` says it in words).

    Raises:
        SchemaError: a name that is not a model.
    """
    names = [n for n, s in MODELS.items() if s.in_default] if names is None else list(names)
    specs = {name: get_spec(name) for name in names}
    return {name: spec.extra for name, spec in specs.items() if spec.extra and not spec.installed}


def require_installed(names: Iterable[str]) -> None:
    """Refuse, before anything is fitted, models whose optional group is not installed.

    Raises:
        MissingExtraError: naming the models and the command that installs what they need.
        SchemaError: a name that is not a model.
    """
    missing = left_out(names)
    by_extra: dict[str, list[str]] = {}
    for name, extra in missing.items():
        by_extra.setdefault(extra, []).append(name)
    sentences = []
    for extra, models in sorted(by_extra.items()):
        listed = ", ".join(repr(n) for n in models)
        plural = len(models) > 1
        what = f"models {listed}" if plural else f"model {listed}"
        sentences.append(missing_extra_message(what, extra, plural))
    if sentences:
        raise MissingExtraError("; ".join(sentences))


MODEL_SELECTIONS: tuple[str, ...] = ("default", "large", "cheap", "fast")
FAST_MODELS: tuple[str, ...] = ("dummy", "logreg", "lgbm_fast")
"""The "fast" selection: the baseline, a linear model and the 150-tree LightGBM (the tasks
`songpop run` added for a new song: chart chance and the levels within an era)."""


def models_for(selection: str, budget: str | None = None) -> list[str]:
    """A task's models, by what the registry says of each: "default" (every default model),
    "large" (those affordable on 20,000+ training songs), "cheap" (a few fast ones) or "fast"
    (`FAST_MODELS`).

    Args:
        selection: one of `MODEL_SELECTIONS`.
        budget: the run's budget: outside "full", the comparison models
            (`ModelSpec.comparison`) are left out. None: no budget, every model of the selection.

    Raises:
        SchemaError: unknown selection.
    """
    if selection not in MODEL_SELECTIONS:
        raise SchemaError(f"model selection {selection!r}: expected one of {MODEL_SELECTIONS}")
    if selection == "fast":
        return list(FAST_MODELS)
    keep = {
        "default": lambda _spec: True,
        "large": lambda spec: spec.large_tables,
        "cheap": lambda spec: spec.cheap,
    }[selection]
    compare = budget is None or budget == "full"
    return [
        name
        for name in default_models()
        if keep(MODELS[name]) and (compare or not MODELS[name].comparison)
    ]


def get_spec(name: str) -> ModelSpec:
    """The registry entry `name`.

    Raises:
        SchemaError: unknown name, listing the known ones.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise SchemaError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def parse_model_list(text: str | None) -> list[str] | None:
    """`"a,b"` → `["a", "b"]` (each checked, its optional group installed); None or "" → None
    (the default list).

    Raises:
        SchemaError: an unknown name.
        MissingExtraError: a model whose optional group is not installed.
    """
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    require_installed(names)  # each name looked up (`get_spec`), then its group
    return names


def describe() -> list[dict[str, Any]]:
    """One row per registry entry: name, family, description, default, original."""
    return [
        {
            "name": s.name,
            "family": s.family,
            "description": s.description,
            "in_default": s.in_default,
            "original": s.original,
            "searched_in": list(s.search_budgets) if s.space else [],
        }
        for s in MODELS.values()
    ]

"""Evaluate models: metrics, uncertainty, protocols, curves, figures and the comparison table.

The package's public API: callers write ``from songpop.evaluation import
classification_metrics``. Typical use, per trained model::

    cv = repeated_cv(make_estimator, X_train, y_train, groups=artists_train)
    result = evaluate_classifier(y_test, est.predict_proba(X_test), est.classes_,
                                 y_train=y_train, task="seed_levels", feature_set="audio",
                                 model="lightgbm", cv=cv)
    ...
    table = comparison_table(results)
    figs = [figure_entry(plot_model_comparison(table, out / "figures/comparison"), "...")]
    write_models_section(results, figs, out)  # songpop.report.sections

Every accuracy comes with a 95% bootstrap interval and a dummy baseline scored on the same rows.
"""

from __future__ import annotations

from songpop.evaluation.figures import (
    OKABE_ITO,
    figure_entry,
    plot_confusion_matrix,
    plot_learning_curve,
    plot_model_comparison,
    plot_reliability,
    save_figure,
)
from songpop.evaluation.metrics import (
    DEFAULT_ECE_BINS,
    MetricInputError,
    brier_multiclass,
    canonical_order,
    check_same_length,
    classification_metrics,
    expected_calibration_error,
    is_ordinal,
    positive_class,
    quadratic_weighted_kappa,
    regression_point_metrics,
    reliability_data,
)
from songpop.evaluation.protocols import (
    CV_METRICS,
    DEFAULT_CV_SCORING,
    cv_splits,
    learning_curve_data,
    repeated_cv,
    temporal_cutoff,
    temporal_split,
)
from songpop.evaluation.results import (
    COMPARISON_COLUMNS,
    FEATURE_SET_ORDER,
    PROTOCOL_FAMILIES,
    classification_reports_table,
    comparison_table,
    describe_all,
    describe_predictability,
    describe_regression,
    evaluate_classifier,
    evaluate_regressor,
    format_comparison_table,
    protocol_family,
    regression_metrics,
    regression_table,
    result_from_cv,
)
from songpop.evaluation.uncertainty import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    bootstrap_ci,
    dummy_baseline,
    dummy_regression_baseline,
    paired_difference_ci,
    resample_indices,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "COMPARISON_COLUMNS",
    "CV_METRICS",
    "DEFAULT_CV_SCORING",
    "DEFAULT_ECE_BINS",
    "FEATURE_SET_ORDER",
    "OKABE_ITO",
    "PROTOCOL_FAMILIES",
    "REGRESSION_METRICS",
    "MetricInputError",
    "bootstrap_ci",
    "brier_multiclass",
    "canonical_order",
    "check_same_length",
    "classification_metrics",
    "classification_reports_table",
    "comparison_table",
    "cv_splits",
    "describe_all",
    "describe_predictability",
    "describe_regression",
    "dummy_baseline",
    "dummy_regression_baseline",
    "evaluate_classifier",
    "evaluate_regressor",
    "expected_calibration_error",
    "figure_entry",
    "format_comparison_table",
    "is_ordinal",
    "learning_curve_data",
    "paired_difference_ci",
    "plot_confusion_matrix",
    "plot_learning_curve",
    "plot_model_comparison",
    "plot_reliability",
    "positive_class",
    "protocol_family",
    "quadratic_weighted_kappa",
    "regression_metrics",
    "regression_point_metrics",
    "regression_table",
    "reliability_data",
    "repeated_cv",
    "resample_indices",
    "result_from_cv",
    "save_figure",
    "temporal_cutoff",
    "temporal_split",
]

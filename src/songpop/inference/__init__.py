"""The inference core: every way a song comes in ends in `score_frame`.

- `inputs/`: adapters that turn an input into canonical song rows (`table`: CSV/Parquet files).
- `validate`: the one vectorised check of feature values against `songpop.vocabulary`.
- `scoring`: the only place a model is called (`predict_proba`).
- `core`: `score_frame(frame, bundle) -> (scored, rejects)`, and `predict(records)` /
  `predict_frame(df)` over it.
- `batch`: `score_file` (a file in chunks, outputs written atomically).

Import the names from here: `from songpop.inference import predict, score_file`.
"""

from songpop.bundle.frame import feature_frame
from songpop.inference.batch import score_file
from songpop.inference.core import predict, predict_frame, score_frame
from songpop.inference.results import Prediction, Problem, RecordError
from songpop.inference.scoring import predict_proba
from songpop.inference.validate import ID_FIELDS, describe_feature, validate_frame

__all__ = [
    "ID_FIELDS",
    "Prediction",
    "Problem",
    "RecordError",
    "describe_feature",
    "feature_frame",
    "predict",
    "predict_frame",
    "predict_proba",
    "score_file",
    "score_frame",
    "validate_frame",
]

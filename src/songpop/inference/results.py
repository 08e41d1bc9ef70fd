"""What the inference core returns: predictions, and the problems of invalid input."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from songpop.errors import InputError

MAX_LISTED_PROBLEMS = 10
"""Problems spelled out in one error message; the rest are counted."""


@dataclass
class Prediction:
    """The prediction for one record.

    Attributes:
        level: the most probable class ("low"/"medium"/"high", or "not_hit"/"hit").
        probabilities: class → probability, in the bundle's class order; they sum to 1.
        model_id: the id of the model that made it.
        explanation: when asked for, the features' contributions to `level`, strongest first
            (`songpop.inference.explain.Explanation`).
        ids: the identifying fields the record carried (id, title, artist...).
        ignored_fields: known features the record gave that this model does not use.
        words: `level` in plain words ("high popularity", "not a hit").
        confidence: how often the model was right on held-out songs when it was as sure as
            it is here (`songpop.inference.context.confidence_note`), or None.
        warnings: why the song may lie outside what the model learned from (empty: nothing
            unusual; `songpop.inference.context.unusual`).
        similar: when asked for, the nearest training songs and what happened to them
            (`songpop.inference.context.SimilarSong`).
    """

    level: str
    probabilities: dict[str, float]
    model_id: str
    explanation: Any = None
    ids: dict[str, Any] = field(default_factory=dict)
    ignored_fields: list[str] = field(default_factory=list)
    words: str = ""
    confidence: str | None = None
    warnings: list[str] = field(default_factory=list)
    similar: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (explanation entries and similar songs as dicts)."""
        out = asdict(self)
        if self.explanation is not None:
            out["explanation"] = [
                c.to_dict() if hasattr(c, "to_dict") else c for c in self.explanation
            ]
        out["similar"] = [s.to_dict() if hasattr(s, "to_dict") else s for s in self.similar]
        return out


@dataclass
class Problem:
    """One invalid value of a record or row.

    Attributes:
        record: the 0-based position of the record (or row) in its batch.
        field: the field (column) at fault, or None when the record itself is wrong.
        value: the value given (None when missing).
        expected: what was expected, e.g. "a number from 0 to 1".
        message: the full sentence, naming the field.
    """

    record: int
    field: str | None
    value: Any
    expected: str
    message: str


class RecordError(InputError):
    """Records given for prediction are invalid; `problems` lists every bad value."""

    def __init__(self, problems: list[Problem], single: bool = True, total: int | None = None):
        self.problems = problems
        shown = problems[:MAX_LISTED_PROBLEMS]
        parts = [p.message if single else f"record {p.record + 1}: {p.message}" for p in shown]
        more = (total if total is not None else len(problems)) - len(shown)
        tail = f"; and {more} more problem(s)" if more > 0 else ""
        super().__init__("invalid input: " + "; ".join(parts) + tail)

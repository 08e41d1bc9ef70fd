"""A song from some features: the rest filled with a typical song, and said.

`songpop predict --danceability 0.7 --energy 0.8 --loudness -5` names three features; the model
needs eleven. As the web page does, the missing audio features take a typical song's values:
the medians (and commonest categories) of the model's own training songs when its bundle
recorded them (`reference.typical`), else the vocabulary's documented typical values. What was
filled is returned, so that every interface can list it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from songpop import vocabulary


def typical_values(bundle: Any) -> tuple[dict[str, float], str]:
    """A typical song for `bundle`, and where its values come from, in words."""
    values = {name: f.typical for name, f in vocabulary.FEATURES.items()}
    reference = bundle.reference if bundle is not None else None
    typical = reference.get("typical") if isinstance(reference, Mapping) else None
    if not isinstance(typical, Mapping) or not typical:
        return values, "typical values of the seed data (songpop.vocabulary)"
    for name, value in typical.items():
        if isinstance(value, int | float) and name in values:
            values[name] = float(value)
    return values, f"the medians of {bundle.model_id}'s training songs"


def fill_typical(
    given: Mapping[str, Any], bundles: Iterable[Any]
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The audio features the models need that `given` lacks, filled with a typical song.

    Args:
        given: the features a person gave (name → value).
        bundles: the models that will score the song (their `feature_names` say what they
            need); the first one's typical values are used.

    Returns:
        (the record with the filled values, name → the value filled, where they come from).
    """
    bundles = [b for b in bundles if b is not None]
    needed = {n for b in bundles for n in b.feature_names}
    typical, source = typical_values(bundles[0] if bundles else None)
    filled: dict[str, Any] = {}
    for name in vocabulary.AUDIO_FEATURES:
        if name in needed and given.get(name) is None:
            value = typical[name]
            spec = vocabulary.FEATURES[name]
            filled[name] = int(round(value)) if spec.integer else value
    return {**given, **filled}, filled, source


def filled_words(filled: Mapping[str, Any]) -> str:
    """ "acousticness 0.16, duration 3:45, key in the key of C" for people."""
    parts = []
    for name, value in filled.items():
        spec = vocabulary.FEATURES[name]
        if name == "key":
            parts.append("no key" if int(value) == -1 else f"key {vocabulary.key_name(value)}")
        elif spec.categorical:
            parts.append(spec.category_words(value).removeprefix("in "))
        else:
            label = "duration" if name == "duration_ms" else name.replace("_", " ")
            parts.append(f"{label} {vocabulary.format_value(name, float(value))}")
    return ", ".join(parts)

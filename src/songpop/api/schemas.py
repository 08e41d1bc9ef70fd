"""Request and response models of the HTTP API, built from `songpop.vocabulary`.

The song record is generated from the vocabulary's features (kind, range, unit, description),
so the API, its OpenAPI schema and the web page's sliders never disagree with the rest of
songpop about what a valid song is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)

from songpop import config, vocabulary
from songpop.errors import InputError
from songpop.inference.context import MAX_SIMILAR
from songpop.inference.inputs.lookup import parse_spotify

MAX_RECORDS = 1000
"""Most records one `POST /predict` may carry; larger batches belong to `songpop predict --csv`."""

MAX_EXPLAINED_RECORDS = 100
"""Most records one request may ask explanations for: a model-agnostic explanation is costly."""

MAX_BODY_BYTES = 1_048_576
"""Largest request body accepted (1 MiB): room for MAX_RECORDS records with explanations asked."""

ID_FIELDS: tuple[str, ...] = ("id", "title", "artist")
"""Optional fields a song may carry to identify itself; never used as features."""

INTEGER_FEATURES: frozenset[str] = frozenset(n for n, f in vocabulary.FEATURES.items() if f.integer)

TYPICAL_SONG: dict[str, float | int] = {
    n: int(f.typical) if f.integer else f.typical for n, f in vocabulary.FEATURES.items()
}
"""The web page's song when a bundle carries no reference medians (`vocabulary.Feature.typical`)."""

DESCRIPTIONS: dict[str, str] = {n: f.description for n, f in vocabulary.FEATURES.items()}

number = vocabulary.number


def _whole(value: Any) -> Any:
    """7.0 → 7 (a number with no fraction is a whole number); anything else as given."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _feature_field(name: str, *, required: bool) -> tuple[Any, Any]:
    """The (type, Field) pair of one feature, with its range and unit in the schema."""
    spec = vocabulary.FEATURES[name]
    low, high = spec.bounds
    unit = spec.unit
    description = spec.description
    if unit:
        description = f"{description} ({unit})"
    description = f"{description}; allowed {number(low)} to {number(high)}"
    # JSON Schema counts 7.0 as an integer, so the API takes it as 7 (and refuses 7.5, "7")
    limits: dict[str, Any] = {"ge": low, "le": high, "strict": True}
    if name in INTEGER_FEATURES:
        kind: Any = Annotated[int, Field(**limits), BeforeValidator(_whole)]
    else:
        kind = Annotated[float, Field(allow_inf_nan=False, **limits)]
    example = TYPICAL_SONG.get(name)
    field = Field(
        ... if required else None,
        description=description,
        examples=[example] if example is not None else None,
    )
    return (kind if required else kind | None), field


def _song_model() -> type[BaseModel]:
    """Build the `Song` model: audio features required, context features optional."""
    fields: dict[str, Any] = {
        name: _feature_field(name, required=True) for name in config.AUDIO_FEATURES
    }
    fields.update({name: _feature_field(name, required=False) for name in config.CONTEXT_FEATURES})
    for name in ID_FIELDS:
        fields[name] = (
            str | None,
            Field(None, max_length=500, description="Identifies the song; echoed back as is."),
        )
    return create_model(
        "Song",
        __config__=ConfigDict(
            extra="forbid",
            json_schema_extra={"examples": [_example_song()]},
        ),
        __doc__=(
            "One song's features. The audio features are required; the context features (year, "
            "mode, time_signature, explicit) only when the chosen model uses them; id, title "
            "and artist are optional and echoed back. Unknown fields are rejected."
        ),
        **fields,
    )


def _example_song() -> dict[str, float | int]:
    return {name: TYPICAL_SONG[name] for name in config.AUDIO_FEATURES}


Song = _song_model()


@dataclass(frozen=True)
class InvalidRecord:
    """A record of a list that failed validation, kept so the rest of the list is still scored.

    Attributes:
        errors: its pydantic errors; their `loc` starts inside the record (e.g. `("tempo",)`).
    """

    errors: list[dict[str, Any]]


def _keep_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        return InvalidRecord(exc.errors(include_url=False))


BatchSong = Annotated[Song, WrapValidator(_keep_invalid)]  # type: ignore[valid-type]
"""A song in a list: validated like `Song`, but an invalid one becomes an `InvalidRecord`."""


class PredictRequest(BaseModel):
    """The explicit form of a prediction request: records plus options."""

    model_config = ConfigDict(extra="forbid")

    records: list[BatchSong] = Field(
        min_length=1,
        max_length=MAX_RECORDS,
        description="The songs to score; invalid ones are reported in `errors`, the rest scored.",
    )
    explain: bool = Field(
        False, strict=True, description="Add, for each song, the features that pushed it."
    )
    model: str | None = Field(None, description="Model id (see GET /models); default: the first.")
    similar: int = Field(
        0,
        ge=0,
        le=MAX_SIMILAR,
        strict=True,
        description="How many nearest training songs to add per song.",
    )


SPOTIFY_PATTERN = (
    r"^\s*(https?://open\.spotify\.com/(intl-[a-zA-Z]{2}(-[a-zA-Z]{2})?/)?track/[0-9A-Za-z]{22}/?"
    r"(\?[^#]*)?(#.*)?|spotify:track:[0-9A-Za-z]{22}|[0-9A-Za-z]{22})\s*$"
)
"""The Spotify track references songpop takes (`inference.inputs.lookup.parse_spotify`)."""


def _track_reference(value: str) -> str:

    try:
        parse_spotify(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return value


class SpotifyRef(BaseModel):
    """A known song by its Spotify link, URI or id: looked up in the local catalogue and
    predicted from its real features."""

    model_config = ConfigDict(extra="forbid")

    spotify: Annotated[str, AfterValidator(_track_reference)] = Field(
        description="https://open.spotify.com/track/<id>, spotify:track:<id> or the 22-character "
        "id.",
        json_schema_extra={"pattern": SPOTIFY_PATTERN},
    )


class TitleRef(BaseModel):
    """A known song by title (and artist): looked up in the local catalogue (as the build
    matches songs) and predicted from its real features."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    artist: str | None = Field(None, max_length=300)


def _body_kind(value: Any) -> str | None:
    """Which form a prediction body takes: a request envelope, one song, a list of songs, or a
    reference to a known song (`spotify`, or `title` without any feature)."""
    if isinstance(value, list):
        return "songs"
    if isinstance(value, dict):
        if "records" in value:
            return "request"
        if "spotify" in value:
            return "spotify"
        if "title" in value and not set(value) & set(vocabulary.KNOWN_FEATURES):
            return "title"
        return "song"
    if isinstance(value, BaseModel):
        if isinstance(value, SpotifyRef):
            return "spotify"
        if isinstance(value, TitleRef):
            return "title"
        return "request" if isinstance(value, PredictRequest) else "song"
    return None


PredictBody = Annotated[
    Annotated[PredictRequest, Tag("request")]
    | Annotated[SpotifyRef, Tag("spotify")]
    | Annotated[TitleRef, Tag("title")]
    | Annotated[Song, Tag("song")]  # type: ignore[valid-type]
    | Annotated[
        list[BatchSong],
        Tag("songs"),
        Field(min_length=1, max_length=MAX_RECORDS),
    ],
    Discriminator(
        _body_kind,
        custom_error_type="body_form",
        custom_error_message=(
            "the body must be a song object, a list of song objects, {'records': [...]}, "
            "{'spotify': '<link or id>'} or {'title': ..., 'artist': ...}"
        ),
    ),
]
"""A `POST /predict` body: one song, a list of songs, a `PredictRequest`, a `SpotifyRef` or a
`TitleRef`."""


class Contribution(BaseModel):
    """How one feature moved a prediction."""

    feature: str
    value: float = Field(description="The song's value of the feature.")
    contribution: float = Field(
        description="Its push on the predicted level's score (in `unit`); positive pushes up."
    )
    direction: str = Field(description="'up' or 'down'.")
    percentile: float | None = Field(
        None,
        description="Share (0-100) of the reference songs below this value, or in this category.",
    )
    text: str = Field(description="The same in plain words.")


class Explanation(BaseModel):
    """Why a song got its level: each feature's push, strongest first."""

    target: str = Field(description="The class explained (the predicted level).")
    unit: str = Field(description="'log-odds' or 'probability'.")
    method: str = Field(description="'tree_shap' or 'permutation_shap'.")
    base_value: float
    output_value: float
    contributions: list[Contribution]


class SimilarSongOut(BaseModel):
    """A song the model learned from, near the one predicted, and what happened to it."""

    title: str
    artist: str
    year: int | None = Field(None, description="Release year (or first year of its decade).")
    decade: bool = Field(False, description="`year` is the first year of a decade.")
    peak: int | None = Field(None, description="Best Hot 100 position; null: never charted.")
    weeks: int | None = Field(
        None,
        description="Weeks on the Hot 100: the distinct weekly charts it was on (0: never "
        "charted), as a title lookup counts them.",
    )
    popularity: float | None = Field(None, description="Spotify popularity, 0-100.")
    level: str = Field(description="Its class, e.g. 'high', 'hit'.")
    words: str = Field(description="Its class in plain words.")
    distance: float = Field(description="Distance in the model's standardised features.")


class PredictionOut(BaseModel):
    """The prediction for one song."""

    index: int = Field(0, description="The song's 0-based position in the records sent.")
    level: str = Field(description="The predicted class, one of the model's classes.")
    probabilities: dict[str, float] = Field(description="Probability of each class; sums to 1.")
    model_id: str
    explanation: Explanation | None = None
    ids: dict[str, str] = Field(
        default_factory=dict, description="The id, title and artist the song was sent with."
    )
    ignored_fields: list[str] = Field(
        default_factory=list, description="Features sent that this model does not use."
    )
    sources: dict[str, str] | None = Field(
        None, description="Where each feature came from, when songpop found it (catalogue:<file>)."
    )
    song: dict[str, Any] | None = Field(
        None,
        description="The catalogue song predicted (title, artist, year, file, match, its "
        "features and what happened to it on the Hot 100), for a `spotify` or `title` body.",
    )
    known: dict[str, Any] | None = Field(
        None,
        description="For a `spotify` or `title` body, when the song is one of the model's own: "
        "`role` ('training' or 'test'), `model_id`, its real `level` and `words`, "
        "`popularity`, and `line`, the same in one sentence; null otherwise.",
    )
    words: str = Field("", description="`level` in plain words, e.g. 'high popularity'.")
    confidence: str | None = Field(
        None,
        description="How often the model was right on held-out songs when it was as sure.",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Why the song is unlike the training songs (a value outside their range, "
        "or no training song near it); empty when nothing is unusual.",
    )
    similar: list[SimilarSongOut] = Field(
        default_factory=list, description="The nearest training songs (ask with `similar`)."
    )
    positions_svg: str | None = Field(
        None,
        description="With explain: an SVG of where the song sits among each level's training "
        "songs, one small chart per feature.",
    )


class ErrorItem(BaseModel):
    """One problem in a request."""

    loc: list[str | int]
    field: str | None = None
    msg: str
    type: str


class RecordErrors(BaseModel):
    """Why one record of a list was not scored."""

    index: int = Field(description="The record's 0-based position in the records sent.")
    problems: list[ErrorItem] = Field(description="Each bad value, naming field and range.")


class PredictResponse(BaseModel):
    """Predictions of the valid records, in the order sent; the invalid ones in `errors`."""

    model_id: str
    classes: list[str]
    predictions: list[PredictionOut]
    errors: list[RecordErrors] = Field(
        default_factory=list,
        description="The records of a list that were not scored, with their problems.",
    )
    new_song: list[dict[str, Any]] | None = Field(
        None,
        description="Without a model id, for one song: the answer for a new song, first. The "
        "chance to reach the Hot 100 among the releases of its year (`chance`, `year`, "
        "`year_source`, `base_rate`), the artist's chart record before that year (`history`, "
        "filled from the weekly charts when `artist` is sent), the level within its release "
        "era (`era_level`, `era_words`), each model's forward-in-time figure and `lines`: the "
        "answer in words.",
    )


class ModelInfo(BaseModel):
    """What `GET /models` says about one loaded model."""

    id: str
    title: str = Field("", description="The model in plain words: task, features, model.")
    task: str | None = Field(None, description="The task it was trained for, e.g. 'seed', 'hit'.")
    label_strategy: str | None = Field(None, description="How its training labels were made.")
    classes: list[str]
    feature_names: list[str]
    feature_set: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, description="Summary of test metrics.")
    default: bool = Field(False, description="Used when a request names no model.")
    about: dict[str, Any] = Field(
        default_factory=dict,
        description="For readers: `classes` in plain words, what each level means (`levels`), "
        "the accuracy on held-out songs with its interval and baselines (`accuracy`), and how "
        "often each confidence band was right (`calibration`).",
    )


class Health(BaseModel):
    """`GET /health`."""

    status: str
    version: str
    models_loaded: int
    models: list[str]


class FeatureSpec(BaseModel):
    """One input of the web form: its valid range, unit and typical value."""

    name: str
    label: str
    description: str
    unit: str | None
    kind: str = Field(description="'float' or 'int'.")
    min: float
    max: float
    step: float
    default: float
    group: str = Field(description="'audio' or 'context'.")
    used_by: list[str] = Field(description="Ids of the loaded models that use this feature.")


class FeatureSchema(BaseModel):
    """`GET /schema/features`."""

    features: list[FeatureSpec]
    defaults_source: str = Field(description="Where the default values come from.")
    new_song: bool = Field(
        False,
        description="Whether a request without a model id gets the answer for a new song "
        "(the server serves the last run's default); its release year may then be left out.",
    )


class ErrorResponse(BaseModel):
    """A 4xx answer."""

    detail: str | list[ErrorItem]

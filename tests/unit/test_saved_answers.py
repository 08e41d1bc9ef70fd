"""Saved Spotify and ReccoBeats answers as prediction input (`inference.inputs.saved`)."""

from __future__ import annotations

import pytest

from songpop.errors import InputError
from songpop.inference.inputs.saved import is_saved_answer, saved_records

SID = "0NBkXEbOvbGyUgPHVdW3k1"
FEATURES = {
    "danceability": 0.942, "energy": 0.476, "key": 10, "loudness": -7.778, "mode": 0,
    "speechiness": 0.0499, "acousticness": 0.191, "instrumentalness": 0.000487,
    "liveness": 0.0949, "valence": 0.721, "tempo": 120.984, "duration_ms": 164262,
    "time_signature": 4,
}  # fmt: skip
SPOTIFY = {
    **FEATURES,
    "type": "audio_features",
    "id": SID,
    "uri": f"spotify:track:{SID}",
    "track_href": f"https://api.spotify.com/v1/tracks/{SID}",
    "analysis_url": f"https://api.spotify.com/v1/audio-analysis/{SID}",
}
RECCOBEATS = {
    **{k: v for k, v in FEATURES.items() if k not in ("duration_ms", "time_signature")},
    "id": "2670c328-c40f-45f4-80df-f48b29296deb",
    "href": f"https://open.spotify.com/track/{SID}",
}


@pytest.mark.parametrize(
    "document",
    [{"audio_features": [SPOTIFY, None]}, SPOTIFY, [SPOTIFY], {"content": [RECCOBEATS]}],
)
def test_each_saved_shape_gives_records_with_the_spotify_id(document) -> None:
    assert is_saved_answer(document)
    records, positions, provider = saved_records(document, "answer.json")
    assert len(records) == 1 and positions == [0]
    record = records[0]
    assert record["id"] == SID
    assert not {"type", "uri", "track_href", "analysis_url", "href"} & set(record)
    assert record["danceability"] == 0.942
    assert provider == ("reccobeats" if "content" in document else "spotify")


def test_nulls_are_skipped_and_positions_kept() -> None:
    records, positions, _ = saved_records({"audio_features": [None, SPOTIFY]}, "a.json")
    assert positions == [1] and len(records) == 1
    with pytest.raises(InputError, match="holds no audio-features entry"):
        saved_records({"audio_features": [None]}, "a.json")
    with pytest.raises(InputError, match="entry 0 of the spotify answer is a str"):
        saved_records({"audio_features": ["x"]}, "a.json")


def test_plain_records_are_not_taken_for_answers() -> None:
    assert not is_saved_answer(FEATURES)
    assert not is_saved_answer([FEATURES])
    assert not is_saved_answer("text")

"""Unit tests: title/artist normalisation, the seed rule, and artist parsing for every layout."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from songpop.prepare.normalize import (
    add_keys,
    normalize_text,
    parse_artists,
    seed_normalize,
    split_artists,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Frédéric", "frederic"),
        ("Señorita", "senorita"),
        ("Beyoncé Knowles", "beyonce knowles"),
        ("Mötley Crüe", "motley crue"),
        ("Hey Jude - Remastered 2015", "hey jude"),
        ("Yesterday - 2009 Remaster", "yesterday"),
        ("I Don't Care (with Justin Bieber) - Loud Luxury Remix", "i dont care"),
        ("Umbrella (feat. JAY-Z)", "umbrella"),
        ("Bad Guy [Radio Edit]", "bad guy"),
        ("(I Can't Get No) Satisfaction", "i cant get no satisfaction"),
        ("Rock  &   Roll!!", "rock and roll"),
        ("Go D.J.", "go dj"),
        ("Don\u2019t Stop", "dont stop"),
        ("  Stay   ", "stay"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_text_series_keeps_index_and_na() -> None:
    values = pd.Series(["Café", None, "Café", "Hello - Live"], index=[10, 11, 12, 13])
    out = normalize_text(values)
    assert list(out.index) == [10, 11, 12, 13]
    assert out[10] == "cafe" and out[12] == "cafe" and out[13] == "hello"
    assert pd.isna(out[11])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Frédéric", "frdric"),  # accents dropped, not transliterated
        ("Bonnie & Clyde", "bonnie  clyde"),  # spaces not collapsed
        ("['Drake', 'Rihanna']", "drake rihanna"),
        ("0 To 100 / The Catch Up", "0 to 100  the catch up"),
    ],
)
def test_seed_normalize_is_the_original_rule(raw: str, expected: str) -> None:
    assert seed_normalize(raw) == expected
    assert seed_normalize(pd.Series([raw]))[0] == expected


@pytest.mark.parametrize(
    ("field", "primary", "featured", "lead"),
    [
        ("['Drake', 'Rihanna']", "Drake", ["Rihanna"], "Drake"),
        (
            "['Earth, Wind & Fire', 'The Emotions']",
            "Earth, Wind & Fire",
            ["The Emotions"],
            "Earth, Wind & Fire",
        ),
        ("Jay-Z Featuring Beyonce Knowles", "Jay-Z", ["Beyonce Knowles"], "Jay-Z"),
        ("Drake feat. Rihanna", "Drake", ["Rihanna"], "Drake"),
        ("Post Malone ft. Swae Lee", "Post Malone", ["Swae Lee"], "Post Malone"),
        ("Ed Sheeran (feat. Justin Bieber)", "Ed Sheeran", ["Justin Bieber"], "Ed Sheeran"),
        (
            "Elvis Presley With The Jordanaires",
            "Elvis Presley",
            ["The Jordanaires"],
            "Elvis Presley",
        ),
        ("Calvin Harris & Disciples", "Calvin Harris", ["Disciples"], "Calvin Harris & Disciples"),
        ("Jack Harlow x Drake", "Jack Harlow", ["Drake"], "Jack Harlow x Drake"),
        ("Kanye West, Jay-Z", "Kanye West", ["Jay-Z"], "Kanye West, Jay-Z"),
        ("Peaches And Herb", "Peaches", ["Herb"], "Peaches And Herb"),
        ("Simon & Garfunkel", "Simon", ["Garfunkel"], "Simon & Garfunkel"),
        ("Earth, Wind & Fire", "Earth", ["Wind", "Fire"], "Earth, Wind & Fire"),
        ("A, B & C Featuring D x E", "A", ["B", "C", "D", "E"], "A, B & C"),
        ("AC/DC", "AC/DC", [], "AC/DC"),
        ("Lil Nas X", "Lil Nas X", [], "Lil Nas X"),
        ("", "", [], ""),
    ],
)
def test_parse_artists_every_layout(
    field: str, primary: str, featured: list[str], lead: str
) -> None:
    parsed = parse_artists(field)
    assert parsed.primary == primary
    assert parsed.featured == featured
    assert parsed.lead == lead


def test_band_names_keep_their_full_name_as_lead_key() -> None:
    table = pd.DataFrame(
        {
            "title": ["September", "September"],
            "artist": ["Earth, Wind & Fire", "['Earth, Wind & Fire']"],
        }
    )
    keyed = add_keys(table)
    # The chart's string layout and Spotify's list layout disagree on the primary artist...
    assert keyed["norm_artist"].tolist() == ["earth", "earth wind and fire"]
    # ...but meet on the lead, which the matcher also tries.
    assert keyed["norm_lead"].nunique() == 1


def test_split_artists_vectorised() -> None:
    out = split_artists(pd.Series(["A feat. B & C", None, "A feat. B & C"]))
    assert out["primary_artist"].tolist() == ["A", "", "A"]
    assert out["featured_artists"].tolist() == ["B; C", "", "B; C"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_normalize_text_output_is_a_clean_fixed_point(text: str) -> None:
    out = normalize_text(text)
    assert set(out) <= set("abcdefghijklmnopqrstuvwxyz0123456789 ")
    assert "  " not in out and out == out.strip()
    assert normalize_text(out) == out

"""Normalise titles and artist names into match keys, and split artist fields.

Two rules live here:

* `normalize_text` is songpop's rule: transliterate accents (é → e), lowercase, strip
  version tags ("(feat. X)", "[Remastered]", " - Remastered 2011", " - Radio Edit"), drop
  punctuation, collapse spaces.
* `seed_normalize` is the original project's rule, kept bit for bit so the seed profile can
  reproduce its numbers: lowercase, then drop every character outside ``[a-z0-9 ]`` (accented
  letters are lost: "frédéric" → "frdric"; spaces are not collapsed).

Artist fields come in many layouts. `parse_artists` turns each into a *primary* artist, a list
of *featured* artists and a *lead* (see its docstring for the rule, and why band names such as
"Simon & Garfunkel" keep their full name as the lead).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import NamedTuple, overload

import pandas as pd
from unidecode import unidecode

# Words that mark a bracketed group or a trailing " - ..." part as a version tag, not as part of
# the title ("(I Can't Get No) Satisfaction" keeps its brackets' words).
_VERSION_WORDS = (
    r"feat|featuring|ft|with|remaster(?:ed)?|remix(?:ed)?|mix|edit|version|live|mono|stereo|"
    r"single|album|radio|demo|acoustic|instrumental|explicit|clean|bonus|deluxe|original|"
    r"extended|re-?recorded|recorded|from|soundtrack|acapella|a cappella|unplugged|session|"
    r"take|vocal|dub|reprise|anniversary|\d{4}"
)
_BRACKETED_TAG = re.compile(
    rf"\s*[\(\[\{{][^\)\]\}}]*\b(?:{_VERSION_WORDS})\b[^\)\]\}}]*[\)\]\}}]", re.IGNORECASE
)
_DASH_TAG = re.compile(rf"\s+[-–—]\s+[^-–—]*\b(?:{_VERSION_WORDS})\b.*$", re.IGNORECASE)
# Apostrophes, dots and hyphens inside words join ("don't" → dont, "D.J." → dj, "O-Town" →
# otown), as the seed rule does; every other punctuation mark separates words.
_JOINED = re.compile(r"['\u2019.]|(?<=\w)-(?=\w)")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SEED_DROP = re.compile(r"[^a-z0-9 ]")

# Artist separators. A "featuring" separator splits the lead act from guests; a "joint"
# separator splits co-billed artists (and, unavoidably, band names like "Earth, Wind & Fire").
_FEATURING = re.compile(
    r"\s*[\(\[]\s*(?:feat\.?|featuring|ft\.?|with)\s+|"
    r"\s+(?:featuring|feat\.?|ft\.?|with|duet with|introducing)\s+",
    re.IGNORECASE,
)
_JOINT = re.compile(r"\s*,\s*|\s+(?:&|and|x|\+|/|vs\.?|versus|y)\s+", re.IGNORECASE)
_LIST_LAYOUT = re.compile(r"^\s*\[.*\]\s*$", re.DOTALL)


def _normalize_one(text: str) -> str:
    if not text.isascii():
        text = unidecode(text)
    # The tag patterns are slow; most titles have no bracket or dash to look at.
    if "(" in text or "[" in text or "{" in text:
        text = _BRACKETED_TAG.sub(" ", text)
    if "-" in text or "\u2013" in text or "\u2014" in text:
        text = _DASH_TAG.sub("", text)
    text = _JOINED.sub("", text.lower().replace("&", " and "))
    return _NON_ALNUM.sub(" ", text).strip()


def _seed_one(text: str) -> str:
    return _SEED_DROP.sub("", text.lower())


def _as_list(uniques: object) -> list[object]:
    """Distinct values as a Python list (iterating an Arrow-backed array item by item is slow)."""
    if hasattr(uniques, "to_numpy"):
        return uniques.to_numpy(dtype=object, na_value=None).tolist()
    return list(uniques)  # type: ignore[call-overload]


def _map_unique(values: pd.Series, func: Callable[[str], str]) -> pd.Series:
    """Apply `func` once per distinct value (titles repeat a lot) and map back; NA stays NA."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = pd.array([func(str(u)) for u in _as_list(uniques)], dtype="string")
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    present = codes >= 0
    out[present] = mapped[codes[present]]
    return out


@overload
def normalize_text(values: str) -> str: ...
@overload
def normalize_text(values: pd.Series) -> pd.Series: ...
def normalize_text(values: str | pd.Series) -> str | pd.Series:
    """Normalise a title or artist name into a match key.

    Transliterates accents (é → e), strips bracketed version tags ("(feat. X)",
    "[2011 Remaster]") and trailing " - Remastered 2011" style suffixes, turns "&" into "and",
    joins words split by apostrophes, dots and inner hyphens (don't → dont, D.J. → dj,
    O-Town → otown), turns every other punctuation mark into a space, lowercases and
    collapses spaces.

    Args:
        values: one string, or a Series of strings (NA stays NA). A Series is processed once
            per distinct value.

    Returns:
        The normalised string, or a string Series with the same index.
    """
    if isinstance(values, pd.Series):
        return _map_unique(values, _normalize_one)
    return _normalize_one(values)


@overload
def seed_normalize(values: str) -> str: ...
@overload
def seed_normalize(values: pd.Series) -> pd.Series: ...
def seed_normalize(values: str | pd.Series) -> str | pd.Series:
    """The original project's rule: lowercase, then drop every character outside ``[a-z0-9 ]``.

    Accented letters are dropped, not transliterated ("Frédéric" → "frdric"), and spaces are
    not collapsed ("Bonnie & Clyde" → "bonnie  clyde"), exactly as the original code did.
    Spotify's list layout "['A', 'B']" therefore becomes "a b".

    Args:
        values: one string, or a Series of strings (NA stays NA).

    Returns:
        The key, or a string Series with the same index.
    """
    if isinstance(values, pd.Series):
        return _map_unique(values, _seed_one)
    return _seed_one(values)


class Artists(NamedTuple):
    """An artist field split into its parts (raw spelling kept; normalise separately)."""

    primary: str
    featured: list[str]
    lead: str


def _split_list_layout(field: str) -> list[str] | None:
    if not _LIST_LAYOUT.match(field):
        return None
    try:
        parsed = ast.literal_eval(field)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(parsed, list | tuple):
        return None
    return [str(p).strip() for p in parsed if str(p).strip()]


def parse_artists(field: str) -> Artists:
    """Split an artist field of any layout into primary artist, featured artists and lead.

    The rule:

    1. Spotify's list layout "['A', 'B']": each element is one whole artist; the first is the
       primary (and the lead), the others are featured.
    2. Otherwise the field is cut at the first *featuring* separator ("Featuring", "feat.",
       "ft.", "With", "(feat. X)"): the part before it is the **lead** act, the parts after are
       guests.
    3. The lead is cut again at the first *joint* separator ("&", "and", "x", ",", "+", "/",
       "vs."): the part before it is the **primary** artist, the rest are featured too.

    Band names that contain a joint separator ("Simon & Garfunkel", "Earth, Wind & Fire") get
    a primary that is only their first word(s) ("Simon", "Earth") — there is no way to tell
    "A & B" duos from band names without a list of bands. That is why the **lead** (the whole
    "Earth, Wind & Fire") is kept as well: the matcher tries both keys, so a Spotify list entry
    "['Earth, Wind & Fire']" still meets the chart's "Earth, Wind & Fire".

    Args:
        field: the raw artist field.

    Returns:
        `Artists(primary, featured, lead)`; empty strings when the field is empty.
    """
    field = (field or "").strip()
    listed = _split_list_layout(field)
    if listed is not None:
        if not listed:
            return Artists("", [], "")
        return Artists(listed[0], listed[1:], listed[0])
    parts = _FEATURING.split(field, maxsplit=1)
    lead = parts[0].strip(" ()[]")
    guests_text = parts[1].strip(" ()[]") if len(parts) > 1 else ""
    lead_parts = [p.strip() for p in _JOINT.split(lead) if p and p.strip()]
    guests = [p.strip(" ()[]") for p in _JOINT.split(guests_text) if p and p.strip(" ()[]")]
    guests = [g for g in (_FEATURING.split(g)[-1] for g in guests) if g]
    if not lead_parts:
        return Artists(lead, guests, lead)
    return Artists(lead_parts[0], lead_parts[1:] + guests, lead)


def split_artists(values: pd.Series) -> pd.DataFrame:
    """Vectorised `parse_artists` over a Series, once per distinct value.

    Args:
        values: raw artist fields (NA is read as empty).

    Returns:
        A DataFrame with the same index and string columns `primary_artist`,
        `featured_artists` (joined with "; ") and `lead_artist`.
    """
    codes, uniques = pd.factorize(values.fillna(""), use_na_sentinel=True)
    parsed = [parse_artists(str(u)) for u in _as_list(uniques)]
    primary = pd.array([p.primary for p in parsed], dtype="string")
    featured = pd.array(["; ".join(p.featured) for p in parsed], dtype="string")
    lead = pd.array([p.lead for p in parsed], dtype="string")
    return pd.DataFrame(
        {
            "primary_artist": primary[codes],
            "featured_artists": featured[codes],
            "lead_artist": lead[codes],
        },
        index=values.index,
    )


def add_keys(table: pd.DataFrame, title: str = "title", artist: str = "artist") -> pd.DataFrame:
    """Add the parsed artist columns and the normalised match keys to a table.

    Args:
        table: any table with a title column and a raw artist column.
        title: name of the title column.
        artist: name of the artist column.

    Returns:
        A copy with `primary_artist`, `featured_artists`, `lead_artist`, `norm_title`,
        `norm_artist` (normalised primary) and `norm_lead` (normalised lead) added.
    """
    out = table.copy()
    parts = split_artists(out[artist])
    for column in parts.columns:
        out[column] = parts[column]
    out["norm_title"] = normalize_text(out[title].astype("string"))
    out["norm_artist"] = normalize_text(out["primary_artist"])
    out["norm_lead"] = normalize_text(out["lead_artist"])
    return out

"""A song named rather than described: by a Spotify link, URI or id, by its title and artist, or
by an audio file's tags. The one place that decides which song that is.

- `parse_reference(text)`: a Spotify link / URI / id, or a title (a malformed link is refused).
- `find_songs(ids, title, artist, online=...)`: the local catalogue first (`inputs.lookup`);
  what it lacks is asked of the feature APIs (`songpop.providers`) only when `online` is set
  (the CLI's `--online`, the server's `serve --online`). A title the catalogue does not hold is
  answered with the data's horizon (`inputs.horizon`): a song on the Hot 100 after the feature
  tables end is said to be newer than them; a title whose only match is decades away from a
  same-titled chart hit asks for the artist instead of picking one silently.
- `list_candidates(text, artist, ...)`: the candidates a person chooses from (`songpop lookup`,
  the API's /lookup and the page's search).
- `tagged_song(title, artist, catalogue)`: the catalogue song an audio file's tags name.
- `catalogue_or_none()`: the catalogue, or None with the reason, for the paths that work
  without one (an audio file is analysed whether or not its tags can be looked up).

Nothing here prints: the provider notes travel in `Found.notes`, and a song that cannot be found
raises `SongNotFound` (an `InputError`, so one line in the CLI; 404 in the API).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from songpop.errors import InputError, SongpopError
from songpop.inference.inputs import horizon
from songpop.inference.inputs.lookup import load_catalogue, looks_like_spotify, parse_spotify

if TYPE_CHECKING:
    from songpop.inference.inputs.lookup import Candidate, Catalogue


class SongNotFound(InputError):
    """Neither the local catalogue nor (when asked) the feature APIs hold the named song.

    `str()` is the whole message for a person at the command line, with what to do there;
    `fact` says only what was looked for and where, for an interface that words its own hints
    (the API).
    """

    def __init__(self, fact: str, hint: str = "") -> None:
        super().__init__(f"{fact}{hint}")
        self.fact = fact


@dataclass
class Found:
    """The songs found, in the order asked (ids first, then the title), and the notes the
    feature APIs left (a missing credential, a provider that did not answer)."""

    songs: list[Candidate]
    notes: list[str] = field(default_factory=list)


def parse_reference(text: str) -> tuple[str | None, str | None]:
    """(Spotify track id, None) for a Spotify link, URI or bare id; (None, title) otherwise.

    Raises:
        InputError: the text looks like a Spotify link but is not a track's.
    """
    if looks_like_spotify(text):
        return parse_spotify(text), None
    return None, text


def list_candidates(
    text: str, artist: str | None = None, *, limit: int = 5, prefix: bool = False
) -> list[Candidate]:
    """The catalogue's candidates for a title or a Spotify reference, best first: the songs
    with that id; titles starting with `text` when `prefix` (suggestions while typing); else
    the build's title match (exact, else fuzzy at 90 or above). No candidate is never a guess.

    This is `songpop.lookup` (docs/python-api.md). It never opens a connection; the feature
    APIs are `find_songs(..., online=True)`.

    Args:
        text: a title, or a Spotify track link (`https://open.spotify.com/track/<id>`), URI
            (`spotify:track:<id>`) or 22-character id.
        artist: the artist, to narrow a title's match.
        limit: how many candidates at most.
        prefix: match titles that start with `text` instead.

    Returns:
        The candidates (`Candidate`: title, artist, year, features, chart history and where
        they came from; `.record()` is a prediction record); empty when nothing matches.

    Raises:
        InputError: a Spotify link that is not a track's (an album, a playlist).
        DataNotFoundError: the data folder (`$SONGPOP_DATA_DIR`) holds no track table.
    """
    ident, title = parse_reference(text)
    catalogue = load_catalogue()
    if ident is not None:
        return catalogue.by_id(ident)[:limit]
    assert title is not None
    if prefix:
        return catalogue.suggest(title, limit=limit)
    return catalogue.search(title, artist, limit=limit)


def find_songs(
    ids: list[str],
    title: str | None,
    artist: str | None,
    *,
    online: bool = False,
    catalogue: Catalogue | None = None,
) -> Found:
    """One song per Spotify id and one for the title, from the local catalogue, else online.

    Args:
        ids: Spotify track ids (`parse_reference` makes them from links).
        title: a title to find (the best match), or None.
        artist: narrows the title's match.
        online: ask the feature APIs (ReccoBeats, Spotify) for what the catalogue lacks.
        catalogue: the loaded catalogue (default: `load_catalogue()`).

    Returns:
        The songs and the providers' notes.

    Raises:
        SongNotFound: a song is in neither; the message says where songpop looked, the data's
            horizon, and what to do instead.
        InputError: the title's only match is a namesake decades away from a chart hit of the
            same title: the artist is asked for.
    """
    catalogue = catalogue if catalogue is not None else load_catalogue()
    found: list[Candidate] = []
    missing_ids: list[str] = []
    for ident in ids:
        hits = catalogue.by_id(ident)
        if hits:
            found.append(hits[0])
        else:
            missing_ids.append(ident)
    hits = catalogue.search(title, artist, limit=1) if title else []
    if hits and title and not artist:
        question = horizon.namesake(catalogue, title, hits[0])
        if question:
            raise InputError(question)
    found += hits
    missing_title = title if title and not hits else None
    if not (missing_ids or missing_title):
        return Found(found)
    if missing_title and not online:
        later = horizon.beyond_the_tables(catalogue, missing_title, artist)
        if later:
            raise SongNotFound(
                later, ": analyse its audio (`songpop predict FILE`) or use --online"
            )
    where = (
        f"the local catalogue ({len(catalogue):,} tracks of the data folder; "
        f"{horizon.horizon(catalogue).words()})"
    )
    if not online:
        what = (
            f"Spotify track(s) {', '.join(missing_ids)}"
            if missing_ids
            else f"{title!r}" + (f" by {artist!r}" if artist else "")
        )
        spelling = (
            "" if missing_ids else "check the spelling (`songpop lookup` shows near titles), "
        )
        raise SongNotFound(
            f"{what}: not in {where}",
            "; a newer song: analyse its audio (`songpop predict FILE`) or add --online to ask "
            f"ReccoBeats and Spotify; else {spelling}give the song's features",
        )
    from songpop.providers.resolve import Providers, candidates_online  # network: only online

    providers = Providers.from_environment()
    try:
        online_found = candidates_online(providers, missing_ids, missing_title, artist)
    finally:
        providers.close()
    got = {c.track_id for c in online_found}
    lost = [i for i in missing_ids if i not in got]
    if lost or (missing_title and not any(c.how == "search" for c in online_found)):
        what = ", ".join(lost) if lost else repr(missing_title)
        raise SongNotFound(f"{what}: not in {where}, and no feature provider has it")
    return Found(found + online_found, list(providers.notes))


def year_source(song: Candidate) -> str | None:
    """Where a found song's release year comes from, in words; None when it has none."""
    if song.year is None:
        return None
    return f"from {song.provider}" if song.provider else "from the local catalogue"


def tagged_song(title: str | None, artist: str | None, catalogue: Any) -> Candidate | None:
    """The catalogue song an audio file's tags name: both title and artist tagged, matched by
    the build's rules; None when either is missing or the catalogue has no such song."""
    if catalogue is None or not title or not artist:
        return None
    found = catalogue.search(title, artist, limit=1)
    return found[0] if found else None


def catalogue_or_none() -> tuple[Catalogue | None, str | None]:
    """The local catalogue, or (None, why) when the data folder has none to read."""
    try:
        return load_catalogue(), None
    except SongpopError as exc:
        return None, str(exc)

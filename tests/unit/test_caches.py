"""Caches live outside the data folder (issue #24): the data folder may be shared or read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from songpop.config import cache_dir
from songpop.inference.inputs.lookup import cache_folder
from songpop.providers.cache import default_path


def test_without_songpop_cache_dir_the_user_cache_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SONGPOP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # platformdirs' Linux rule
    data = tmp_path / "data"
    data.mkdir()
    assert cache_dir() == tmp_path / "xdg" / "songpop"
    index = cache_folder(data)
    assert index.parent == tmp_path / "xdg" / "songpop" and index.is_dir()
    assert default_path() == tmp_path / "xdg" / "songpop" / "providers.sqlite"
    assert list(data.iterdir()) == []  # nothing written beside the data


def test_songpop_cache_dir_wins_and_each_data_folder_has_its_own_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGPOP_CACHE_DIR", str(tmp_path / "mine"))
    one, two = tmp_path / "a", tmp_path / "b"
    one.mkdir(), two.mkdir()
    assert cache_folder(one).parent == tmp_path / "mine"
    assert cache_folder(one) != cache_folder(two)
    assert cache_folder(one) == cache_folder(one)


def test_a_cache_folder_that_cannot_be_made_keeps_the_catalogue_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from songpop.inference.inputs import lookup

    (tmp_path / "tracks").mkdir()
    pd.DataFrame(
        {"track_name": ["Song A"], "artist_name": ["Artist"], "danceability": [0.5]}
    ).to_csv(tmp_path / "tracks" / "mine.csv", index=False)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("SONGPOP_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(lookup, "build_index", lambda folder: pd.DataFrame({"x": [1]}))
    monkeypatch.setattr(lookup, "Catalogue", lambda index, folder: ("catalogue", len(index)))
    assert lookup.load_catalogue(tmp_path) == ("catalogue", 1)  # no OSError escapes

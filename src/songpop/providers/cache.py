"""A persistent cache of provider answers (sqlite, from the standard library), so that no id
is fetched twice: one row per (provider, kind, key) with the JSON answer and when it came.
An answer older than the age limit is fetched again. "Not found" is cached too (as null), so
an unknown id is not asked for on every run either.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from songpop.config import cache_dir

MAX_AGE_DAYS = 30.0
_MISSING = object()


def default_path() -> Path:
    """`providers.sqlite` in songpop's cache folder (`songpop.config.cache_dir`)."""

    return cache_dir() / "providers.sqlite"


class AnswerCache:
    """Cached provider answers.

    Args:
        path: the sqlite file (created when missing).
        max_age_days: answers older than this count as absent.
    """

    def __init__(self, path: Path | None = None, max_age_days: float = MAX_AGE_DAYS) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.max_age = max_age_days * 86_400
        self._db = sqlite3.connect(self.path, timeout=30)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (provider TEXT, kind TEXT, key TEXT, "
                "body TEXT, fetched REAL, PRIMARY KEY (provider, kind, key))"
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def get_many(self, provider: str, kind: str, keys: list[str]) -> dict[str, Any]:
        """The fresh cached answers of `keys` (None for a cached "not found")."""
        found: dict[str, Any] = {}
        oldest = time.time() - self.max_age
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, body FROM answers WHERE provider=? AND kind=? AND fetched>=? "
                f"AND key IN ({marks})",
                [provider, kind, oldest, *part],
            )
            for key, body in rows:
                found[key] = json.loads(body)
        return found

    def put_many(self, provider: str, kind: str, answers: dict[str, Any]) -> None:
        """Store answers (None: the provider does not know the key)."""
        now = time.time()
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                [(provider, kind, k, json.dumps(v), now) for k, v in answers.items()],
            )

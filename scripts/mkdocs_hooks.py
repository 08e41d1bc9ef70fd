"""mkdocs hook: the README is the site's home page, so the front page has one source.

The README links to the other pages as `docs/<page>.md` (right on a code host, where it sits
above docs/); on the site it lives inside docs/, so those links lose their `docs/` prefix.
Anything else it links to must exist inside docs/, or the strict build fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

README = Path(__file__).resolve().parents[1] / "README.md"


def home_page(text: str) -> str:
    """The README's text as the site's index.md: `](docs/x.md)` → `](x.md)`."""
    return re.sub(r"\]\(docs/", "](", text)


def on_files(files: Files, config: Any) -> Files:
    if files.get_file_from_path("index.md") is None:
        text = home_page(README.read_text(encoding="utf-8"))
        files.append(File.generated(config, "index.md", content=text))
    return files

"""A report section on disk: its CSVs, its figures and its `section.json` manifest.

`SectionWriter` collects what a section shows while a stage writes it, and `write_manifest`
writes the manifest (docs/architecture.md) that `songpop.report.html` renders. Every section of
the report is put together in `songpop.report.sections` with these.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from songpop.io import write_csv_atomic, write_json_atomic
from songpop.plotting import save_figure

MANIFEST = "section.json"


def write_manifest(
    out_dir: str | os.PathLike[str],
    *,
    title: str,
    order: int,
    paragraphs: Sequence[str],
    tables: Sequence[Mapping[str, str]] = (),
    figures: Sequence[Mapping[str, str]] = (),
) -> Path:
    """Write a section's `section.json` (atomically) and return its path."""
    manifest = {
        "title": title,
        "order": order,
        "paragraphs": list(paragraphs),
        "tables": list(tables),
        "figures": list(figures),
    }
    return write_json_atomic(manifest, Path(out_dir) / MANIFEST)


class SectionWriter:
    """Writes a section's CSVs and figures into one folder and collects its manifest entries.

    Args:
        out_dir: the section's folder.
        on_figure: called after each figure is saved (e.g. a progress bar's update).
        dpi: resolution of the PNG figures.
    """

    def __init__(
        self, out_dir: Path, on_figure: Callable[[], Any] | None = None, dpi: int = 110
    ) -> None:
        self.out_dir = Path(out_dir)
        self.files: list[Path] = []
        self.tables: list[dict[str, str]] = []
        self.figures: list[dict[str, str]] = []
        self.on_figure = on_figure
        self.dpi = dpi

    def csv(self, df: pd.DataFrame, name: str) -> None:
        """Write a CSV that the section does not show (kept for people who want the numbers)."""
        self.files.append(write_csv_atomic(df, self.out_dir / name))

    def table(self, df: pd.DataFrame, name: str, title: str, caption: str) -> None:
        """Write a CSV and show it in the report."""
        self.csv(df, name)
        self.tables.append({"title": title, "csv": name, "caption": caption})

    def figure(self, fig: Any, name: str, title: str, caption: str) -> None:
        """Save a figure as PNG and SVG under figures/ and show it in the report."""

        written = save_figure(fig, self.out_dir / "figures" / name, dpi=self.dpi)
        png, svg = written["png"], written["svg"]
        self.files += [png, svg]
        self.figures.append(
            {
                "title": title,
                "png": png.relative_to(self.out_dir).as_posix(),
                "svg": svg.relative_to(self.out_dir).as_posix(),
                "caption": caption,
            }
        )
        if self.on_figure is not None:
            self.on_figure()

    def skip(self, figures: int = 1) -> None:
        """Count figures a section leaves out (no data for them) as done, for the progress."""
        for _ in range(figures if self.on_figure is not None else 0):
            self.on_figure()

    def write(self, title: str, order: int, paragraphs: Sequence[str]) -> Path:
        """Write the section's manifest with what was collected."""
        return write_manifest(
            self.out_dir,
            title=title,
            order=order,
            paragraphs=paragraphs,
            tables=self.tables,
            figures=self.figures,
        )

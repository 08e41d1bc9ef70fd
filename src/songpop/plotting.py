"""Figure style and saving shared by every stage that draws (no pyplot, no work at import).

`RC` is the report's rc style; `save_figure` writes one matplotlib figure in several formats,
each atomically. The report, the evaluation figures and the model plots all save through it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from songpop.io import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RC: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text in the SVG: smaller and searchable
}
"""The report's figure style: font sizes, no top/right spines, text kept as text in SVG."""


def save_figure(
    fig: Figure,
    paths: Mapping[str, str | os.PathLike[str] | None],
    *,
    dpi: int = 150,
    metadata: Mapping[str, Mapping[str, str | None]] | None = None,
    freeze_layout: bool = False,
) -> dict[str, Path]:
    """Write `fig` once per format, each file atomically.

    Args:
        fig: the figure.
        paths: format (`"png"`, `"svg"`, ...) → file path, in writing order; a `None` path
            skips that format.
        dpi: resolution of raster formats.
        metadata: format → the `metadata` argument of `Figure.savefig` (e.g. no creation
            date, so the same data gives byte-identical files); formats left out get none.
        freeze_layout: after the first file, switch the layout engine off so that the later
            formats reuse the layout instead of computing it again.

    Returns:
        Format → path of each file written.
    """
    written: dict[str, Path] = {}
    for fmt, path in paths.items():
        if path is None:
            continue
        extra = {"metadata": dict(metadata[fmt])} if metadata and fmt in metadata else {}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, **extra)
        written[fmt] = Path(path)
        if freeze_layout:
            fig.set_layout_engine("none")
    return written

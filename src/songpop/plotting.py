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
    "svg.hashsalt": "songpop",  # fixed SVG ids: the same figure gives the same bytes
}
"""The report's figure style: font sizes, no top/right spines, text kept as text in SVG."""


METADATA: dict[str, dict[str, str | None]] = {
    "png": {"Software": "songpop"},
    "svg": {"Date": None, "Creator": "songpop"},
}
"""No creation date in the files: the same data gives byte-identical figures."""


REPORT_DPI = 110
"""Raster resolution of every figure: the report embeds them all in one page (issue #14: at
most 1.5 MB), and at 110 dpi an 8-inch figure is 880 pixels, the report column's width."""


def compress_png(path: str | os.PathLike[str]) -> None:
    """Rewrite a PNG with a 256-colour palette, in place: a chart's flat colours and
    anti-aliased edges survive, and the file is about a quarter of matplotlib's RGBA one (the
    report embeds every figure, so this is what keeps the page light)."""
    from PIL import Image, PngImagePlugin

    with Image.open(path) as image:
        text = {k: v for k, v in image.info.items() if isinstance(v, str)}
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():  # keep the metadata savefig wrote (Software, Title...)
        info.add_text(key, value)
    palette.save(path, format="PNG", optimize=True, pnginfo=info)


def save_figure(
    fig: Figure,
    out: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str] | None],
    *,
    dpi: int = REPORT_DPI,
    metadata: Mapping[str, Mapping[str, str | None]] | None = METADATA,
    close: bool = True,
) -> dict[str, Path]:
    """Write `fig` once per format, each file atomically, in the report's style; then close it.

    This is the one figure saver of songpop: the report, the exploration, the evaluation
    figures and the model plots all save through it.

    Args:
        fig: the figure (made with or without pyplot).
        out: a path without extension (an extension .png / .svg given is dropped), written as
            `<out>.png` and `<out>.svg`; or format → file path, in writing order (a `None`
            path skips that format).
        dpi: resolution of raster formats.
        metadata: format → the `metadata` argument of `Figure.savefig`; formats left out get
            none.
        close: release the figure once written (pyplot's `close` for a pyplot figure).

    Returns:
        Format → path of each file written.
    """
    import matplotlib

    if isinstance(out, Mapping):
        paths = dict(out)
    else:
        stem = Path(out)
        if stem.suffix.lower() in (".png", ".svg"):
            stem = stem.with_suffix("")
        paths = {fmt: stem.with_name(f"{stem.name}.{fmt}") for fmt in ("png", "svg")}
    written: dict[str, Path] = {}
    try:
        with matplotlib.rc_context(RC):
            for fmt, path in paths.items():
                if path is None:
                    continue
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                extra = {"metadata": dict(metadata[fmt])} if metadata and fmt in metadata else {}
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, format=fmt, dpi=dpi, **extra)
                    if fmt == "png":
                        compress_png(tmp)
                written[fmt] = Path(path)
                # The first save lays the figure out; the later formats reuse that layout.
                fig.set_layout_engine("none")
    finally:
        if close:
            if getattr(fig.canvas, "manager", None) is not None:
                import matplotlib.pyplot as plt

                plt.close(fig)
            else:
                fig.clear()
    return written

"""Figure style and saving shared by every stage that draws (no pyplot, no work at import).

`RC` is the report's rc style; `save_figure` writes one matplotlib figure in several formats,
each atomically. The report, the evaluation figures and the model plots all save through it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from songpop.io import atomic_path

log = logging.getLogger(__name__)

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
    # a figure chooses its own layout (a person's matplotlibrc does not add one)
    "figure.autolayout": False,
    "figure.constrained_layout.use": False,
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


REPORT_COLUMN_PX = 1060
"""The width a figure is shown at in the report when the window is 1280 px wide: the page's
body is at most 1100 px less 2 × 20 px of padding (report.css); a wider PNG is scaled down."""

MIN_TEXT_PT = 9.0
"""The smallest text a figure may show in the report at that width, in points (12 CSS px)."""


def shown_scale(fig: Figure, dpi: int = REPORT_DPI, column_px: int = REPORT_COLUMN_PX) -> float:
    """How many points a 1-point font of `fig` measures in the report: drawn at `dpi`, shown
    at 96 CSS px per inch, scaled down to `column_px` when the PNG is wider."""
    width_px = fig.get_figwidth() * dpi
    return dpi / 96 * min(1.0, column_px / width_px)


def _texts(fig: Figure) -> list[Any]:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def smallest_text_pt(fig: Figure, dpi: int = REPORT_DPI) -> float:
    """The smallest visible text of `fig` as the report shows it, in points (inf without
    text). Tick labels are created when the figure is drawn, so it is drawn first."""
    fig.draw_without_rendering()
    sizes = [t.get_fontsize() for t in _texts(fig)]
    return min(sizes) * shown_scale(fig, dpi) if sizes else float("inf")


def make_readable(fig: Figure, dpi: int = REPORT_DPI) -> int:
    """Raise every text of `fig` that the report would show below `MIN_TEXT_PT` to that size
    (figures are drawn for the report's column; this is the guarantee when one is not).

    Returns:
        How many texts were enlarged.
    """
    for ax in fig.axes:  # tick labels are made when asked for (a draw is not needed)
        ax.xaxis.get_ticklabels()
        ax.yaxis.get_ticklabels()
    least = MIN_TEXT_PT / shown_scale(fig, dpi)
    small = [t for t in _texts(fig) if t.get_fontsize() < least - 1e-6]
    for text in small:
        text.set_fontsize(least)
    # ticks made later (a new draw) take the axes' tick label size: raise that as well
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = axis.get_ticklabels()
            if labels and labels[0].get_fontsize() < least - 1e-6:
                axis.set_tick_params(labelsize=least)
    return len(small)


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
            # Texts are enlarged before anything is drawn; the first save lays the figure out
            # (a constrained layout is a third of a figure's time) and the later ones reuse it.
            fig.set_dpi(dpi)
            enlarged = make_readable(fig, dpi)
            if enlarged:
                log.debug("%d texts enlarged to %.1f pt shown", enlarged, MIN_TEXT_PT)
            for fmt, path in paths.items():
                if path is None:
                    continue
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                extra: dict[str, Any] = (
                    {"metadata": dict(metadata[fmt])} if metadata and fmt in metadata else {}
                )
                if fmt == "png":  # compress_png encodes it again: store it uncompressed first
                    extra["pil_kwargs"] = {"compress_level": 0}
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, format=fmt, dpi=dpi, **extra)
                    if fmt == "png":
                        compress_png(tmp)
                written[fmt] = Path(path)
                # The first save lays the figure out; the later formats reuse that layout.
                # No engine at all (not "none", a placeholder): savefig draws a figure that has
                # an engine once more before printing it, to lay it out.
                fig.set_layout_engine(None)
    finally:
        if close:
            if getattr(fig.canvas, "manager", None) is not None:
                import matplotlib.pyplot as plt

                plt.close(fig)
            else:
                fig.clear()
    return written

"""The run report: every `section.json` below a run folder rendered into one self-contained page.

A section manifest (see docs/architecture.md) names paragraphs, tables (CSV files) and figures
(PNG, optional SVG), with paths relative to the manifest. The page embeds every figure as a
base64 PNG and carries its own CSS, so it reads offline and as a mail attachment; the figures are
also copied as files next to it.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from songpop import __version__, config
from songpop.errors import DataNotFoundError, SchemaError
from songpop.io import atomic_write

log = logging.getLogger(__name__)

MANIFEST = "section.json"
MAX_TABLE_ROWS = 60


@dataclass
class Section:
    """One parsed `section.json`."""

    path: Path
    title: str
    order: float
    paragraphs: list[str] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)
    figures_first: bool = False

    @property
    def folder(self) -> Path:
        """The manifest's folder: its relative paths start here."""
        return self.path.parent


def read_section(path: Path) -> Section:
    """Parse and check one manifest.

    Raises:
        SchemaError: invalid JSON, or a field of the wrong type (the message names the file and
            the field).
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: not a valid section manifest ({exc})") from None
    if not isinstance(raw, dict):
        raise SchemaError(f"{path}: expected a JSON object, found {type(raw).__name__}")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SchemaError(f"{path}: field 'title' must be a non-empty string, found {title!r}")
    order = raw.get("order", 100)
    if isinstance(order, bool) or not isinstance(order, (int, float)):
        raise SchemaError(f"{path}: field 'order' must be a number, found {order!r}")
    lists: dict[str, list[Any]] = {}
    for key in ("paragraphs", "tables", "figures"):
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise SchemaError(f"{path}: field '{key}' must be a list, found {type(value).__name__}")
        lists[key] = value
    for key, needed in (("tables", "csv"), ("figures", "png")):
        for i, item in enumerate(lists[key]):
            if not isinstance(item, dict) or not isinstance(item.get(needed), str):
                raise SchemaError(f"{path}: {key}[{i}] must be an object with a '{needed}' path")
    return Section(
        path=path,
        title=title.strip(),
        order=float(order),
        paragraphs=[str(p) for p in lists["paragraphs"]],
        tables=lists["tables"],
        figures=lists["figures"],
        figures_first=bool(raw.get("figures_first", False)),
    )


def find_sections(run_dir: Path) -> list[Section]:
    """Every manifest below `run_dir`, ordered by `order`, then by path."""
    paths = sorted(run_dir.rglob(MANIFEST))
    sections = [read_section(p) for p in paths]
    return sorted(sections, key=lambda s: (s.order, s.path.relative_to(run_dir).as_posix()))


# --- formatting ----------------------------------------------------------------------------------


def format_number(value: Any, integer_column: bool = False) -> str:
    """A number for people: thousands separators, 3 decimals below 100, fewer above."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, bool):
        return str(value)
    number = float(value)
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if integer_column or abs(number) >= 1000:
        text = f"{number:,.0f}"
    elif abs(number) >= 100:
        text = f"{number:,.1f}"
    elif number != 0 and abs(number) < 0.001:
        text = f"{number:.2e}"
    else:
        text = f"{number:.3f}"
    return "−" + text[1:] if text.startswith("-") else text  # a typographic minus sign


COLUMN_WORDS: dict[str, str] = {
    "n": "songs",
    "n_rows": "rows",
    "n_test": "test songs",
    "k": "clusters (k)",
    "f1": "F1",
    "mae": "MAE",
    "rmse": "RMSE",
    "r2": "R²",
    "mae_reduction": "MAE reduction",
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
    "sha256": "SHA-256",
    "duration_ms": "duration (ms)",
    "feature_set": "feature set",
    "rows_in": "rows in",
    "rows_out": "rows out",
    "match_rate": "match rate",
    "match_score": "match score",
    "chart_songs_covered": "chart songs covered",
    "chart_title": "title on the chart",
    "chart_artist": "artist on the chart",
    "weeks_on_chart": "weeks on the Hot 100",
    "best_position": "best Hot 100 position",
}
"""Report column headers in words; other snake_case names read with spaces (`column_words`)."""


def column_words(column: str) -> str:
    """A table column's header for people: `importance_high` → "importance for high",
    `baseline_mae_low` → "baseline MAE, 95% CI low", `rows_in` → "rows in"."""
    name = str(column)
    if name in COLUMN_WORDS:
        return COLUMN_WORDS[name]
    if name.startswith("importance_"):  # a per-class importance: the class's own name
        return f"importance for {name.removeprefix('importance_').replace('_', ' ')}"
    for end in ("_low", "_high"):
        if name.endswith(end) and name != end:
            return f"{column_words(name.removesuffix(end))}, 95% CI {end[1:]}"
    if name.startswith("baseline_"):
        return f"baseline {column_words(name.removeprefix('baseline_'))}"
    return name.replace("_", " ")


_CODE = re.compile(r"`([^`]+)`")


def prose_html(text: str) -> str:
    """A paragraph of the report: escaped, its markdown `code` spans as <code> (a manifest's
    prose may quote a command or a column; a literal backtick never reaches the page)."""
    parts = _CODE.split(str(text))
    out = [
        f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part.replace("`", "'"))
        for i, part in enumerate(parts)
    ]
    return "".join(out)


def table_html(frame: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS, source: str = "") -> str:
    """An HTML table: numbers right-aligned and formatted, at most `max_rows` rows.

    Args:
        frame: the table.
        max_rows: rows shown; a note says how many more there are.
        source: the CSV's name, for the note on a cut table.
    """
    shown = frame.head(max_rows)
    numeric = {
        col: pd.api.types.is_numeric_dtype(frame[col])
        and not pd.api.types.is_bool_dtype(frame[col])
        for col in frame.columns
    }
    integer = {
        col: numeric[col]
        and bool(frame[col].dropna().map(lambda v: float(v).is_integer()).all())
        and not _looks_like_rate(str(col))
        for col in frame.columns
    }
    head = "".join(
        f'<th scope="col"{" class=num" if numeric[c] else ""}>{html.escape(column_words(c))}</th>'
        for c in frame.columns
    )
    rows = []
    for record in shown.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(frame.columns, record, strict=True):
            if numeric[col] and _is_calendar(str(col)) and integer[col]:
                cells.append(f'<td class="num">{format_number(value, True).replace(",", "")}</td>')
            elif numeric[col]:
                cells.append(f'<td class="num">{format_number(value, integer[col])}</td>')
            else:
                text = (
                    "–"
                    if value is None
                    or value is pd.NA
                    or (isinstance(value, float) and math.isnan(value))
                    else str(value)
                )
                cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if len(frame) > max_rows:
        where = f"; all of them are in {html.escape(source)}" if source else ""
        note = f'<p class="caption">First {max_rows:,} of {len(frame):,} rows{where}.</p>'
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )


def _is_calendar(column: str) -> bool:
    """Years and decades are written without thousands separators (1990, not 1,990)."""
    return any(word in column.lower() for word in ("year", "decade"))


def _looks_like_rate(column: str) -> bool:
    return any(word in column.lower() for word in ("rate", "share", "score", "mean", "corr"))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def _missing(what: str) -> str:
    return f'<p class="missing">{html.escape(what)}</p>'


# --- rendering -----------------------------------------------------------------------------------


@dataclass
class _Rendered:
    body: list[str] = field(default_factory=list)
    toc: list[str] = field(default_factory=list)
    copies: list[tuple[Path, Path]] = field(default_factory=list)
    n_figures: int = 0
    n_tables: int = 0
    problems: list[str] = field(default_factory=list)


def _render_section(section: Section, anchor: str, figure_dir: str, out: _Rendered) -> None:
    """One section: its paragraphs, then its tables and figures (figures first when the
    manifest says `figures_first`, e.g. the summary's one chart). The contents list names the
    sections only: table and figure titles repeat from task to task."""
    parts = [f'<section id="{anchor}">', f"<h2>{prose_html(section.title)}</h2>"]
    paragraphs = [f"<p>{prose_html(p)}</p>" for p in section.paragraphs]
    tables = _table_parts(section, anchor, out)
    figures = _figure_parts(section, anchor, figure_dir, out)
    if section.figures_first:  # the answer first (the summary's chart), then the words
        parts += figures + paragraphs + tables
    else:
        parts += paragraphs + tables + figures
    parts.append("</section>")
    out.body.append("\n".join(parts))
    out.toc.append(f'<li><a href="#{anchor}">{html.escape(section.title)}</a></li>')


def _table_parts(section: Section, anchor: str, out: _Rendered) -> list[str]:
    parts: list[str] = []
    for i, spec in enumerate(section.tables):
        title = str(spec.get("title") or spec["csv"])
        parts.append(f'<h3 id="{anchor}-table-{i + 1}">{prose_html(title)}</h3>')
        path = section.folder / spec["csv"]
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            problem = f"Table {spec['csv']} of {section.path} could not be read: {exc}"
            log.warning(problem)
            out.problems.append(problem)
            parts.append(_missing(problem))
            continue
        max_rows = int(spec.get("max_rows", MAX_TABLE_ROWS))
        parts.append(table_html(frame, max_rows, source=f"{section.folder.name}/{spec['csv']}"))
        if spec.get("caption"):
            parts.append(f'<p class="caption">{prose_html(str(spec["caption"]))}</p>')
        out.n_tables += 1
    return parts


def _figure_parts(section: Section, anchor: str, figure_dir: str, out: _Rendered) -> list[str]:
    parts: list[str] = []
    for i, spec in enumerate(section.figures):
        title = str(spec.get("title") or spec["png"])
        parts.append(f'<h3 id="{anchor}-figure-{i + 1}">{prose_html(title)}</h3>')
        png = section.folder / spec["png"]
        if not png.is_file():
            problem = f"Figure {spec['png']} of {section.path} is missing."
            log.warning(problem)
            out.problems.append(problem)
            parts.append(_missing(problem))
            continue
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        stem = f"{figure_dir}/{png.name}"
        out.copies.append((png, Path(stem)))
        links = [f'<a href="{html.escape(stem)}">PNG</a>']
        svg = section.folder / spec["svg"] if spec.get("svg") else None
        if svg is not None and svg.is_file():
            svg_stem = f"{figure_dir}/{svg.name}"
            out.copies.append((svg, Path(svg_stem)))
            links.append(f'<a href="{html.escape(svg_stem)}">SVG</a>')
        caption = prose_html(str(spec.get("caption", "")))
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(title)}">'
            f"<figcaption>{caption} (Files: {', '.join(links)}.)</figcaption></figure>"
        )
        out.n_figures += 1
    return parts


def _run_details(run_dir: Path) -> str | None:
    """A small table of the stage timings when the run recorded them."""
    path = run_dir / "timings.json"
    if not path.is_file():
        return None
    try:
        timings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        log.warning("%s is not valid JSON; run details left out", path)
        return None
    if not isinstance(timings, dict) or not timings:
        return None
    # `songpop run` writes {"seconds": {stage: s}, "wall": s, "reused": {stage: run}}; a bare
    # {stage: seconds} mapping is read as it is
    seconds = timings.get("seconds") if isinstance(timings.get("seconds"), dict) else timings
    reused = timings.get("reused") if isinstance(timings.get("reused"), dict) else {}
    rows = [
        (stage, value, f"reused from run {reused[stage]}" if stage in reused else "")
        for stage, value in seconds.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    if isinstance(timings.get("wall"), (int, float)) and rows:
        rows.append(("wall time", timings["wall"], "stages run side by side: they add up to more"))
    frame = pd.DataFrame(rows, columns=["stage", "seconds", "note"])
    if not frame["note"].astype(bool).any():
        frame = frame.drop(columns=["note"])
    return table_html(frame) if not frame.empty else None


def render_report(run_dir: Path, generated: datetime | None = None) -> tuple[str, _Rendered]:
    """The report page for a run folder as a string, plus the figure files it refers to.

    Raises:
        DataNotFoundError: the folder does not exist or holds no section manifest.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataNotFoundError(f"run folder {run_dir} not found")
    sections = find_sections(run_dir)
    if not sections:
        raise DataNotFoundError(
            f"no {MANIFEST} below {run_dir}: run `songpop explore --out {run_dir}/explore` "
            "(or `songpop run`) first"
        )
    generated = generated or datetime.now().astimezone()
    out = _Rendered()
    used: set[str] = set()
    for section in sections:
        anchor = _slug(section.title)
        while anchor in used:
            anchor += "-2"
        used.add(anchor)
        rel = section.folder.relative_to(run_dir).as_posix()
        figure_dir = "figures/" + (_slug(rel) if rel != "." else anchor)
        _render_section(section, anchor, figure_dir, out)
    details = _run_details(run_dir)
    if details:
        out.body.append(
            f'<section id="run-details"><h2>Run details</h2>{details}'
            '<p class="caption">Wall time of each stage (timings.json).</p></section>'
        )
        out.toc.append('<li><a href="#run-details">Run details</a></li>')
    name = run_dir.resolve().name
    template = Template(_asset("report.html"))
    meta = (
        f"Run <strong>{html.escape(name)}</strong> · {html.escape(_run_date(run_dir, generated))}"
        f" · songpop {html.escape(__version__)} · {len(sections)} sections, "
        f"{out.n_figures} figures, {out.n_tables} tables"
    )
    page = template.substitute(
        title=html.escape(f"songpop report: {name}"),
        version=html.escape(__version__),
        css=_asset("report.css"),
        meta=meta,
        toc="\n".join(out.toc),
        body="\n".join(out.body),
        generated=html.escape(generated.strftime("%Y-%m-%d %H:%M %Z").strip()),
    )
    return page, out


def _run_date(run_dir: Path, generated: datetime) -> str:
    """The run's date: from a `YYYYmmdd-HHMMSS` folder name, else the report's date."""
    try:
        return datetime.strptime(run_dir.resolve().name, "%Y%m%d-%H%M%S").strftime(
            "run started %Y-%m-%d %H:%M"
        )
    except ValueError:
        return generated.strftime("report written %Y-%m-%d %H:%M")


def _asset(name: str) -> str:
    return resources.files("songpop.report").joinpath("templates", name).read_text("utf-8")


def default_report_path(run_dir: Path) -> Path:
    """`reports/<run>/index.html`, moving with the runs: beside a folder named `runs` that
    holds the run (a checkout's `runs/` → `reports/`), else inside the run's own parent folder
    (`--runs-dir /x/myruns` → `/x/myruns/reports/<run>`), never in the current folder."""
    run_dir = Path(run_dir).resolve()
    if run_dir.parent.name in ("runs", config.runs_dir().name):
        return run_dir.parent.parent / "reports" / run_dir.name / "index.html"
    return run_dir.parent / "reports" / run_dir.name / "index.html"


def write_report(run_dir: Path, out_path: Path | None = None) -> Path:
    """Render the run's report to one HTML file and copy its figures beside it.

    Args:
        run_dir: the run folder; every `section.json` below it is rendered, by `order`.
        out_path: the HTML file (default `reports/<run>/index.html`, see `default_report_path`).

    Returns:
        The HTML file's path.
    """
    run_dir = Path(run_dir)
    out_path = Path(out_path) if out_path else default_report_path(run_dir)
    page, rendered = render_report(run_dir)
    out_dir = out_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    for src, rel in rendered.copies:
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(dest, "wb") as handle, src.open("rb") as source:
            shutil.copyfileobj(source, handle)
    with atomic_write(out_path, "w", encoding="utf-8") as handle:
        handle.write(page)
    for path in [out_path, *(out_dir / rel for _, rel in rendered.copies)]:
        path.chmod(0o644)  # atomic writes create private files; a report is meant to be shared
    for problem in rendered.problems:
        log.warning("report: %s", problem)
    log.info("report written to %s (%d figures)", out_path, rendered.n_figures)
    return out_path

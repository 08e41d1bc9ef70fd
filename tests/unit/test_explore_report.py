"""Unit tests of the HTML report: manifests, ordering, tables, embedding, copies, errors."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from songpop.errors import DataNotFoundError, SchemaError
from songpop.report import html as report_html
from songpop.report import write_report

# A real 2x1 PNG (red, blue pixels), so the page embeds actual image bytes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAAEElEQVR4nGP4z8DAwMDAAAAS/wH/pXGxpgAAAABJ"
    "RU5ErkJggg=="
)


def write_section(
    folder: Path, manifest: dict, files: dict[str, bytes | str] | None = None
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "section.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "20261124-120000"
    write_section(
        run / "models",
        {
            "title": "Models",
            "order": 30,
            "paragraphs": ["Accuracy <b>with</b> an interval."],
            "tables": [{"title": "Comparison", "csv": "cmp.csv", "caption": "Test set."}],
            "figures": [
                {"title": "Confusion", "png": "fig/cm.png", "svg": "fig/cm.svg", "caption": "c"}
            ],
        },
        {
            "cmp.csv": (
                "model,accuracy,n_test,decade\nrf,0.51234,2379,1990\ndummy,-0.0004,2379,2000\n"
            ),
            "fig/cm.png": PNG,
            "fig/cm.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        },
    )
    write_section(
        run / "explore",
        {"title": "Exploration", "order": 20, "paragraphs": ["Loudness first."]},
    )
    write_section(run / "data", {"title": "Data", "order": 10})
    (run / "timings.json").write_text(json.dumps({"build": 1.5, "explore": 6.25}), "utf-8")
    return run


def test_sections_are_ordered_by_order(run_dir: Path) -> None:
    titles = [s.title for s in report_html.find_sections(run_dir)]
    assert titles == ["Data", "Exploration", "Models"]


def test_write_report_is_self_contained(run_dir: Path, tmp_path: Path) -> None:
    out = write_report(run_dir, tmp_path / "report" / "index.html")
    page = out.read_text(encoding="utf-8")
    assert page.index('id="data"') < page.index('id="exploration"') < page.index('id="models"')
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in page
    # no external resource: every src is embedded, no stylesheet or script links
    assert re.findall(r'src="(?!data:)', page) == []
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert "20261124-120000" in page and "songpop 0.1.0" in page
    assert "Accuracy &lt;b&gt;with&lt;/b&gt; an interval." in page  # paragraphs are escaped
    assert '<td class="num">0.512</td>' in page
    assert '<td class="num">2,379</td>' in page
    assert '<td class="num">1990</td>' in page  # no thousands separator in a decade
    assert "−4.00e-04" in page
    assert 'id="models-figure-1"' in page  # each figure has its anchor
    contents = re.findall(r'<li><a href="#([^"]+)">', page.split("</nav>")[0])
    assert contents == ["data", "exploration", "models", "run-details"]  # each section once
    assert "Run details" in page and "6.250" in page
    assert (out.parent / "figures" / "models" / "cm.png").read_bytes() == PNG
    assert (out.parent / "figures" / "models" / "cm.svg").is_file()


def test_missing_figure_is_shown_not_fatal(run_dir: Path, tmp_path: Path) -> None:
    (run_dir / "models" / "fig" / "cm.png").unlink()
    page = write_report(run_dir, tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'class="missing"' in page and "fig/cm.png" in page


def test_bad_manifest_is_named(run_dir: Path, tmp_path: Path) -> None:
    (run_dir / "explore" / "section.json").write_text('{"order": 20}', encoding="utf-8")
    with pytest.raises(SchemaError, match=r"explore/section\.json.*title"):
        write_report(run_dir, tmp_path / "r.html")
    (run_dir / "explore" / "section.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"explore/section\.json"):
        write_report(run_dir, tmp_path / "r.html")


def test_empty_or_missing_run_folder(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no section.json"):
        write_report(tmp_path, tmp_path / "r.html")
    with pytest.raises(DataNotFoundError, match="not found"):
        write_report(tmp_path / "absent", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_default_report_path_is_beside_runs(run_dir: Path) -> None:
    path = report_html.default_report_path(run_dir)
    assert path == run_dir.resolve().parents[1] / "reports" / run_dir.name / "index.html"


@pytest.mark.parametrize(
    ("value", "integer", "expected"),
    [
        (1234567, True, "1,234,567"),
        (0.36283, False, "0.363"),
        (-0.261853, False, "−0.262"),
        (123.456, False, "123.5"),
        (15000.0, False, "15,000"),
        (float("nan"), False, "–"),
        (0.0, False, "0.000"),
    ],
)
def test_format_number(value: float, integer: bool, expected: str) -> None:
    assert report_html.format_number(value, integer) == expected

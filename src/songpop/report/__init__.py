"""songpop report stage: figures for people and the self-contained HTML report of a run."""

from songpop.report.html import default_report_path, find_sections, render_report, write_report

__all__ = ["default_report_path", "find_sections", "render_report", "write_report"]

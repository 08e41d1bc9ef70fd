"""What `songpop run` shows while it runs, from the library's progress events."""

from __future__ import annotations

import io

import pytest
import typer
from rich.console import Console

from songpop.cli.output import RunView
from songpop.progress import Event, StageHook


def _events() -> list[Event]:
    hook_events: list[Event] = []
    staged = StageHook(hook_events.append, "train_seed")
    hook_events.append(Event("stage", "train_seed"))
    for done in range(1, 5):
        staged(Event("search", "", "audio · lgbm", done, 4, 0.5 + done / 100))
    hook_events.append(Event("stage", "train_seed", seconds=12.34))
    hook_events.append(Event("stage", "build_seed", seconds=0.02, reused="20261202-150000"))
    return hook_events


def _shown(mode: str, terminal: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=terminal, color_system=None)
    with RunView(mode, console) as view:
        for event in _events():
            view(event)
    return out.getvalue()


def test_plain_lines_say_each_stage_and_each_finished_search() -> None:
    lines = _shown("plain").splitlines()
    assert [line[9:] for line in lines] == [
        "train_seed: started",
        "train_seed audio · lgbm: 4 fits, best CV 0.540",
        "train_seed: done in 12.3 s",
        "build_seed: done in 0.0 s (reused from run 20261202-150000)",
    ]
    assert all(line[2] == ":" and line[5] == ":" for line in lines)  # a HH:MM:SS stamp


def test_the_live_view_leaves_one_line_per_finished_stage() -> None:
    shown = _shown("rich", terminal=True)
    assert "✓ train_seed" in shown and "12.3 s" in shown
    assert "(reused from run 20261202-150000)" in shown


def test_quiet_shows_nothing_and_a_wrong_format_is_refused() -> None:
    assert _shown("quiet") == ""
    with pytest.raises(typer.BadParameter, match="expected rich or plain"):
        RunView("json")


def test_stage_hook_names_the_stage_of_events_from_code_that_does_not_know_it() -> None:
    seen: list[Event] = []
    StageHook(seen.append, "train_hit")(Event("search", "", "audio · rf", 1, 4))
    assert seen == [Event("search", "train_hit", "audio · rf", 1, 4)]

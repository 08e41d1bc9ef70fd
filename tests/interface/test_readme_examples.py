"""The README's command examples, and those of the docs pages that show commands, extracted and
run offline from a folder that holds no runs (issue 22): every `songpop ...` line of their ```sh
blocks either runs and does what its comment says, or is skipped here with the reason (network,
a long run, a server, a Dask cluster).

Placeholders are filled as a reader would: `song.mp3` and `my-song.mp3` are a rendered 8 s MP3
in the working folder, `tracks.csv` a small feature table, `runs/<run>` and `<id>` the last
finished run of this checkout and a catalogue track's id; `[optional parts]` and `...` are
dropped. The checkout's last run is registered in a songpop home of the test's own, as
`songpop run` registers it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from tests.support import random_songs
from typer.testing import CliRunner

from shared_run import RUN, quick_run
from songpop import config
from songpop.bundle import last_run, register_run
from songpop.cli import app

pytestmark = [pytest.mark.data, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [ROOT / "docs" / f"{name}.md" for name in ("usage", "audio", "lookup", "cluster")]
"""The docs pages whose ```sh blocks hold songpop commands (the README links to each)."""
TRACK_ID = "5ChkMS8OtdzJeqyybCc9R5"  # Billie Jean, in the Hit Predictor table of the data

SKIPPED = {  # the first key found in a command gives its reason
    "songpop data fetch-features": "asks the feature APIs (network)",
    "songpop data fetch": "downloads the public files (network)",
    "songpop data build": "builds a song table from the raw data (a long run)",
    "songpop explore": "needs a built song table (a long run)",
    "songpop train": "trains every model (a long run)",
    "songpop reproduce": "re-runs the original report's models (a long run)",
    "songpop run": "the whole pipeline (a long run)",
    "songpop report": "writes into the checkout's reports/ folder beside the run",
    "songpop serve": "a server that runs until stopped (test_api and the browser tests)",
    "--scheduler": "starts or joins a Dask cluster (test_dask_cluster)",
    "songpop analyze songs/": "a folder of audio on Dask (test_dask_cluster)",
    "--csv 'catalogue/*.parquet'": "a glob of files on Dask (test_dask_cluster)",
}

CLAIMS = {
    # the command (a substring of it) → what its README comment promises, in its output
    'predict --title "Billie Jean" --artist "Michael Jackson"': ["Known song", "best #1"],
    "predict my-song.mp3": ["The answer for a new song"],
    f"track/{TRACK_ID}": ["billie jean"],
    "lookup": ["Hot 100", "Crazy In Love"],
    "--danceability 0.7": ["taken from a typical song", "Why"],
    "--similar 5 --plot where.svg": ["nearest songs", "where the song sits"],
    "--out why.parquet": ["explained"],
    "models list": ["seed/audio/lgbm"],
    "models verify": ["verified"],
    "predict song.mp3 --explain": ["Why"],
    "--task seed": ["Predictions of seed/"],
}


def readme_commands(text: str) -> list[str]:
    """Every `songpop ...` line of a page's ```sh blocks, its comment dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.split(r"\s{2,}#|\s#\s", line)[0].strip()
            if line.startswith("songpop "):
                commands.append(line)
    return commands


def filled(command: str, run: Path) -> list[str]:
    """The command's arguments with the README's placeholders filled (see the module doc)."""
    command = command.replace("runs/<run>", str(run)).replace("<id>", TRACK_ID)
    command = re.sub(r"\s*\[[^\]]*\]", "", command).replace(" ...", "")
    return shlex.split(command)[1:]


def all_commands() -> list[str]:
    """The README's commands, then the docs pages' (each once, in order of first appearance)."""
    commands = [c for page in (README, *PAGES) for c in readme_commands(page.read_text("utf-8"))]
    return list(dict.fromkeys(commands))


def test_the_readme_has_examples_and_first_song_lines() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert first_block, "the README starts with a ```sh block"
    two = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()[:2]]
    assert two == ["make run", "make test"], "the README's first two commands"
    first = readme_commands(text)[:3]  # "predict your first song": a title, a file, a link
    assert "--title" in first[0] and ".mp3" in first[1] and "open.spotify.com" in first[2]
    assert len(readme_commands(text)) >= 8, "the README's short tour of the commands"
    assert len(all_commands()) > 20
    for page in PAGES:  # every page whose commands run here is one the README links to
        assert f"](docs/{page.name})" in text, page.name


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The checkout's last run (`make run`), or, on a fresh clone (CI), the session's quick
    run of the tasks the examples use (`shared_run`, shared with the end-to-end tests)."""
    run, _ = last_run() if (ROOT / "runs" / "LATEST").is_file() else (None, [])
    if run is not None and (ROOT / run / "models" / "index.json").is_file():
        return (ROOT / run).resolve()
    return quick_run(tmp_path_factory, data_dir) / "runs" / RUN


@pytest.fixture
def elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finished_run: Path, data_dir: Path
) -> Path:
    """A working folder with no runs, the song files the examples name, and a songpop home
    where the checkout's last run is registered."""
    import soundfile as sf

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(config.RUNS_DIR_ENV, raising=False)
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "home"))
    register_run(finished_run)
    rate = 44_100
    t = np.arange(rate * 8) / rate
    beat = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)
    song = 0.3 * (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 330 * t)) * beat
    for name in ("song.mp3", "my-song.mp3"):
        sf.write(tmp_path / name, song, rate, format="MP3")
    random_songs(30, seed=3).to_csv(tmp_path / "tracks.csv", index=False)
    return tmp_path


COMMANDS = all_commands()


DISAGREE: dict[str, str] = {}
"""Examples the tool does not bear out today: expected to fail, so that this test says so
until they are fixed (not strict: whether they fail depends on the run's default model)."""


def _skip_reason(command: str) -> str | None:
    return next((why for key, why in SKIPPED.items() if key in command), None)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_readme_example_runs_offline(command: str, request: pytest.FixtureRequest) -> None:
    reason = _skip_reason(command)
    if reason:
        pytest.skip(f"{command}: {reason}")
    known = next((why for key, why in DISAGREE.items() if key in command), None)
    if known:
        request.applymarker(pytest.mark.xfail(reason=known, strict=False))
    work = request.getfixturevalue("elsewhere")
    run = request.getfixturevalue("finished_run")
    result = runner.invoke(app, filled(command, run), terminal_width=200)
    said = " ".join(result.output.split())
    assert result.exit_code == 0, f"{command}\n{result.output}"
    for key, promised in CLAIMS.items():
        if key in command:
            missing = [p for p in promised if p.lower() not in said.lower()]
            assert not missing, f"{command}: {missing} not in {said[:2000]}"
    args = filled(command, run)
    if "--out" in args:
        out = args[args.index("--out") + 1]
        assert (work / out).exists(), f"{command}: {out} not written"


runner = CliRunner()

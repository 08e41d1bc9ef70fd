"""songpop CLI: `songpop serve`, the HTTP API and the what-if web page."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from songpop.cli.audio import load_calibration_option
from songpop.cli.output import err, fail
from songpop.errors import SongpopError

ModelOption = typer.Option(
    None,
    "--model",
    "-m",
    help="A model: an id as `songpop models list` prints it (seed/audio/lgbm, of the last "
    "run), RUN/seed/audio/lgbm, `latest`, or a bundle or run folder. Repeat to serve several; "
    "the first answers requests that name no model. Default: the last run's default model, "
    "found from any folder (./runs/LATEST, else the last `songpop run` registered in the "
    "songpop home).",
    show_default=False,
)


def serve_command(
    model: list[Path] | None = ModelOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    log_level: str = typer.Option(
        "info", "--log-level", help="uvicorn log level: critical, error, warning, info, debug."
    ),
    access_log: bool = typer.Option(
        True, "--access-log/--no-access-log", help="Log one line per request."
    ),
    model_threads: int = typer.Option(
        1,
        "--model-threads",
        min=1,
        help="Threads one prediction may use (OpenMP: LightGBM, torch). 1 suits a server of "
        "many small requests: a multi-threaded call on one row costs more than it saves.",
    ),
    max_upload_mb: float = typer.Option(
        50.0,
        "--max-upload-mb",
        min=0.001,
        help="Largest audio upload (POST /analyze, multipart POST /predict), in MiB; larger "
        "ones get 413.",
    ),
    online: bool = typer.Option(
        False,
        "--online/--offline",
        help="Let the server use the feature APIs: audio uploads get ReccoBeats' upload "
        "analysis (up to three 30 s excerpts of each uploaded file are sent to ReccoBeats and "
        "its values replace the estimates), and a Spotify link or title the local catalogue "
        "lacks is asked of ReccoBeats and Spotify, as the CLI's --online does. Off by default: "
        "nothing leaves the server.",
    ),
    max_analyses: int | None = typer.Option(
        None,
        "--max-analyses",
        min=1,
        help="Audio analyses run at once (each holds its file's signal in memory and a core "
        "for seconds); an upload beyond them gets 503 with Retry-After. Default: the number "
        "of cores.",
        show_default=False,
    ),
) -> None:
    """Serve the prediction API and the what-if web page with uvicorn (one worker).

    The page is at http://HOST:PORT/ and the API documentation at /docs.

    Models load once, at start-up; a bad --model folder stops it with a clear error.
    """
    # Before any model library loads: OpenMP reads it once, at start-up.
    os.environ["OMP_NUM_THREADS"] = str(model_threads)
    import uvicorn

    from songpop.api import create_app  # late: loads fastapi, pyarrow, pandas (start-up)
    from songpop.api.app import load_models  # late: loads fastapi, pyarrow, pandas (start-up)

    try:
        # loaded here, not in the server's start-up: a refused bundle is one clear line
        named = [m for m in model or [] if str(m).strip().lower() != "latest"]
        models = load_models(named or None)  # `latest` alone: as without --model
    except SongpopError as exc:
        raise fail(exc) from None

    served = ", ".join(str(b.path) for b in models.bundles.values())
    err.print(f"serving {served} on http://{host}:{port}/", markup=False)
    app = create_app(models=models, max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    app.state.audio_online = online  # read by songpop.api.audio for each upload
    app.state.online = online  # read by /predict for a song the catalogue lacks
    app.state.audio_calibration = load_calibration_option(None)  # $SONGPOP_CALIBRATION
    # late: loads fastapi, pyarrow, pandas (start-up)
    from songpop.api.analyses import AnalysisSlots

    app.state.analysis_slots = AnalysisSlots(max_analyses)  # read by songpop.api.audio
    if online:
        err.print(
            "--online: audio uploads send up to three 30 s excerpts each to ReccoBeats; songs "
            "the local catalogue lacks are asked of ReccoBeats and Spotify"
        )
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=1,
        log_level=log_level,
        access_log=access_log,
        server_header=False,  # no banner naming the server software
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("serve")(serve_command)

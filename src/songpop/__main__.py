"""The `songpop` command: the CLI, with a user's interruption and the system's refusals as one line.

Kept apart from `songpop.cli` so that even an interruption while the CLI's libraries import
ends with one line, not a traceback.
"""

from __future__ import annotations

import signal
import sys


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like an interruption, so that every temporary file is removed
    by the `except BaseException` of the writer that made it (`songpop.io`)."""


def _terminate(signum: int, frame: object) -> None:  # noqa: ARG001  (signal's handler signature)
    raise Terminated()


def main() -> None:
    """Entry point of the `songpop` console script (and of `python -m songpop`)."""
    signal.signal(signal.SIGTERM, _terminate)  # `songpop serve`: uvicorn installs its own
    try:
        from songpop.cli import app  # late: loads rich, typer (start-up)

        app()
    except KeyboardInterrupt:
        print("songpop: interrupted; nothing half-written was kept", file=sys.stderr)
        sys.exit(130)
    except Terminated:
        print("songpop: terminated (SIGTERM); nothing half-written was kept", file=sys.stderr)
        sys.exit(143)
    except RecursionError:
        print("error: input nested too deeply to read", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # disk full, permission denied, a folder where a file was expected
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""The HTTP API and the what-if web page: `create_app()` builds the FastAPI app."""

from songpop.api.app import create_app

__all__ = ["create_app"]

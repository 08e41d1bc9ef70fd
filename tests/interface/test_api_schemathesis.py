"""Property-based run of the API against its own OpenAPI schema: generated requests, no 5xx.

The schema is read from `app.openapi()` at import (no request, so no model is needed yet); the
two tiny bundles are written by a module fixture before the first generated request starts the
app's lifespan, which loads them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_support import make_bundles
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from songpop.api import create_app

# Only named here (collection must not leave folders behind); the fixture below creates it.
_BUNDLES = Path(tempfile.gettempdir()) / f"songpop-schemathesis-{os.getpid()}"
app = create_app([_BUNDLES / "logreg-audio", _BUNDLES / "forest-context"])
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app


@pytest.fixture(scope="module", autouse=True)
def _bundles() -> Iterator[None]:
    make_bundles(_BUNDLES)
    yield
    shutil.rmtree(_BUNDLES, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_error_on_generated_requests(case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

"""Property-based run of the API against its own OpenAPI schema with every schemathesis check.

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
from schemathesis.checks import load_all_checks, positive_data_acceptance

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
def test_every_check_passes_on_generated_requests(case) -> None:
    """All of schemathesis' checks: no 5xx, answers as documented, valid data accepted and
    invalid data refused (the API and its schema agree), methods and content types honoured.

    One rule a JSON schema cannot state spans the query and the body: explanations for at most
    `MAX_EXPLAINED_RECORDS` records per request. A schema-valid request over it gets that 422,
    which `positive_data_acceptance` would call a mismatch; that check runs on every other answer.
    """
    load_all_checks()
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    detail = response.json().get("detail") if response.status_code == 422 else None
    over_limit = isinstance(detail, list) and any(
        isinstance(d, dict) and d.get("type") == "too_many_explained" for d in detail
    )
    if not over_limit:
        case.validate_response(response, checks=[positive_data_acceptance])

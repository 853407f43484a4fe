"""Property-based run against the OpenAPI schema (schemathesis): whatever the input, no 5xx, and answers
conform to the documented status codes, content types and response schemas."""

from __future__ import annotations

import pytest
import schemathesis
from api_world import API_KEY, api_settings
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from skillmatch.api import create_app
from skillmatch.facade import Skillmatch

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def schema_app(bundle_v1: Skillmatch) -> FastAPI:
    return create_app(api_settings(), bundle_v1)


@pytest.fixture(scope="module")
def api_schema(schema_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", schema_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"X-API-Key": API_KEY}, checks=CHECKS)

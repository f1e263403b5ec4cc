"""The API fuzzed against its own OpenAPI description (schemathesis): every answer is one the
document describes, with its schema, and none is a server error. Actions included."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.dashboard.openapi import DOCUMENT
from tests.dashboard.conftest import BEARER, add_failed, make_client

EXAMPLES = 25

SCHEMA_CANNOT_SAY = {"POST /api/jobs": [positive_data_acceptance]}
"""Checks left out, and why: any string is a schema-valid `job`, but only classes of the job
packages are accepted, and no JSON Schema can list what a package holds (422 is right)."""


def operations() -> list[str]:
    return [f"{method.upper()} {path}" for path, item in DOCUMENT["paths"].items()
            for method in item]


def test_document_is_the_one_served(client) -> None:
    assert client.get("/api/openapi.json", headers=BEARER).json() == DOCUMENT


@pytest.mark.parametrize("label", operations())
def test_api_answers_as_its_openapi_document_says(label: str, queue, engine) -> None:
    add_failed(engine, "F1")
    client = make_client(engine)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", client.app, headers=BEARER)
    method, path = label.split(" ", 1)
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_described(case) -> None:
        case.call_and_validate(headers=BEARER, excluded_checks=SCHEMA_CANNOT_SAY.get(label))

    answers_as_described()

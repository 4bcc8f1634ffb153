"""Schemathesis against the real app's OpenAPI schema, served by a real uvicorn on 127.0.0.1:
requests generated from the schema (valid and invalid) must get no 5xx, and answers that match
what the schema declares. ``QA_FUZZ_EXAMPLES`` bounds the examples per operation (CI: few)."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from qa.engine import QAEngine
from tests.conftest import running_server

EXAMPLES = int(os.environ.get("QA_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# /v1 declares its statuses and content types (OpenAI's error object for 4XX and 5XX, JSON or an
# event stream for a completion), not the body of each completion: OpenAI's own schema for it
# is not restated here.
OPENAI_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


def test_api_conforms_to_its_schema(module_engine: QAEngine) -> None:
    """Every operation of the schema, each with EXAMPLES generated cases (schemathesis's own
    pytest plugin is not used: its lazy fixtures do not run under this pytest)."""
    with running_server(create_app(engine=module_engine)) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 8
        calls = 0
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
            def conforms(case: schemathesis.Case) -> None:
                nonlocal calls
                calls += 1
                openai = case.operation.path.startswith("/v1/")
                case.call_and_validate(checks=OPENAI_CHECKS if openai else CHECKS)

            conforms()
        print(f"schemathesis: {calls} cases over {len(operations)} operations, no failure")

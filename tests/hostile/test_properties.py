"""Property tests over the whole HTTP API: any JSON body, any path id, any query, to every route
is answered below 500, in the error shape the OpenAPI schema declares, with no more than a short
excerpt of the input. ``QA_FUZZ_EXAMPLES`` sets the examples per route (``make fuzz``: many)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from qa.engine import QAEngine
from tests.hostile.errors import assert_declared_error

EXAMPLES = int(os.environ.get("QA_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any character, lone surrogates included (JSON can spell them: "\ud800").
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
KEYS = (
    st.sampled_from(
        [
            "question",
            "top_k",
            "mode",
            "filters",
            "source",
            "published_after",
            "doc_ids",
            "id",
            "text",
            "title",
            "url",
            "published",
            "metadata",
            "messages",
            "role",
            "content",
            "stream",
            "model",
        ]
    )
    | TEXT
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
    | st.sampled_from(["hybrid", "user", "2024-01-01", "x" * 3000])
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=20,
)
BODY_ROUTES = [
    ("POST", "/ask"),
    ("POST", "/documents"),
    ("PUT", "/documents/{id}"),
    ("POST", "/v1/chat/completions"),
]


@pytest.fixture(scope="module")
def client(module_engine: QAEngine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=module_engine), raise_server_exceptions=False) as c:
        yield c


def check(response: httpx.Response, path: str) -> None:
    assert_declared_error(response, path)


@pytest.mark.parametrize(("method", "route"), BODY_ROUTES)
@FUZZ
@given(body=JSONISH, doc_id=TEXT)
def test_any_json_body_gets_a_declared_answer(
    client: TestClient, method: str, route: str, body: object, doc_id: str
) -> None:
    path = route.replace("{id}", quote(doc_id.encode("utf-8", "surrogatepass"), safe="") or "x")
    content = json.dumps(body)  # NaN and Infinity written as JSON's non-standard tokens
    r = client.request(method, path, content=content, headers={"content-type": "application/json"})
    check(r, path)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_as_a_body_get_a_declared_answer(client: TestClient, raw: bytes) -> None:
    r = client.post("/ask", content=raw, headers={"content-type": "application/json"})
    check(r, "/ask")


@FUZZ
@given(doc_id=TEXT, limit=TEXT, offset=TEXT, method=st.sampled_from(["GET", "DELETE", "POST"]))
def test_any_path_and_query_get_a_declared_answer(
    client: TestClient, doc_id: str, limit: str, offset: str, method: str
) -> None:
    encoded = quote(doc_id.encode("utf-8", "surrogatepass"), safe="") or "x"
    check(client.request(method, f"/documents/{encoded}"), "/documents/x")
    params = {
        "limit": limit.encode("utf-8", "surrogatepass"),
        "offset": offset.encode("utf-8", "surrogatepass"),
    }
    check(client.get("/documents", params=params), "/documents")

"""Issue 12, HTTP cases: hand-made hostile input against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from api.openai_compat import OpenAIErrorOut
from api.schemas import ErrorOut, ValidationErrorOut
from tests.hostile.conftest import API_KEY, BAD_INPUTS
from tests.hostile.errors import assert_declared_error

JSON = {"content-type": "application/json"}
ROUTES = {
    "ask": ("POST", "/ask"),
    "documents": ("POST", "/documents"),
    "put": ("PUT", "/documents/x"),
    "v1": ("POST", "/v1/chat/completions"),
}
BODIES = sorted((BAD_INPUTS / "bodies").iterdir())


@pytest.mark.parametrize("body_file", BODIES, ids=[p.name for p in BODIES])
def test_bad_input_bodies_get_a_declared_error_never_a_5xx(
    server_url: str, body_file: Path
) -> None:
    method, path = ROUTES[body_file.name.split("--")[0]]
    r = httpx.request(method, server_url + path, content=body_file.read_bytes(), headers=JSON)
    assert_declared_error(r, path)
    assert r.status_code in (200, 201, 400, 422), r.text[:300]


def test_lone_surrogate_question_is_a_422_naming_the_field(server_url: str) -> None:
    r = httpx.post(f"{server_url}/ask", content=b'{"question": "\\ud800"}', headers=JSON)
    assert r.status_code == 422
    error = ValidationErrorOut.model_validate(r.json()).detail[0]
    assert error.loc == ["body", "question"] and error.input == "\\ud800"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_top_k_is_a_422(server_url: str, value: str) -> None:
    body = f'{{"question": "volcano", "top_k": {value}}}'.encode()
    r = httpx.post(f"{server_url}/ask", content=body, headers=JSON)
    assert r.status_code == 422
    assert ValidationErrorOut.model_validate(r.json()).detail[0].loc == ["body", "top_k"]


def test_error_bodies_echo_only_a_short_excerpt(server_url: str) -> None:
    """A 900 KB question used to come back whole in the 422."""
    r = httpx.post(f"{server_url}/ask", json={"question": "x" * 900_000})
    assert r.status_code == 422 and len(r.content) < 1000
    assert ValidationErrorOut.model_validate(r.json()).detail[0].input == "x" * 80 + "…"
    many = [{"id": f"d{i}", "text": ""} for i in range(1000)]
    r = httpx.post(f"{server_url}/documents", json=many)
    assert r.status_code == 422 and len(r.content) < 4096


def test_non_ascii_bearer_token_is_a_401_not_a_500(keyed_url: str) -> None:
    for token in ("é".encode(), "é".encode("latin-1"), "ключ".encode(), b"\xff\xfe"):
        r = httpx.get(f"{keyed_url}/documents", headers={b"authorization": b"Bearer " + token})
        assert r.status_code == 401, token
        ErrorOut.model_validate(r.json())


def test_non_ascii_api_key_works(keyed_url: str) -> None:
    good = {b"authorization": b"Bearer " + API_KEY.encode("utf-8")}
    assert httpx.get(f"{keyed_url}/documents", headers=good).status_code == 200
    r = httpx.post(f"{keyed_url}/ask", json={"question": "volcano"}, headers=good)
    assert r.status_code == 200
    wrong = {b"authorization": b"Bearer " + API_KEY[:-1].encode("utf-8")}
    assert httpx.get(f"{keyed_url}/documents", headers=wrong).status_code == 401
    assert httpx.get(f"{keyed_url}/health").status_code == 200


def test_docs_and_openapi_stay_public_with_a_key(keyed_url: str) -> None:
    """Decision (README, Access): the schema and its viewer hold no data, so they stay public
    like the page's files; every data route needs the key."""
    assert httpx.get(f"{keyed_url}/openapi.json").status_code == 200
    assert httpx.get(f"{keyed_url}/docs").status_code == 200
    assert httpx.get(f"{keyed_url}/documents").status_code == 401
    assert httpx.get(f"{keyed_url}/documents/volcano").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ask"),
        ("DELETE", "/ask"),
        ("POST", "/health"),
        ("PATCH", "/documents/volcano"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/"),
    ],
)
def test_wrong_method_is_405(server_url: str, method: str, path: str) -> None:
    r = httpx.request(method, server_url + path)
    assert r.status_code == 405 and "allow" in r.headers
    assert_declared_error(r, path)


def test_page_files_still_served(server_url: str) -> None:
    for path in ("/", "/index.html", "/app.js", "/style.css"):
        assert httpx.get(server_url + path).status_code == 200, path
    assert httpx.get(f"{server_url}/nope.js").status_code == 404


def test_openapi_declares_the_error_bodies_sent(server_url: str) -> None:
    spec = httpx.get(f"{server_url}/openapi.json").json()
    ask = spec["paths"]["/ask"]["post"]["responses"]
    ref = "#/components/schemas/"
    assert ask["422"]["content"]["application/json"]["schema"]["$ref"] == ref + "ValidationErrorOut"
    for status in ("400", "413", "405"):
        assert ask[status]["content"]["application/json"]["schema"]["$ref"] == ref + "ErrorOut"
    listing = spec["paths"]["/documents"]["get"]["responses"]
    assert listing["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ValidationErrorOut"
    )
    r = httpx.get(f"{server_url}/documents", params={"limit": "many"})
    assert r.status_code == 422 and ValidationErrorOut.model_validate(r.json()).detail[0].loc == [
        "query",
        "limit",
    ]
    r = httpx.post(f"{server_url}/documents", json=[])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]


def test_every_listed_document_id_opens(server_url: str) -> None:
    for doc_id in ("a/b", "folder/sub/c d", "ünï/cødé", "trailing/"):
        text = f"Article {doc_id}. It has one sentence about harbours."
        assert httpx.put(f"{server_url}/documents/{doc_id}", json={"text": text}).status_code in (
            200,
            201,
        )
    listed = [d["doc_id"] for d in httpx.get(f"{server_url}/documents").json()]
    assert {"a/b", "folder/sub/c d", "ünï/cødé"} <= set(listed)
    for doc_id in listed:
        r = httpx.get(f"{server_url}/documents/{doc_id}")
        assert r.status_code == 200 and r.json()["doc_id"] == doc_id, doc_id


def test_huge_offset_is_a_422_not_a_500(server_url: str) -> None:
    """Found by schemathesis: an offset past SQLite's 64-bit integers overflowed."""
    r = httpx.get(f"{server_url}/documents", params={"offset": "9" * 25})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/ask", {"question": "   "}, ["body", "question"]),
        ("/ask", {"question": "x" * 2001}, ["body", "question"]),
        ("/ask", {"question": "\ud800?"}, ["body", "question"]),
        (
            "/documents",
            [{"id": "twice", "text": "One. Two."}, {"id": "twice", "text": "Three."}],
            ["body", 1, "id"],
        ),
    ],
)
def test_the_engines_422s_name_the_field(
    server_url: str, path: str, body: object, loc: list[object]
) -> None:
    content = json.dumps(body)  # ASCII: a lone surrogate travels as JSON's "\ud800"
    r = httpx.post(
        f"{server_url}{path}", content=content, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


def test_the_listed_length_counts_a_text_with_a_nul_whole(server_url: str) -> None:
    """SQLite's length() stops at a text's first NUL: the listing said 62 for 111 characters."""
    text = "Harbour news. The pier reopened \x00 after repairs. Boats are back in the harbour now."
    assert httpx.put(f"{server_url}/documents/nul-text", json={"text": text}).status_code == 201
    listed = {d["doc_id"]: d for d in httpx.get(f"{server_url}/documents").json()}
    stored = httpx.get(f"{server_url}/documents/nul-text").json()["text"]
    assert listed["nul-text"]["length"] == len(stored) == len(text)


def test_put_takes_only_the_ids_post_takes(server_url: str) -> None:
    """PUT stored " padded " (with its spaces), an id POST refuses."""
    r = httpx.put(f"{server_url}/documents/%20padded%20", json={"text": "One. Two."})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["path", "doc_id"]
    assert "white space" in r.json()["detail"][0]["msg"]
    posted = httpx.post(f"{server_url}/documents", json={"id": " padded ", "text": "One. Two."})
    assert posted.status_code == 422


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_id_of_bytes_that_are_not_utf8_is_a_422_not_the_article_u_fffd(
    server_url: str, method: str
) -> None:
    """The server decodes such bytes to U+FFFD: PUT /documents/%FF and PUT /documents/%FE both
    wrote the article "\ufffd", and DELETE /documents/%80 deleted it."""
    body = {"text": "The harbour in Dover was rebuilt in 1850."}
    for raw in ("%FF", "%FE", "%80", "%ED%A0%80", "ok%C3"):  # the fourth: a lone surrogate
        r = httpx.request(method, f"{server_url}/documents/{raw}", json=body)
        assert r.status_code == 422, (raw, r.text)
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["path", "doc_id"] and "not UTF-8" in detail["msg"]
    assert httpx.get(f"{server_url}/documents/%EF%BF%BD").status_code == 404  # nothing written


@pytest.mark.parametrize("brk", ["\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"])
def test_an_id_with_any_line_break_is_refused(server_url: str, brk: str) -> None:
    """The README says ids hold no line break; only "\\n" was refused."""
    doc_id = f"id{brk}x"
    r = httpx.post(f"{server_url}/documents", json={"id": doc_id, "text": "One. Two."})
    assert r.status_code == 422, r.text
    # once, where it is: not also under "DocumentIn", nor as "not a valid list"
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "id"]]
    path = "".join(f"%{b:02X}" for b in doc_id.encode())
    put = httpx.put(f"{server_url}/documents/{path}", json={"text": "One. Two."})
    # "\n" was a bare 404 (the route's pattern did not match it), "%0A" alone the empty id
    assert put.status_code == 422, put.text
    assert [(d["loc"], d["msg"]) for d in put.json()["detail"]] == [
        (["path", "doc_id"], "the id holds a line break")
    ]
    assert httpx.get(f"{server_url}/documents/{path}").status_code == 404
    only = "".join(f"%{b:02X}" for b in brk.encode())
    alone = httpx.put(f"{server_url}/documents/{only}", json={"text": "One. Two."})
    assert alone.status_code == 422 and "line break" in alone.text, alone.text


@pytest.mark.parametrize("doc_id", [".", ".."])
def test_a_dot_segment_id_is_refused(server_url: str, doc_id: str) -> None:
    """Was stored (201), then out of reach: browsers and clients resolve /documents/.. to /,
    so the page's citation link to it showed index.html and GET/DELETE never reached it."""
    r = httpx.post(f"{server_url}/documents", json={"id": doc_id, "text": "One. Two."})
    assert r.status_code == 422, r.text
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "id"]]
    assert "dot segment" in r.json()["detail"][0]["msg"]
    encoded = "%2E" * len(doc_id)  # reaches the route only percent-encoded
    put = httpx.put(f"{server_url}/documents/{encoded}", json={"text": "One. Two."})
    assert put.status_code == 422 and "dot segment" in put.text, put.text
    assert doc_id not in {d["doc_id"] for d in httpx.get(f"{server_url}/documents").json()}


def test_openapi_declares_the_v1_errors_in_openais_shape(server_url: str) -> None:
    """/v1 answers a bad request with a 400 in OpenAI's shape, never FastAPI's 422: the schema
    says so too."""
    spec = httpx.get(f"{server_url}/openapi.json").json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "422" not in chat
    for status in ("4XX", "5XX"):
        assert chat[status]["content"]["application/json"]["schema"]["$ref"].endswith(
            "OpenAIErrorOut"
        )
    assert set(chat["200"]["content"]) == {"application/json", "text/event-stream"}
    r = httpx.post(f"{server_url}/v1/chat/completions", json={"messages": "hello"})
    assert r.status_code == 400
    body = OpenAIErrorOut.model_validate(r.json())
    assert body.error.param == "messages" and body.error.type == "invalid_request_error"

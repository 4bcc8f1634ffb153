import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from qa.engine import QAEngine


@pytest.fixture
def client(tiny_engine: QAEngine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=tiny_engine)) as c:
        yield c


def test_ask_contract(client: TestClient, tiny_engine: QAEngine) -> None:
    r = client.post("/ask", json={"question": "How many residents were evacuated?", "top_k": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["question"] == "How many residents were evacuated?"
    assert body["abstained"] is False and body["took_ms"] >= 0
    assert body["abstention"] is None and body["message"] is None
    assert 1 <= len(body["answers"]) <= 2
    for answer in body["answers"]:
        assert set(answer) >= {
            "rank",
            "score",
            "doc_id",
            "title",
            "source",
            "passage",
            "highlight",
            "scores",
        }
        text = client.get(f"/documents/{answer['doc_id']}").json()["text"]
        for part in ("passage", "highlight"):
            span = answer[part]
            assert text[span["start_char"] : span["end_char"]] == span["text"]
        assert answer["passage"]["start_char"] <= answer["highlight"]["start_char"]
        assert answer["highlight"]["end_char"] <= answer["passage"]["end_char"]
        assert set(answer["scores"]) == {"dense", "bm25"}
    assert (
        body["answers"][0]["highlight"]["text"]
        == "Officials said 300 residents were evacuated by bus."
    )


def test_ask_defaults_are_the_servers_settings(
    client: TestClient, tiny_engine: QAEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA_TOP_K and QA_MODE set what a request leaves out; the request's own values win. Both
    were hard-coded in the request models (5, hybrid), so the settings changed nothing."""
    settings = tiny_engine.settings.model_copy(update={"top_k": 1, "mode": "bm25"})
    monkeypatch.setattr(tiny_engine, "settings", settings)
    question = {"question": "How many residents were evacuated?", "min_confidence": 0}
    body = client.post("/ask", json=question).json()
    assert body["mode"] == "bm25" and len(body["answers"]) == 1
    body = client.post("/ask", json={**question, "top_k": 2, "mode": "dense"}).json()
    assert body["mode"] == "dense" and len(body["answers"]) == 2
    chat = {"messages": [{"role": "user", "content": question["question"]}], "top_k": 2}
    sources = client.post("/v1/chat/completions", json=chat).json()["sources"]
    asked = client.post("/ask", json={**question, "top_k": 2, "mode": "bm25"}).json()
    assert [s["passage"] for s in sources] == [a["passage"] for a in asked["answers"]]
    dense = client.post("/ask", json={**question, "top_k": 2, "mode": "dense"}).json()
    assert [a["passage"] for a in dense["answers"]] != [a["passage"] for a in asked["answers"]]


def test_abstention_has_no_answers(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "Which quarterback threw for 5000 yards?"}).json()
    assert body["abstained"] is True and body["answers"] == []
    assert body["abstention"] == "low_confidence"
    assert body["message"] == "No answer in these articles."


def test_an_abstention_with_nothing_to_weigh_says_so(client: TestClient) -> None:
    """Was the usual message with "confidence 1.0 that the best passage found does not
    answer", where no passage was found."""
    question = {"question": "volcano", "filters": {"doc_ids": ["no-such-article"]}}
    body = client.post("/ask", json=question).json()
    assert body["abstained"] is True and body["answers"] == []
    assert body["abstention"] == "no_match"
    assert body["message"] == (
        "No answer in these articles: no passage matches the question and filters."
    )
    assert body["confidence"] == 1.0


def test_the_page_is_revalidated_on_every_load(client: TestClient) -> None:
    for path in ("/", "/app.js", "/style.css"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"question": ""}, "at least 1 character"),
        ({"question": "   "}, '"msg":"question must not be empty or white space alone"'),
        ({"question": " \t "}, '"input":" \\t "'),  # what was sent (was null)
        ({"question": "x" * 2001}, "at most 2000 characters"),
        ({"question": "ok", "top_k": 0}, "greater than or equal to 1"),
        ({"question": "ok", "top_k": 51}, "less than or equal to 50"),
        ({"question": "ok", "mode": "sparse"}, "'hybrid', 'dense' or 'bm25'"),
        ({"question": "ok", "extra": 1}, "Extra inputs are not permitted"),
        ({}, "Field required"),
        ({"question": 3}, "valid string"),
        # JSON true is no number, "5" no integer: strict, not coerced to 1 or 5
        ({"question": "ok", "top_k": True}, "valid integer"),
        ({"question": "ok", "top_k": "5"}, "valid integer"),
        ({"question": "ok", "min_confidence": True}, "valid number"),
        ({"question": "ok", "min_confidence": "0.5"}, "valid number"),
        ({"question": "ok", "filters": {"source": [" "]}}, "source must not be empty or blank"),
    ],
)
def test_bad_input_is_a_422_with_a_message(
    client: TestClient, payload: dict, fragment: str
) -> None:
    r = client.post("/ask", json=payload)
    assert r.status_code == 422
    assert fragment in r.text


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        # Was: "JSON decode error", and an "input" of "{}" that was not what was sent
        (
            b'{"question": "x?",}',
            JSON,
            "the body is not JSON: Expecting property name enclosed in double quotes "
            "(at character 18)",
        ),
        # Was: "Input should be a valid dictionary or object to extract fields from", with the
        # bytes as "input": curl's -d without -H sends a form's content-type
        (
            b'{"question": "x?"}',
            {"content-type": "application/x-www-form-urlencoded"},
            "the body is read as JSON only when sent with content-type: application/json "
            "(this request's is 'application/x-www-form-urlencoded')",
        ),
        # Was: a 400 "There was an error parsing the body"
        (
            b'{"question": "caf\xe9?"}',
            JSON,
            "the body is not UTF-8 text (byte 0xe9 at position 17): JSON must be sent as UTF-8",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/ask", "/documents", "/v1/chat/completions"])
def test_a_body_that_is_not_json_says_why(
    client: TestClient, path: str, body: bytes, headers: dict[str, str], message: str
) -> None:
    r = client.post(path, content=body, headers=headers)
    if path.startswith("/v1"):
        assert r.status_code == 400
        assert r.json()["error"] == {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    else:
        assert r.status_code == 422
        assert r.json()["detail"] == [
            {"loc": ["body"], "msg": message, "type": "body", "input": None}
        ]
    assert client.get("/health").json()["documents"] == 2  # nothing written


def test_a_compressed_body_is_said_to_be_compressed(client: TestClient) -> None:
    """Was: "the body is not UTF-8 text (byte 0x8b at position 1)" for a gzip body."""
    import gzip

    body = gzip.compress(b'{"question": "x?"}')
    r = client.post("/ask", content=body, headers={**JSON, "content-encoding": "gzip"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == (
        "the body is sent with content-encoding: gzip, which this server does not decode: "
        "send it uncompressed"
    )


def test_document_field_errors_say_what_is_wrong_in_words(client: TestClient) -> None:
    """Was: a POST id with a space at its end got "String should match pattern '^\\S(?:[^..."
    (a PUT path's id got words); an id in a PUT body "Extra inputs are not permitted"; NaN as
    min_confidence "less than or equal to 1"."""
    for doc_id, words in (
        ("x ", "the id starts or ends with white space"),
        ("a\nb", "the id holds a line break"),
        ("", "the id is empty"),
    ):
        r = client.post("/documents", json={"id": doc_id, "text": "Trams run."})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "id"]
        assert r.json()["detail"][0]["msg"] == words
    r = client.put("/documents/t1", json={"id": "t1", "text": "Trams run."})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == (
        "the id goes in the URL (PUT /documents/{id}), not in the body"
    )
    r = client.post("/ask", content=b'{"question": "x?", "min_confidence": NaN}', headers=JSON)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "min_confidence"]
    assert r.json()["detail"][0]["msg"] == "Input should be a finite number"
    assert client.get("/health").json()["documents"] == 2


def test_documents_and_health(client: TestClient) -> None:
    docs = client.get("/documents").json()
    assert {d["doc_id"] for d in docs} == {"volcano", "election"}
    volcano = next(d for d in docs if d["doc_id"] == "volcano")
    assert volcano["title"] == "Volcano erupts near mountain village"
    doc = client.get("/documents/volcano").json()
    assert doc["text"].startswith("Volcano erupts") and len(doc["text"]) == volcano["length"]
    missing = client.get("/documents/nope")
    assert missing.status_code == 404 and "no document with id 'nope'" in missing.text
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["documents"] == 2 and health["passages"] > 0


def test_api_key_guards_everything_but_health(tiny_engine: QAEngine) -> None:
    settings = tiny_engine.settings.model_copy(update={"api_key": SecretStr("s3cret")})
    with TestClient(create_app(settings, tiny_engine)) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/documents").status_code == 401
        assert c.get("/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = c.post("/ask", json={"question": "volcano"}, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200


def test_api_writes_are_trimmed_and_not_nested_past_what_can_be_sent_back(
    client: TestClient,
) -> None:
    """Was: "  BBC  " was stored as sent (a source filter for "BBC" missed it), and metadata
    nested 256 levels deep was stored, then every GET of it was a 500."""
    body = {"id": "t1", "text": "Trams\nThe tram line opened.", "source": "  BBC  ", "title": " "}
    assert client.post("/documents", json=body).status_code == 201
    stored = client.get("/documents/t1").json()
    from qa.ingest.corpus import new_article

    assert stored["source"] == "BBC"
    assert stored["title"] == new_article("t1", body["text"]).title  # as if no title were sent
    deep: object = "x"
    for _ in range(300):
        deep = [deep]
    refused = client.post("/documents", json={"id": "t2", "text": "Deep.", "metadata": {"k": deep}})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == "metadata"
    assert client.get("/documents/t2").status_code == 404
    shallow: object = "x"
    for _ in range(150):
        shallow = [shallow]
    body = {"id": "t3", "text": "Shallow.", "metadata": {"k": shallow}}
    assert client.post("/documents", json=body).status_code == 201
    assert client.get("/documents/t3").status_code == 200


@pytest.mark.parametrize("path", ["/ask", "/documents", "/v1/chat/completions"])
def test_a_client_that_leaves_mid_body_is_no_server_error(tiny_engine: QAEngine, path: str) -> None:
    """Was a 500 and a logged traceback: FastAPI's 400 for the body it could not read, whose
    handler then read the body again and met the disconnect a second time."""
    app = create_app(engine=tiny_engine)
    messages: list[dict[str, object]] = [
        {"type": "http.request", "body": b'{"question": "wh', "more_body": True}
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    assert b"the client disconnected" in sent[1]["body"]  # type: ignore[operator]


def test_an_article_url_must_be_a_web_address(client: TestClient) -> None:
    """Chat front ends show an article's url as the citation's link: a ``javascript:`` one was
    stored as sent and went out as a ``url_citation``."""
    for url, words in (
        (
            "javascript:alert(1)",
            "must be an http:// or https:// address, not 'javascript:alert(1)'",
        ),
        (
            "www.bbc.co.uk/news/1",
            "must be an http:// or https:// address, not 'www.bbc.co.uk/news/1'",
        ),
        ("https://", "must be an http:// or https:// address, not 'https://'"),
        (
            "https://x.test/\u202egnp.exe",
            "holds white space or a control or format character: 'https://x.test/\\u202egnp.exe'",
        ),
        (
            "https://x.test:99999/a",
            "is not a web address (Port out of range 0-65535): 'https://x.test:99999/a'",
        ),
        (
            "https://x.test/a b",
            "holds white space or a control or format character: 'https://x.test/a b'",
        ),
    ):
        r = client.post("/documents", json={"id": "u1", "text": "Trams run.", "url": url})
        assert r.status_code == 422, url
        assert r.json()["detail"][0]["loc"] == ["body", "url"]
        assert r.json()["detail"][0]["msg"] == words
        r = client.put("/documents/volcano", json={"text": "Trams run.", "url": url})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "url"]
    assert client.get("/documents/u1").status_code == 404
    assert client.get("/documents/volcano").json()["text"].startswith("Volcano erupts")
    body = {"id": "u1", "text": "Trams run.", "url": " HTTPS://x.test/trams?id=1 "}
    assert client.post("/documents", json=body).status_code == 201
    assert client.get("/documents/u1").json()["url"] == "HTTPS://x.test/trams?id=1"


def test_a_404_for_an_id_no_article_can_have_says_why(client: TestClient) -> None:
    """Was: ``DELETE /documents/`` answered "no document with id ''" and no more."""
    for method in ("GET", "DELETE"):
        r = client.request(method, "/documents/")
        assert r.status_code == 404
        assert r.json()["detail"] == "no document with id '': the id is empty"
        r = client.request(method, "/documents/%20x")
        assert (
            r.json()["detail"] == "no document with id ' x': the id starts or ends with white space"
        )
        r = client.request(method, "/documents/nope")
        assert r.json()["detail"] == "no document with id 'nope'"
    assert client.get("/health").json()["documents"] == 2


def test_json_python_cannot_read_is_said_to_be_so(client: TestClient) -> None:
    """Was: "the body could not be read as JSON" for valid JSON nested 5,000 deep or holding a
    5,000-digit number, with no word of why."""
    deep = b'{"question": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    long = b'{"question": "x?", "top_k": 1' + b"0" * 5000 + b"}"
    for body, words in (
        (deep, "the body could not be read: JSON nested too deeply to read"),
        (long, "the body could not be read: JSON this reader refuses (Exceeds the limit"),
    ):
        for path in ("/ask", "/documents"):
            r = client.post(path, content=body, headers=JSON)
            assert r.status_code == 422
            assert r.json()["detail"][0]["loc"] == ["body"]
            assert r.json()["detail"][0]["msg"].startswith(words)

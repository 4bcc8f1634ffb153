"""Open WebUI's side of /v1/chat/completions, from requests Open WebUI 0.12.4 really sent.

The fixtures in fixtures/openwebui/ were recorded by tests/openwebui/record.py between a real
Open WebUI and `qa serve` (see the README there). Each reply is read back the way Open WebUI
reads it (the helpers below follow its code, cited by file and line).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.openai_compat import MODEL_ID
from api.openwebui import TITLE_CHARS, background_task, question_in, shorten
from qa.engine import QAEngine
from tests.conftest import running_server

FIXTURES = Path(__file__).parent / "fixtures" / "openwebui"
QUESTION = "Where were the Hamas documents found?"


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return body


def json_in(content: str) -> dict[str, Any]:
    """What Open WebUI parses out of a task reply: from the first ``{`` to the last ``}``
    (utils/middleware.py:3664-3666 for titles, 3716-3718 tags, utils/task.py:351 follow-ups)."""
    parsed: dict[str, Any] = json.loads(content[content.find("{") : content.rfind("}") + 1])
    return parsed


def stream_chunks(http: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


@pytest.fixture
def http(tiny_engine: QAEngine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=tiny_engine)) as client:
        yield client


@pytest.fixture
def no_search(tiny_engine: QAEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Background tasks must be answered without touching the index."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a background task reached the engine")

    monkeypatch.setattr(tiny_engine, "ask", refuse)


# --- background tasks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("title", "title", {"title": QUESTION}),
        ("tags", "tags", {"tags": []}),
        ("follow-ups", "follow_ups", {"follow_ups": []}),
        ("follow-ups-second-turn", "follow_ups", {"follow_ups": []}),
        ("queries", "queries", {"queries": [QUESTION]}),
        ("autocomplete", "text", {"text": ""}),
        ("image-prompt", "prompt", {"prompt": QUESTION}),
        ("tool-choice", "tool_calls", {"tool_calls": []}),
    ],
)
def test_json_tasks_get_the_json_open_webui_asks_for(
    http: TestClient, no_search: None, name: str, kind: str, expected: dict[str, Any]
) -> None:
    body = fixture(name)
    assert body["stream"] is False
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    reply = response.json()
    assert reply["background_task"] == kind and reply["sources"] == []
    content = reply["choices"][0]["message"]["content"]
    assert json_in(content) == expected
    assert json.loads(content) == expected  # and nothing around it


def test_follow_up_prompt_longer_than_a_question_is_not_an_error(
    http: TestClient, no_search: None
) -> None:
    """It was a 422 ("longer than 2000 characters"), logged as a failure by Open WebUI."""
    body = fixture("follow-ups")
    assert len(body["messages"][-1]["content"]) > 2000
    assert http.post("/v1/chat/completions", json=body).status_code == 200


def test_emoji_task_gets_an_empty_reply(http: TestClient, no_search: None) -> None:
    # Open WebUI keeps an emoji only if the reply has one (src/lib/apis/index.ts generateEmoji).
    reply = http.post("/v1/chat/completions", json=fixture("emoji")).json()
    assert reply["choices"][0]["message"]["content"] == ""
    assert reply["background_task"] == "emoji"


def test_streamed_task_reply_is_one_content_delta(http: TestClient, no_search: None) -> None:
    chunks = stream_chunks(http, {**fixture("title"), "stream": True})
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert json.loads(content) == {"title": QUESTION}
    assert not any("event" in c for c in chunks)


@pytest.mark.parametrize("name", ["title", "tags", "queries", "image-prompt"])
@pytest.mark.parametrize("stream", [False, True])
def test_task_whose_question_is_not_unicode_is_a_400(
    tiny_engine: QAEngine, no_search: None, name: str, stream: bool
) -> None:
    """A lone surrogate (JSON "\\ud800") in the question a task reply echoes was a plain-text
    500 from a real server, or a 200 stream cut off mid-body; now it is refused as the same
    question asked in a chat is."""
    body = fixture(name)
    message = body["messages"][-1]
    assert QUESTION in message["content"]
    message["content"] = message["content"].replace(QUESTION, "Where \ud800 were they found?")
    with running_server(create_app(engine=tiny_engine)) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            content=json.dumps({**body, "stream": stream}),  # the surrogate as "\ud800"
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "question is not valid text (surrogates not allowed)",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }
    }


def test_open_webui_sends_the_listed_model(http: TestClient) -> None:
    """Unknown models are a 404 (model_not_found): every request Open WebUI sent names the one
    model /v1/models lists, and gets its answer."""
    listed = [m["id"] for m in http.get("/v1/models").json()["data"]]
    assert listed == [MODEL_ID]
    for path in sorted(FIXTURES.glob("*.json")):
        body = fixture(path.stem)
        assert body["model"] == MODEL_ID, path.name
        assert http.get(f"/v1/models/{body['model']}").status_code == 200
        assert http.post("/v1/chat/completions", json=body).status_code == 200, path.name


def test_title_is_the_question_shortened() -> None:
    long = (
        "What did the officials say about the evacuation of the residents of the village "
        "near the volcano on Tuesday?"
    )
    title = shorten(long)
    assert len(title) <= TITLE_CHARS + 1 and title.endswith("…")
    assert long.startswith(title[:-1]) and long[len(title) - 1] == " "
    assert shorten("  Where   were\nthe documents found?  ") == "Where were the documents found?"
    body = fixture("title")
    content = body["messages"][0]["content"].replace(QUESTION, long)
    task = background_task([("user", content)])
    assert task is not None and json.loads(task.reply) == {"title": title}


def test_context_compaction_gets_an_empty_reply() -> None:
    # open_webui/utils/context_compaction.py DEFAULT_CONTEXT_COMPACTION_PROMPT: with an empty
    # summary Open WebUI writes its own from the messages (context_compaction.py:449-457).
    prompt = (
        "### Task:\nSummarize the conversation history that will be compacted out of the active "
        "chat context.\n\n### Previous Summary:\n\n\n### Messages Being Compacted:\nUSER: "
        '{"a": 1}\n\n### Recent Messages Kept In Context:\nASSISTANT: [1] ...'
    )
    task = background_task([("user", prompt)])
    assert task is not None and task.reply == ""


def test_memory_review_gets_no_operations() -> None:
    # open_webui/utils/memory.py: the system message of its background memory review
    task = background_task(
        [
            ("system", "You are Open WebUI's private memory reviewer. Return only valid JSON."),
            ("user", 'Return only JSON in this shape:\n  {"operations":[ ...'),
        ]
    )
    assert task is not None and json.loads(task.reply) == {"operations": []}


@pytest.mark.parametrize(
    "text",
    [
        QUESTION,
        "Explain ### Task: in Open WebUI",
        "What does <chat_history> mean?",
        "Your task is simple: where were the documents found?",
    ],
)
def test_questions_are_not_tasks(text: str) -> None:
    assert background_task([("system", "You are helpful."), ("user", text)]) is None


# --- questions inside Open WebUI's wrappers ------------------------------------------------


def test_merge_responses_prompt_is_answered_as_its_question(
    tiny_engine: QAEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real_ask = tiny_engine.ask

    def spy(question: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(question)
        return real_ask(question, *args, **kwargs)

    monkeypatch.setattr(tiny_engine, "ask", spy)
    with TestClient(create_app(engine=tiny_engine)) as http:
        response = http.post("/v1/chat/completions", json=fixture("merge-responses"))
    assert response.status_code == 200 and asked == [QUESTION]


def test_rag_template_around_a_question_is_unwrapped() -> None:
    # open_webui/config.py DEFAULT_RAG_TEMPLATE, put in front of the question with "\n"
    # (utils/middleware.py:676-680, utils/misc.py update_message_content).
    rag = (
        "### Task:\nRespond to the user query using the provided context, incorporating inline "
        'citations in the format [id] ...\n\n<context>\n<source id="1">Some text</source>\n'
        "</context>\n"
    )
    wrapped = f"{rag}\n{QUESTION}"
    assert background_task([("user", wrapped)]) is None
    assert question_in(wrapped) == QUESTION
    assert question_in(QUESTION) == QUESTION


# --- source events -------------------------------------------------------------------------


def open_webui_source_ids(events: list[dict[str, Any]]) -> list[str]:
    """The distinct source keys in order: ``[n]`` opens the n-th one
    (src/lib/components/chat/Messages/ContentRenderer.svelte:107-131)."""
    ids: list[str] = []
    for event in events:
        data = event["data"]
        for i in range(len(data["document"])):
            key = data["metadata"][i].get("source") or data["source"]["id"]
            if key not in ids:
                ids.append(key)
    return ids


def test_stream_sends_one_source_event_per_passage_before_the_content(
    http: TestClient, tiny_engine: QAEngine
) -> None:
    body = {
        **fixture("chat"),
        "messages": [{"role": "user", "content": "How many residents were evacuated?"}],
    }
    chunks = stream_chunks(http, body)
    sources = chunks[-1]["sources"]
    assert sources
    first_content = next(
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["delta"].get("content")
    )
    events = [c["event"] for c in chunks if "event" in c]
    assert [i for i, c in enumerate(chunks) if "event" in c] == list(range(1, 1 + len(sources)))
    assert first_content == 1 + len(sources)
    # Every event chunk is also a valid, empty OpenAI delta.
    for chunk in chunks[1 : 1 + len(sources)]:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["choices"] == [{"index": 0, "delta": {}, "finish_reason": None}]

    assert len(open_webui_source_ids(events)) == len(sources)
    for event, source in zip(events, sources, strict=True):
        assert event["type"] == "source"
        data = event["data"]
        # socket/main.py:1583-1586 stores a source with the message only if it has no "type".
        assert "type" not in data
        assert set(data) == {"source", "document", "metadata"}
        assert set(data["source"]) == {"id", "name", "url"}
        (document,) = data["document"]
        (meta,) = data["metadata"]
        passage = source["passage"]
        text = tiny_engine.document(source["doc_id"]).text
        assert document == passage["text"] == text[meta["start_char"] : meta["end_char"]]
        assert meta["source"] == data["source"]["id"]
        assert meta["doc_id"] == source["doc_id"] and meta["title"] == source["title"]
        assert (meta["start_char"], meta["end_char"]) == (
            passage["start_char"],
            passage["end_char"],
        )
        assert meta["highlight"] == source["highlight"]
        assert meta["rank"] == source["rank"]
        assert meta["name"] == data["source"]["name"]
        assert (
            f"({source['doc_id']}, characters {passage['start_char']}-{passage['end_char']})"
            in meta["name"]
        )
        assert meta["url"] == data["source"]["url"]
        assert meta["url"].startswith("http://testserver/?doc=")
        assert f"start={passage['start_char']}&end={passage['end_char']}" in meta["url"]


def test_second_turn_is_answered_from_its_last_question(http: TestClient) -> None:
    body = fixture("chat-second-turn")
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    chunks = stream_chunks(http, body)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_whole_responses_carry_no_events(http: TestClient) -> None:
    body = {**fixture("chat"), "stream": False}
    reply = http.post("/v1/chat/completions", json=body).json()
    assert "event" not in reply and set(reply["choices"][0]["message"]) == {
        "role",
        "content",
        "annotations",
    }

"""The OpenAI-compatible API, driven by the official `openai` client against a real uvicorn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.openai_compat import MODEL_ID, NO_ANSWER_SENTENCE, SOURCES_LABEL
from qa.engine import QAEngine
from tests.conftest import running_server

QUESTION = "How many residents were evacuated from the village?"
README = Path(__file__).resolve().parents[2] / "README.md"


def assert_quotes_are_verbatim(
    content: str, sources: list[dict], documents: dict[str, str]
) -> None:
    assert sources
    for source in sources:
        passage = source["passage"]
        text = documents[source["doc_id"]]
        assert text[passage["start_char"] : passage["end_char"]] == passage["text"]
        assert f"[{source['rank']}] {passage['text']}" in content
        assert (
            f"({source['doc_id']}, characters {passage['start_char']}-{passage['end_char']})"
            in content
        )
    assert SOURCES_LABEL in content


def documents(base_url: str) -> dict[str, str]:
    listing = httpx.get(f"{base_url}/documents").json()
    return {
        d["doc_id"]: httpx.get(f"{base_url}/documents/{d['doc_id']}").json()["text"]
        for d in listing
    }


def test_models_lists_one_model(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [MODEL_ID]


def test_chat_completion_quotes_verbatim_passages(client: openai.OpenAI, base_url: str) -> None:
    completion = client.chat.completions.create(
        model=MODEL_ID,
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Tell me about the election."},
            {"role": "assistant", "content": "..."},
            {"role": "user", "content": QUESTION},
        ],
        temperature=0.7,
        top_p=0.9,
        max_tokens=50,
        user="someone",
    )
    message = completion.choices[0].message
    assert message.role == "assistant" and completion.choices[0].finish_reason == "stop"
    assert message.content is not None and message.content.startswith("[1] ")
    sources = completion.model_extra["sources"]  # type: ignore[index]
    assert_quotes_are_verbatim(message.content, sources, documents(base_url))
    assert "300 residents were evacuated" in sources[0]["highlight"]["text"]


def test_streaming_chat_completion(client: openai.OpenAI, base_url: str) -> None:
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    # Open WebUI's source events ride on empty deltas the client passes over (test_openwebui.py).
    extras = [c.model_extra or {} for c in chunks]
    events = [extra["event"] for extra in extras if "event" in extra]
    assert all(e["type"] == "source" for e in events) and events
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    sources = chunks[-1].model_extra["sources"]  # type: ignore[index]
    assert_quotes_are_verbatim(content, sources, documents(base_url))


def test_raw_stream_ends_with_done(base_url: str) -> None:
    with httpx.stream(
        "POST",
        f"{base_url}/v1/chat/completions",
        json={
            "model": MODEL_ID,
            "messages": [{"role": "user", "content": QUESTION}],
            "stream": True,
        },
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events)


def test_a_stream_read_line_by_line_keeps_unicode_line_ends(tmp_path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """U+2028, U+2029 and NEL end lines for str.splitlines and httpx's iter_lines, and JSON
    leaves them raw: a passage holding one cut its data line in two (the second half was not
    an event). They are escaped now, and the streamed content is the passage, verbatim."""
    from qa.config import Settings

    text = (
        "A volcano erupted near Lavaton.\u2028Officials evacuated 300 residents by bus.\x85"
        "The road\u2029reopened on Sunday."
    )
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "v1", "title": "Volcano", "text": text}) + "\n")
    settings = Settings(corpus=corpus, index_dir=tmp_path / "i")
    engine = QAEngine.open(settings, fake_embedder)
    try:
        with (
            running_server(create_app(engine=engine)) as url,
            httpx.stream(
                "POST",
                f"{url}/v1/chat/completions",
                json={
                    "messages": [{"role": "user", "content": "evacuated residents"}],
                    "stream": True,
                    "top_k": 1,
                },
            ) as response,
        ):
            lines = [line for line in response.iter_lines() if line]
    finally:
        engine.close()
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    (source,) = chunks[-1]["sources"]
    passage = source["passage"]
    assert "\u2028" in passage["text"] or "\x85" in passage["text"]
    assert text[passage["start_char"] : passage["end_char"]] == passage["text"]
    assert content.startswith(f"[1] {passage['text']}\n\n")


def test_abstention_is_a_fixed_sentence_without_sources(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL_ID,
        messages=[{"role": "user", "content": "Which quarterback threw for 5000 yards?"}],
    )
    assert completion.choices[0].message.content == NO_ANSWER_SENTENCE
    extra = completion.model_extra
    assert extra is not None and extra["sources"] == []
    assert (extra["abstained"], extra["abstention"]) == (True, "low_confidence")


def test_content_parts_and_url_annotations(tmp_path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    from qa.config import Settings

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"id": "v1", "title": "Volcano", "url": "https://news.example/volcano", '
        '"text": "A volcano erupted near Lavaton. Officials evacuated 300 residents by bus."}\n',
        encoding="utf-8",
    )
    settings = Settings(corpus=corpus, index_dir=tmp_path / "i")
    with TestClient(create_app(engine=QAEngine.open(settings, fake_embedder))) as http:
        body = http.post(
            "/v1/chat/completions",
            json={
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "evacuated residents"}]}
                ]
            },
        ).json()
    message = body["choices"][0]["message"]
    (annotation,) = message["annotations"]
    cite = annotation["url_citation"]
    assert cite["url"] == "https://news.example/volcano"
    assert (
        message["content"][cite["start_index"] : cite["end_index"]]
        == body["sources"][0]["passage"]["text"]
    )


@pytest.mark.parametrize(
    ("payload", "fragment", "param"),
    [
        ({"model": MODEL_ID, "messages": []}, "messages", None),
        (
            {"model": MODEL_ID, "messages": [{"role": "system", "content": "hi"}]},
            "must include a user message",
            "messages",
        ),
        (
            {"model": MODEL_ID, "messages": [{"role": "user", "content": "  "}]},
            "has no text",
            "messages",
        ),
        (
            {"model": MODEL_ID, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "has no text",
            "messages",
        ),
        (
            {"model": MODEL_ID, "messages": [{"role": "user", "content": "why? " * 401}]},
            "longer than 2000 characters",
            "messages",
        ),
        ({"model": MODEL_ID, "messages": [{"role": "wizard", "content": "hi"}]}, "role", None),
        (
            {"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "top_k": 0},
            "top_k",
            None,
        ),
        (
            {
                "model": MODEL_ID,
                "messages": [{"role": "user", "content": "hi"}],
                "filters": {"published_after": "yesterday"},
            },
            "published_after",
            None,
        ),
        ({"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "n": 3}, "n", "n"),
        # strict types, as on /ask: these were taken as 1, 2 and True
        *(
            ({"messages": [{"role": "user", "content": "hi"}], name: value}, name, None)
            for name, value in (
                ("top_k", True),
                ("top_k", "2"),
                ("top_k", 2.0),
                ("n", "1"),
                ("n", True),
                ("stream", "yes"),
                ("stream", 1),
            )
        ),
    ],
)
def test_bad_requests_are_openai_errors(
    tiny_engine: QAEngine, payload: dict, fragment: str, param: str | None
) -> None:
    """400 with OpenAI's error object, as the README says, for every bad request under /v1;
    the route's own checks name the field in ``param`` (the schema's, by the app, do not yet)."""
    with TestClient(create_app(engine=tiny_engine)) as http:
        response = http.post("/v1/chat/completions", json=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in error["message"] and error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param


@pytest.mark.parametrize("given", [{}, {"model": None}, {"model": ""}, {"top_k": None}])
def test_null_or_missing_model_and_top_k_are_the_defaults(
    tiny_engine: QAEngine, given: dict
) -> None:
    """As the README says, null is the default: `"model": null` and `"top_k": null` were 400s."""
    payload = {"messages": [{"role": "user", "content": QUESTION}], **given}
    with TestClient(create_app(engine=tiny_engine)) as http:
        response = http.post("/v1/chat/completions", json=payload)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == MODEL_ID
    assert len(response.json()["sources"]) <= 3


def test_api_key_works_with_the_openai_client(tiny_engine: QAEngine) -> None:
    settings = tiny_engine.settings.model_copy(update={"api_key": SecretStr("s3cret")})
    with running_server(create_app(settings, tiny_engine)) as url:
        good = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert [m.id for m in good.models.list()] == [MODEL_ID]
        bad = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(
                model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}]
            )
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/documents").status_code == 401


def test_openai_client_needs_an_ascii_key(tiny_engine: QAEngine) -> None:
    """As the README says (Access): a key may hold any Unicode, sent as its UTF-8 bytes (curl
    does), but the openai client encodes headers as ASCII (httpx) and cannot send it at all."""
    key = "s3cret-ключ"
    settings = tiny_engine.settings.model_copy(update={"api_key": SecretStr(key)})
    with running_server(create_app(settings, tiny_engine)) as url:
        utf8 = {b"authorization": b"Bearer " + key.encode("utf-8")}
        listing = httpx.get(f"{url}/v1/models", headers=utf8)
        assert listing.status_code == 200 and listing.json()["data"][0]["id"] == MODEL_ID
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        with pytest.raises(UnicodeEncodeError):
            client.models.list()


@pytest.mark.slow
def test_readme_example_is_what_the_seeds_answer(real_engine: QAEngine) -> None:
    """The README's "Real content" for its example question (top_k 2, the seed articles) is
    what the service answers: its passages, shortened only where a line is "…", and its
    sources list whole. It once showed offsets a fresh server no longer answered."""
    readme = README.read_text(encoding="utf-8")
    intro = readme.index("Real content for that question")
    assert '`"top_k": 2`' in readme[intro : intro + 80]
    start = readme.index("```text\n", intro) + len("```text\n")
    shown = readme[start : readme.index("```", start)].rstrip("\n")
    with running_server(create_app(engine=real_engine)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        completion = client.chat.completions.create(
            model=MODEL_ID,
            messages=[{"role": "user", "content": "Why did Iran not join the war?"}],
            extra_body={"top_k": 2},
        )
    content = completion.choices[0].message.content
    assert content is not None
    passages, sources = shown.split(SOURCES_LABEL)
    assert content.endswith(SOURCES_LABEL + sources)
    lines = content.split("\n")
    for line in passages.strip("\n").split("\n"):
        assert line == "…" or line in lines, line


LLM_CLI = Path(sys.executable).with_name("llm")
EXTRA_MODELS = """\
- model_id: extractive-qa
  model_name: extractive-qa
  api_base: "{base_url}/v1"
  api_key_name: qa
"""


@pytest.mark.parametrize("stream", [True, False])
def test_llm_cli_prints_the_quoted_passages(
    base_url: str, client: openai.OpenAI, tmp_path: Path, stream: bool
) -> None:
    """The README's `llm` example (extra-openai-models.yaml), run as a user would."""
    (tmp_path / "extra-openai-models.yaml").write_text(EXTRA_MODELS.format(base_url=base_url))
    (tmp_path / "keys.json").write_text('{"qa": "unused-or-QA_API_KEY"}')
    command = [str(LLM_CLI), "-m", MODEL_ID, QUESTION, *([] if stream else ["--no-stream"])]
    env = {**os.environ, "LLM_USER_PATH": str(tmp_path)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}]
    )
    assert done.stdout == f"{expected.choices[0].message.content}\n"
    sources = expected.model_extra["sources"]  # type: ignore[index]
    assert_quotes_are_verbatim(done.stdout, sources, documents(base_url))


@pytest.mark.parametrize(
    ("content", "param", "fragment"),
    [
        # was "messages.0.content.str": the string branch of the union, "a valid string"
        ([{"text": "hi"}], "messages.0.content.0.type", "Field required"),
        ([{"type": "text", "text": 5}], "messages.0.content.0.text", "valid string"),
        (5, "messages.0.content", "valid string"),
    ],
)
def test_a_bad_content_array_names_the_part_refused(
    tiny_engine: QAEngine, content: object, param: str, fragment: str
) -> None:
    payload = {"model": MODEL_ID, "messages": [{"role": "user", "content": content}]}
    with TestClient(create_app(engine=tiny_engine)) as http:
        response = http.post("/v1/chat/completions", json=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and fragment in error["message"]


@pytest.mark.parametrize("body", [b'{"messages": [', b"hello", b'{"model": "x",}'])
def test_a_body_that_is_not_json_names_no_param(tiny_engine: QAEngine, body: bytes) -> None:
    """Was: the character position at which parsing stopped, as param ("14") and message."""
    with TestClient(create_app(engine=tiny_engine)) as http:
        response = http.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] is None
    assert error["message"].startswith("the body is not JSON: ")
    assert error["message"].endswith(")") and "(at character " in error["message"]


def test_a_stored_url_that_is_not_a_web_address_is_no_link(tmp_path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """A store written before urls were checked may hold a ``javascript:`` one: the answer is
    given, with its source, and no ``url_citation`` a client would render as a link."""
    from qa.config import Settings
    from qa.ingest.corpus import new_article

    settings = Settings(corpus=tmp_path / "none", index_dir=tmp_path / "i")
    engine = QAEngine.open(settings, fake_embedder)
    text = "A volcano erupted near Lavaton. Officials evacuated 300 residents by bus."
    engine.add([new_article("v1", text, url="javascript:alert(1)")])
    with TestClient(create_app(engine=engine)) as http:
        body = http.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "evacuated residents"}]},
        ).json()
    assert body["sources"][0]["doc_id"] == "v1"
    assert body["choices"][0]["message"]["annotations"] == []

"""/v1 as OpenAI's API reference describes it, where a client can tell: models, n, nulls,
stream_options, and errors that name their field. Against a real uvicorn, with the official
`openai` client where it can send the request."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from api.openai_compat import MODEL_ID

QUESTION = "How many residents were evacuated from the village?"
MESSAGES: list[Any] = [{"role": "user", "content": QUESTION}]
NO_TOKENS = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def post(base_url: str, body: dict[str, Any]) -> httpx.Response:
    """``body`` as JSON with ASCII escapes, so a lone surrogate travels as ``"\\ud800"``."""
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
        timeout=30,
    )


def events(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]


# --- models ------------------------------------------------------------------------------


def test_listed_model_can_be_retrieved(client: openai.OpenAI) -> None:
    """GET /v1/models/{id} was a 404 for the model /v1/models lists."""
    (listed,) = client.models.list()
    model = client.models.retrieve(MODEL_ID)
    assert model == listed
    assert (model.id, model.object, model.owned_by) == (MODEL_ID, "model", "extractive-qa")
    assert isinstance(model.created, int)


@pytest.mark.parametrize("name", ["gpt-4o", "extractive-qa-2", "openai/gpt-4o"])
def test_other_model_ids_are_model_not_found(client: openai.OpenAI, name: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve(name)
    assert caught.value.body == {
        "message": f"The model '{name}' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model_is_a_404_not_an_answer(client: openai.OpenAI, stream: bool) -> None:
    """model="gpt-4o" was answered (200) and echoed, as if it were gpt-4o."""
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=stream)
    assert caught.value.body == {
        "message": "The model 'gpt-4o' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    answer = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES)
    assert answer.model == MODEL_ID


def test_a_long_unknown_model_name_comes_back_as_an_excerpt(base_url: str) -> None:
    response = post(base_url, {"model": "m" * 5000, "messages": MESSAGES})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"The model '{'m' * 80}…' does not exist"


# --- lone surrogates ---------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_lone_surrogate_in_model_is_a_400_naming_it(base_url: str, stream: bool) -> None:
    """It was a plain-text 500, or a 200 stream cut off mid-body (the model is echoed)."""
    response = post(
        base_url, {"model": "extractive-qa\ud800", "messages": MESSAGES, "stream": stream}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "model is not valid text (surrogates not allowed)",
            "type": "invalid_request_error",
            "param": "model",
            "code": None,
        }
    }


@pytest.mark.parametrize("stream", [False, True])
def test_lone_surrogate_in_the_question_is_a_400_naming_messages(
    base_url: str, stream: bool
) -> None:
    body = {"messages": [{"role": "user", "content": "Where \ud800 were they?"}], "stream": stream}
    response = post(base_url, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "question is not valid text (surrogates not allowed)"
    assert error["param"] == "messages"


# --- n -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 0, 128])
@pytest.mark.parametrize("stream", [False, True])
def test_n_other_than_one_is_a_400_naming_n(client: openai.OpenAI, n: int, stream: bool) -> None:
    """n=2 was answered with one choice: a client reading choices[1] failed."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, n=n, stream=stream)
    assert caught.value.body == {
        "message": "n must be 1: the answer is the passages, the same every time",
        "type": "invalid_request_error",
        "param": "n",
        "code": None,
    }


def test_n_of_one_is_one_choice(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, n=1)
    assert len(completion.choices) == 1


# --- null is the default -----------------------------------------------------------------


def test_nulls_are_the_defaults(base_url: str) -> None:
    """ "stream": null was a 400; OpenAI's spec makes these fields nullable."""
    nulls = {
        "stream": None,
        "stream_options": None,
        "n": None,
        "temperature": None,
        "top_p": None,
        "max_tokens": None,
        "user": None,
    }
    response = post(base_url, {"model": MODEL_ID, "messages": MESSAGES, **nulls})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and len(body["choices"]) == 1
    assert body["choices"][0]["message"]["content"].startswith("[1] ")


# --- stream_options ----------------------------------------------------------------------


def test_include_usage_adds_a_usage_chunk_before_done(base_url: str) -> None:
    """stream_options.include_usage was ignored: no chunk had a usage."""
    whole = post(base_url, {"model": MODEL_ID, "messages": MESSAGES}).json()
    body = {
        "model": MODEL_ID,
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    lines = events(post(base_url, body))
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    *answer, last = chunks
    assert all("usage" in c and c["usage"] is None for c in answer)
    assert last["choices"] == [] and last["usage"] == whole["usage"] == NO_TOKENS
    assert last["object"] == "chat.completion.chunk" and last["id"] == answer[0]["id"]
    assert answer[-1]["choices"][0]["finish_reason"] == "stop" and answer[-1]["sources"]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in answer)
    assert content == whole["choices"][0]["message"]["content"]


@pytest.mark.parametrize("options", [None, {}, {"include_usage": False}])
def test_without_include_usage_no_chunk_has_usage(base_url: str, options: Any) -> None:
    body = {"model": MODEL_ID, "messages": MESSAGES, "stream": True, "stream_options": options}
    lines = events(post(base_url, body))
    chunks = [json.loads(line) for line in lines[:-1]]
    assert all("usage" not in c and c["choices"] for c in chunks)


def test_openai_client_reads_the_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL_ID,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    usages = [c.usage for c in chunks if c.usage is not None]
    assert [u.model_dump(exclude_none=True) for u in usages] == [NO_TOKENS]
    assert chunks[-1].usage is not None and chunks[-1].choices == []

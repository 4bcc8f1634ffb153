"""An OpenAI-compatible chat API whose assistant messages are only quoted, cited passages.

Chat front ends (Open WebUI, LibreChat, any OpenAI client) talk to ``/v1``. The content is the
retrieved passages verbatim, numbered ``[1]``, ``[2]``, then a "Sources" list. Nothing in it is
generated except those fixed labels. Streams also carry one Open WebUI ``source`` event per
passage, and Open WebUI's background tasks get fixed replies (``api/openwebui.py``).

Request errors are OpenAI's error objects with ``param`` (the field) and, for an unknown model,
``code`` ``model_not_found``; the app's handlers (``api/app.py``) give the others the same shape.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Authorized, EngineDep
from api.openwebui import Task, background_task, question_in, source_event
from api.schemas import AnswerOut, FiltersIn
from qa.engine import MAX_QUESTION_CHARS, MAX_TOP_K, AskResult
from qa.errors import InvalidInputError, check_text
from qa.ingest.corpus import is_web_address

MODEL_ID = "extractive-qa"
NO_ANSWER_SENTENCE = "The articles do not contain an answer to this question."
SOURCES_LABEL = "Sources:"
MODEL = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "extractive-qa"}
# Nothing is generated, so no tokens; clients such as `llm` read this object regardless.
NO_TOKENS = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
ONE_CHOICE = "n must be 1: the answer is the passages, the same every time"
MESSAGE_CHARS = 500
DEFAULT_CHAT_TOP_K = 3
NAME_CHARS = 80


class OpenAIError(Exception):
    """A request error in OpenAI's shape: ``param`` names the field it is about, ``code`` is
    OpenAI's code for it (``model_not_found``) or None."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.param, self.code)


def error_response(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    """OpenAI's error object: every /v1 error, from a route (``OpenAIError``) or from the
    app's handlers (a bad body, a missing key, a damaged index)."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    error = {"message": excerpt(message, MESSAGE_CHARS), "type": kind, "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status)


class OpenAIRoute(APIRoute):
    """A /v1 route: the OpenAIError it raises becomes its response (the app's handlers, which
    give every other /v1 error OpenAI's shape, have no ``param`` or ``code`` to fill)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIError as exc:
                return exc.response()

        return route


class OpenAIErrorBody(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error or server_error")
    param: str | None = Field(description="the request field the error is about")
    code: str | None = Field(description="model_not_found for an unknown model")


class OpenAIErrorOut(BaseModel):
    """OpenAI's error object, as every /v1 error is sent (``error_response``)."""

    error: OpenAIErrorBody


# What /v1 declares in the OpenAPI schema: its errors in OpenAI's shape, never FastAPI's 422.
V1_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": OpenAIErrorOut,
        "description": "400 a bad field (``param`` names it), 401 a missing or wrong API key, "
        "404 an unknown model or path, 405 a wrong method, 413 a body over QA_MAX_BODY_BYTES",
    },
    "5XX": {"model": OpenAIErrorOut, "description": "503 the index is damaged or busy"},
}
router = APIRouter(
    prefix="/v1", dependencies=[Authorized], route_class=OpenAIRoute, responses=V1_ERRORS
)


def excerpt(text: str, limit: int = NAME_CHARS) -> str:
    """At most ``limit`` characters of ``text``, lone surrogates written as ``\\udXXX``."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _model_not_found(model: str) -> OpenAIError:
    return OpenAIError(
        404, f"The model '{excerpt(model)}' does not exist", "model", "model_not_found"
    )


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "function", "developer"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content or [] if p.type == "text" and p.text)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool | None = Field(None, strict=True)


class ChatRequest(BaseModel):
    """The standard request; sampling options (temperature, top_p, max_tokens, user...) are
    accepted and ignored, since nothing is sampled. As in OpenAI's spec, null is the default."""

    # Strict types, as on /ask: JSON true is not 1 and "2" is not 2 (a client sending them has
    # a bug worth a 400); null is the default.
    model_config = ConfigDict(extra="allow")
    model: str | None = Field(MODEL_ID, description="extractive-qa; null or empty: the same")
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=1000)]
    stream: bool | None = Field(False, strict=True)
    stream_options: StreamOptions | None = None
    n: int | None = Field(
        None, strict=True, description="1 or null: every choice would be the same"
    )
    top_k: int | None = Field(
        DEFAULT_CHAT_TOP_K,
        ge=1,
        le=MAX_TOP_K,
        strict=True,
        description=f"extension: passages to quote [null: {DEFAULT_CHAT_TOP_K}]",
    )
    mode: Literal["hybrid", "dense", "bm25"] | None = Field(
        None, description="extension [default: the server's QA_MODE]"
    )
    filters: FiltersIn | None = Field(None, description="extension: as in /ask")

    def check(self) -> None:
        """Refuse what cannot be answered as asked: another model, more than one choice."""
        if self.model:  # an empty or missing model is this one
            try:
                check_text(self.model, "model")
            except InvalidInputError as exc:
                raise OpenAIError(400, str(exc), "model") from None
            if self.model != MODEL_ID:
                raise _model_not_found(self.model)
        if self.n is not None and self.n != 1:
            raise OpenAIError(400, ONE_CHOICE, "n")

    def background_task(self) -> Task | None:
        try:
            return background_task([(m.role, m.text()) for m in self.messages])
        except InvalidInputError as exc:  # its reply would echo text that is not Unicode
            raise OpenAIError(400, str(exc), "messages") from exc

    def question(self) -> str:
        """The last user message, out of Open WebUI's RAG wrapper if it has one."""
        for message in reversed(self.messages):
            if message.role == "user":
                text = question_in(message.text())
                if not text.strip():
                    raise OpenAIError(400, "the last user message has no text", "messages")
                if len(text) > MAX_QUESTION_CHARS:
                    raise OpenAIError(
                        400,
                        f"the last user message is longer than {MAX_QUESTION_CHARS} characters",
                        "messages",
                    )
                return text
        raise OpenAIError(400, "messages must include a user message to answer", "messages")


def render(result: AskResult) -> tuple[str, list[dict[str, Any]]]:
    """Message content and its url_citation annotations (for sources with a URL)."""
    if result.abstained or not result.answers:
        return NO_ANSWER_SENTENCE, []
    blocks, annotations = [], []
    offset = 0
    for answer in result.answers:
        marker = f"[{answer.rank}] "
        start = offset + len(marker)
        blocks.append(marker + answer.hit.passage.text)
        offset += len(blocks[-1]) + 2  # the blank line between blocks
        # a link only to a web address (a store written before urls were checked may hold
        # another kind, which a client would render as a link all the same)
        if is_web_address(answer.article.url):
            annotations.append(
                {
                    "type": "url_citation",
                    "url_citation": {
                        "url": answer.article.url,
                        "title": answer.article.title,
                        "start_index": start,
                        "end_index": start + len(answer.hit.passage.text),
                    },
                }
            )
    sources = [
        f"[{a.rank}] {a.article.title} ({a.article.doc_id}, characters "
        f"{a.hit.passage.span.start}-{a.hit.passage.span.end})"
        for a in result.answers
    ]
    return "\n\n".join([*blocks, SOURCES_LABEL + "\n" + "\n".join(sources)]), annotations


def _envelope(kind: str, completion_id: str, created: int, model: str) -> dict[str, Any]:
    return {"id": completion_id, "object": kind, "created": created, "model": model}


@router.get("/models")
def models() -> dict[str, Any]:
    return {"object": "list", "data": [MODEL]}


@router.get("/models/{model_id:path}")
def retrieve_model(model_id: str) -> dict[str, Any]:
    if model_id != MODEL_ID:
        raise _model_not_found(model_id)
    return MODEL


@dataclass
class Reply:
    """What one completion says, before it is put in OpenAI's envelope (whole or streamed)."""

    content: str
    annotations: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Open WebUI events, streamed before the content"""
    extensions: dict[str, Any] = field(default_factory=dict)
    """extra fields on the whole (not streamed) response"""


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {
            "description": "the completion: JSON, or with ``stream`` server-sent events",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        }
    },
)
async def chat_completions(request: ChatRequest, engine: EngineDep, http: Request) -> Any:
    request.check()
    task = request.background_task()
    if task is not None:
        # Not a question: answered at once with the fixed reply, never from the index.
        reply = Reply(task.reply, extensions={"background_task": task.kind})
    else:
        question = request.question()
        try:
            filters = request.filters.to_filters() if request.filters else None
        except InvalidInputError as exc:
            raise OpenAIError(400, str(exc), "filters") from exc
        try:
            result = await run_in_threadpool(
                lambda: engine.ask(
                    question, request.top_k or DEFAULT_CHAT_TOP_K, request.mode, filters=filters
                )
            )
        except InvalidInputError as exc:  # the schema bounds top_k and mode: it is the question
            raise OpenAIError(400, str(exc), "messages") from exc
        content, annotations = render(result)
        quoted = [] if result.abstained else result.answers
        reply = Reply(
            content,
            annotations,
            sources=[AnswerOut.of(a).model_dump() for a in result.answers],
            events=[source_event(a, str(http.base_url)) for a in quoted],
            extensions={"abstained": result.abstained, "abstention": result.abstention},
        )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if request.stream:
        base = _envelope("chat.completion.chunk", completion_id, created, MODEL_ID)
        usage = bool(request.stream_options and request.stream_options.include_usage)
        # Every chunk is encoded before the first is sent: whatever fails, fails as a whole
        # response, never as a 200 cut off mid-stream.
        chunks = [c.encode("utf-8") for c in _stream(reply, base, usage)]
        return StreamingResponse(
            iter(chunks),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return {
        **_envelope("chat.completion", completion_id, created, MODEL_ID),
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": reply.content,
                    "annotations": reply.annotations,
                },
                "finish_reason": "stop",
            }
        ],
        "usage": NO_TOKENS,
        "sources": reply.sources,
        **reply.extensions,
    }


def _stream(reply: Reply, base: dict[str, Any], include_usage: bool = False) -> Iterator[str]:
    """The chunks of a streamed reply, then ``[DONE]``. With ``include_usage`` (the request's
    ``stream_options``) every chunk has ``"usage": null`` and one more, with no choices, brings
    the usage before ``[DONE]``, as OpenAI's do."""
    usage: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **usage,
            **extra,
        }
        return f"data: {_event_json(data)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    # Open WebUI's source events ride on empty deltas, which OpenAI clients pass over; they come
    # before the content so that each [n] has its source when it is shown.
    for event in reply.events:
        yield chunk({}, event=event)
    # One delta per quoted block keeps each passage whole in clients that render as they receive.
    pieces = reply.content.split("\n\n")
    for i, piece in enumerate(pieces):
        yield chunk({"content": piece + ("\n\n" if i < len(pieces) - 1 else "")})
    final_delta: dict[str, Any] = {"annotations": reply.annotations} if reply.annotations else {}
    yield chunk(final_delta, "stop", sources=reply.sources)
    if include_usage:
        data = {**base, "choices": [], "usage": NO_TOKENS}
        yield f"data: {_event_json(data)}\n\n"
    yield "data: [DONE]\n\n"


# Line ends for str.splitlines (and httpx's iter_lines) that JSON leaves raw, unlike the
# control characters it escapes: an article holding one would cut a data line in two for
# clients that read the stream line by line. Escaped, the JSON value is the same.
_LINE_ENDS_JSON_KEEPS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _event_json(data: dict[str, Any]) -> str:
    """``data`` as one line of JSON, whichever line ends its strings hold."""
    return json.dumps(data, ensure_ascii=False).translate(_LINE_ENDS_JSON_KEEPS)

"""An OpenAI-compatible chat API whose assistant messages are only quoted, cited passages.

Chat front ends (Open WebUI, LibreChat, any OpenAI client) talk to ``/v1``. The content is the
retrieved passages verbatim, numbered ``[1]``, ``[2]``, then a "Sources" list. Nothing in it is
generated except those fixed labels. Streams also carry one Open WebUI ``source`` event per
passage, and Open WebUI's background tasks get fixed replies (``api/openwebui.py``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Authorized, EngineDep
from api.openwebui import Task, background_task, question_in, source_event
from api.schemas import AnswerOut, FiltersIn
from qa.engine import MAX_QUESTION_CHARS, MAX_TOP_K, AskResult
from qa.errors import InvalidInputError

MODEL_ID = "extractive-qa"
NO_ANSWER_SENTENCE = "The articles do not contain an answer to this question."
SOURCES_LABEL = "Sources:"

router = APIRouter(prefix="/v1", dependencies=[Authorized])


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


class ChatRequest(BaseModel):
    """The standard request; sampling options (temperature, top_p, max_tokens, user...) are
    accepted and ignored, since nothing is sampled."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=1000)]
    stream: bool = False
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, description="extension: passages to quote")
    mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="extension")
    filters: FiltersIn | None = Field(None, description="extension: as in /ask")

    def background_task(self) -> Task | None:
        return background_task([(m.role, m.text()) for m in self.messages])

    def question(self) -> str:
        """The last user message, out of Open WebUI's RAG wrapper if it has one."""
        for message in reversed(self.messages):
            if message.role == "user":
                text = question_in(message.text())
                if not text.strip():
                    raise InvalidInputError("the last user message has no text")
                if len(text) > MAX_QUESTION_CHARS:
                    raise InvalidInputError(
                        f"the last user message is longer than {MAX_QUESTION_CHARS} characters"
                    )
                return text
        raise InvalidInputError("messages must include a user message to answer")


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
        if answer.article.url:
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
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "extractive-qa"}],
    }


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


@router.post("/chat/completions", response_model=None)
async def chat_completions(request: ChatRequest, engine: EngineDep, http: Request) -> Any:
    task = request.background_task()
    if task is not None:
        # Not a question: answered at once with the fixed reply, never from the index.
        reply = Reply(task.reply, extensions={"background_task": task.kind})
    else:
        try:
            question = request.question()
            filters = request.filters.to_filters() if request.filters else None
            result = await run_in_threadpool(
                lambda: engine.ask(question, request.top_k, request.mode, filters=filters)
            )
        except InvalidInputError as exc:  # a bad request is a 400 under /v1, as with OpenAI
            raise HTTPException(400, str(exc)) from exc
        content, annotations = render(result)
        quoted = [] if result.abstained else result.answers
        reply = Reply(
            content,
            annotations,
            sources=[AnswerOut.of(a).model_dump() for a in result.answers],
            events=[source_event(a, str(http.base_url)) for a in quoted],
            extensions={"abstained": result.abstained},
        )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = request.model or MODEL_ID
    if request.stream:
        return StreamingResponse(
            _stream(reply, _envelope("chat.completion.chunk", completion_id, created, model)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return {
        **_envelope("chat.completion", completion_id, created, model),
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
        # Nothing is generated, so no tokens; clients such as `llm` read this object regardless.
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "sources": reply.sources,
        **reply.extensions,
    }


def _stream(reply: Reply, base: dict[str, Any]) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

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
    yield "data: [DONE]\n\n"

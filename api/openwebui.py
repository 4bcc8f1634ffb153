"""What Open WebUI (0.12) needs beyond the OpenAI protocol: ``source`` events that become citation
chips, and fixed replies to the background tasks it sends to the chat model as if they were chats.

Open WebUI hands any stream chunk with a top-level ``event`` key to its event emitter
(``utils/middleware.py``); a ``{"type": "source", "data": ...}`` event is stored with the message
(``socket/main.py``), and its front end turns ``[n]`` in the text into a chip for the n-th distinct
``metadata[i].source``. Its background tasks (title, tags, follow-ups, search queries,
autocomplete, image prompt, emoji, tool choice, memory review, context compaction) arrive as
ordinary chat completions; ``metadata.task`` is dropped before the request leaves Open WebUI, so
the prompt is all there is to recognise them by. See the README's chat section for the details.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from qa.errors import check_text
from qa.records import Answer

TITLE_CHARS = 60
"""A chat title is the question, cut at a word boundary to about this many characters."""

# The openings of Open WebUI's task prompts (open_webui/config.py DEFAULT_*_PROMPT_TEMPLATE,
# utils/context_compaction.py, utils/memory.py, utils/middleware.py tool calling).
TASK_HEADER = "### Task:"
TOOLS_HEADER = "Available Tools:"
MEMORY_REVIEWER = "You are Open WebUI's private memory reviewer"
EMOJI_TASK = "Your task is to reflect the speaker's likely facial expression"
MERGE_TASK = (
    "You have been provided with a set of responses from various models to the latest user query"
)
MERGE_END = '"\n\nYour task is to synthesize'

_JSON_KEY = re.compile(r'\{\s*"(\w+)"\s*:')
_TURN = re.compile(r"^(USER|ASSISTANT|SYSTEM|TOOL): ?", re.MULTILINE)


@dataclass(frozen=True)
class Task:
    """A background task recognised in a request, and the reply it gets (never from the index)."""

    kind: str
    """the JSON key the task asks for (``title``, ``tags``, ``follow_ups``, ``queries``, ``text``,
    ``prompt``, ``tool_calls``, ``operations``), ``emoji``, or ``other``"""
    reply: str


def background_task(messages: Sequence[tuple[str, str]]) -> Task | None:
    """The Open WebUI background task in these ``(role, text)`` messages, or None for a chat.

    A task is a request whose system message opens with Open WebUI's tool-choice or memory-review
    prompt, or whose last user message is its emoji prompt or one of its ``### Task:`` templates:
    with a ``<chat_history>`` (title, tags, follow-ups, queries, autocomplete, image prompt; the
    reply is a JSON object with the key the template asks for) or without the ``<context>`` of its
    RAG template (context compaction and custom tasks: an empty reply, which Open WebUI treats as
    "nothing generated" and falls back from). A question to echo that is not Unicode text is an
    InvalidInputError.
    """
    for role, text in messages:
        if role in ("system", "developer"):
            if text.lstrip().startswith(TOOLS_HEADER):
                return Task("tool_calls", json.dumps({"tool_calls": []}))
            if text.lstrip().startswith(MEMORY_REVIEWER):
                return Task("operations", json.dumps({"operations": []}))
    users = [text for role, text in messages if role == "user"]
    if not users:
        return None
    text = users[-1].lstrip()
    if text.startswith(EMOJI_TASK):
        return Task("emoji", "")
    if not text.startswith(TASK_HEADER):
        return None
    if "<chat_history>" in text:
        instructions, history = text.split("<chat_history>", 1)
        return _json_reply(instructions, _last_user_turn(history.rsplit("</chat_history>", 1)[0]))
    if "</context>" in text:
        return None  # the RAG template around a real question: see question_in()
    return Task("other", "")


def question_in(text: str) -> str:
    """The user's own question inside Open WebUI's wrappers (its RAG template, which it puts in
    front of the question when a chat has sources or files, and the merge-responses prompt);
    other text is returned as it is."""
    stripped = text.lstrip()
    if stripped.startswith(TASK_HEADER) and "</context>" in stripped:
        tail = stripped.rsplit("</context>", 1)[1].strip()
        return tail or text
    opening = MERGE_TASK + ': "'
    if stripped.startswith(opening) and MERGE_END in stripped:
        return stripped[len(opening) : stripped.rindex(MERGE_END)]
    return text


def _json_reply(instructions: str, question: str) -> Task:
    """The JSON object the instructions ask for (their first ``{ "key":``), filled in without
    generating anything: the title and the search query are the user's question itself.

    A question that is not Unicode text (JSON can spell a lone surrogate, ``"\\ud800"``) is an
    InvalidInputError, as it is when asked: the reply, which echoes it, could not be sent."""
    check_text(question, "question")
    match = _JSON_KEY.search(instructions)
    if match is None:
        return Task("other", "")
    key = match.group(1)
    value: Any
    if key == "title":
        value = shorten(question)
    elif key == "queries":
        value = [question] if question else []
    elif key == "prompt":
        value = question
    elif key == "text":
        value = ""
    elif key in ("tags", "follow_ups"):
        value = []
    else:
        return Task(key, "{}")
    return Task(key, json.dumps({key: value}, ensure_ascii=False))


def shorten(question: str, limit: int = TITLE_CHARS) -> str:
    """The question on one line, cut at the last word boundary before ``limit`` characters."""
    text = " ".join(question.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:-") + "…"


def _last_user_turn(history: str) -> str:
    """The last ``USER:`` turn of a chat history as Open WebUI writes it into its templates."""
    parts = _TURN.split(history)
    turns = [parts[i + 1] for i in range(1, len(parts) - 1, 2) if parts[i] == "USER"]
    return turns[-1].strip() if turns else ""


def source_event(answer: Answer, base_url: str) -> dict[str, Any]:
    """One cited passage as Open WebUI's ``source`` event.

    ``metadata.source`` is Open WebUI's key for a source: one per passage, so that ``[n]`` in the
    content opens passage n even when several come from one article. ``name`` is the chip's label
    and the panel's title; ``document`` is what the panel shows: the passage, verbatim.
    """
    article, passage = answer.article, answer.hit.passage
    start, end = passage.span.start, passage.span.end
    key = f"{article.doc_id}:{start}-{end}"
    name = f"{article.title or article.doc_id} ({article.doc_id}, characters {start}-{end})"
    query = urlencode({"doc": article.doc_id, "start": start, "end": end})
    link = f"{base_url.rstrip('/')}/?{query}"
    metadata = {
        "source": key,
        "name": name,
        "rank": answer.rank,
        "doc_id": article.doc_id,
        "title": article.title,
        "start_char": start,
        "end_char": end,
        "highlight": {
            "text": answer.highlight_text,
            "start_char": answer.highlight.start,
            "end_char": answer.highlight.end,
        },
        "url": link,
        "article_url": article.url,
        "outlet": article.source,
        "published": article.published,
        "author": article.author,
    }
    return {
        "type": "source",
        "data": {
            "source": {"id": key, "name": name, "url": link},
            "document": [passage.text],
            "metadata": [metadata],
        },
    }

"""The question-answering and document routes: thin wrappers around the engine."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor

from api.deps import Authorized, EngineDep, SettingsDep
from api.schemas import (
    AskRequest,
    AskResponse,
    DocumentFields,
    DocumentOut,
    DocumentsBody,
    DocumentSummary,
    ErrorOut,
    Health,
    ValidationErrorOut,
    WriteOut,
    reachable_id,
)
from qa.config import Settings
from qa.engine import QAEngine
from qa.store.writer_lock import IndexBusyError, WriterLock

T = TypeVar("T")

# The error bodies every route can answer with, as the app's handlers write them (api/app.py).
ERRORS: dict[int | str, dict[str, object]] = {
    404: {
        "model": ErrorOut,
        "description": "no such document",
    },
    405: {"model": ErrorOut, "description": "wrong method for this path"},
    422: {"model": ValidationErrorOut, "description": "a field is missing or bad"},
    503: {"model": ErrorOut, "description": "the index is damaged, or busy with another writer"},
}
BODY_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "the body cannot be parsed"},
    413: {"model": ErrorOut, "description": "the body is larger than QA_MAX_BODY_BYTES"},
}
WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    507: {
        "model": ErrorOut,
        "description": "the disk holding the index is full: nothing of this write was stored",
    },
}
public = APIRouter(responses=ERRORS)


class _AnyConvertor(PathConvertor):
    """``path``'s, line breaks included: with ``.*`` a ``%0A`` in an id was a bare 404 (and
    ``/documents/%0A`` the empty id), not the 422 that names the rule it breaks."""

    regex = r"[\s\S]*"


register_url_convertor("any", _AnyConvertor())


router = APIRouter(
    dependencies=[Authorized],
    responses={**ERRORS, 401: {"model": ErrorOut, "description": "missing or wrong API key"}},
)

MAX_DOCUMENTS_PER_WRITE = 1000
# SQLite integers are 64-bit: a larger offset was a 500 (found by schemathesis).
MAX_OFFSET = 10**12


def _path_doc_id(doc_id: str, request: Request) -> str:
    """The ``{doc_id}`` of the path, refused unless its percent-decoded bytes are UTF-8: the
    server decodes other bytes (``%FF``, an encoded lone surrogate) to U+FFFD, so that ``%FF``
    and ``%FE`` would both name the article ``"\ufffd"``."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        try:
            unquote_to_bytes(raw.decode("latin-1")).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise bad_field(
                ("path", "doc_id"), f"the id is not UTF-8 text ({exc.reason}): percent-encode UTF-8"
            ) from None
    return doc_id


DocIdPath = Annotated[str, Depends(_path_doc_id)]


@public.get("/health")
def health(engine: EngineDep) -> Health:
    n_documents, n_passages = engine.counts()
    return Health(
        status="ok",
        documents=n_documents,
        passages=n_passages,
        model=engine.embedder.model_id,
        model_sha256=engine.embedder.fingerprint,
        dense_index="ivf" if engine.live.dense.kind == "ivf" else "flat",
        change_seq=engine.live.seq,
        min_confidence=engine.min_confidence,
        lexical_index="fts5" if engine.live.lexical is None else "memory",
        prepared_articles=len(engine.sentences),
        warming=engine.live.building_lexical or engine.sentences.warming,
    )


@router.post("/ask", response_model=AskResponse, responses=BODY_ERRORS)
async def ask(request: AskRequest, engine: EngineDep) -> Response:
    filters = request.filters.to_filters() if request.filters else None
    # Answered and serialised in a worker thread, as AskResponse would serialise it
    # (AskResponse.json_of), and returned as bytes: FastAPI would otherwise validate and
    # serialise the same 50 answers again (about 1 ms at top_k 50).
    body = await run_in_threadpool(
        lambda: AskResponse.json_of(
            engine.ask(
                request.question,
                request.top_k,
                request.mode,
                filters=filters,
                min_confidence=request.min_confidence,
            )
        )
    )
    return Response(body, media_type="application/json")


@router.get("/documents")
def documents(
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[DocumentSummary]:
    return [DocumentSummary.model_validate(d) for d in engine.documents(limit, offset)]


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    responses={**BODY_ERRORS, **WRITE_ERRORS, 409: {"model": ErrorOut}},
)
async def add_documents(
    engine: EngineDep,
    settings: SettingsDep,
    body: Annotated[DocumentsBody, Body()],
) -> WriteOut:
    """Add one article or an array of them; 201 once they are durable and searchable."""
    docs = body if isinstance(body, list) else [body]
    if not docs:
        raise bad_field(("body",), "send one document or a non-empty array of them")
    if len(docs) > MAX_DOCUMENTS_PER_WRITE:
        raise bad_field(("body",), f"at most {MAX_DOCUMENTS_PER_WRITE} documents per request")
    articles = [d.to_article(d.id) for d in docs]
    # all or none, even past one batch: a client whose request failed (or was cut off by a
    # crash) sends it again and must not meet a 409 for the part that was stored
    result = await _write(engine, settings, lambda: engine.add(articles, atomic=True))
    return WriteOut.of(result)


@router.put(
    "/documents/{doc_id:any}",
    responses={**BODY_ERRORS, **WRITE_ERRORS, 201: {"model": WriteOut}},
)
async def put_document(
    doc_id: DocIdPath,
    body: DocumentFields,
    engine: EngineDep,
    settings: SettingsDep,
    response: Response,
) -> WriteOut:
    """Create or replace one article; 201 when created, 200 when replaced or unchanged."""
    try:  # the rule POST's ids follow (and the corpus reader's)
        reachable_id(doc_id)
    except ValueError as exc:
        raise bad_field(("path", "doc_id"), str(exc)) from None
    result = await _write(
        engine, settings, lambda: engine.add([body.to_article(doc_id)], replace=True)
    )
    if result.added:
        response.status_code = status.HTTP_201_CREATED
    return WriteOut.of(result)


@router.delete(
    "/documents/{doc_id:any}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**WRITE_ERRORS, 404: {"model": ErrorOut}},
)
async def delete_document(
    doc_id: DocIdPath, request: Request, engine: EngineDep, settings: SettingsDep
) -> Response:
    await _write(engine, settings, lambda: engine.delete([doc_id]))
    service = getattr(request.app.state, "service", None)
    if service is not None:
        await run_in_threadpool(service.deleted_directly)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/documents/{doc_id:any}", responses={404: {"model": ErrorOut}})
def document(doc_id: DocIdPath, engine: EngineDep) -> DocumentOut:
    return DocumentOut.of(engine.document(doc_id))


def bad_field(loc: tuple[str, ...], message: str) -> RequestValidationError:
    """A 422 like the schema's own, for a rule the schema cannot state."""
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


# The server's own writes, queued in arrival order (asyncio.Lock wakes its waiters first come,
# first served), one queue per engine (and its event loop): only the write at the head takes a
# worker thread. Each waited in a thread of its own for the file lock: 40 queued writes held
# every thread of the pool that /ask, /health and GET /documents run in (reads took 13-22 s), and
# the file lock, polled by each waiter, went to whichever polled first, so an early write could
# wait out QA_WRITE_WAIT_SECONDS behind later ones of the same server (a 503).
# Keyed by the engine alone: a lock that has had a waiter holds its loop, so a loop as a weak
# key would be held by its own value and never let go.
_queues: weakref.WeakKeyDictionary[QAEngine, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _queue(engine: QAEngine) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    held = _queues.get(engine)
    if held is None or held[0] is not loop:  # a new server on this engine: a new queue
        held = _queues[engine] = (loop, asyncio.Lock())
    return held[1]


async def _write(engine: QAEngine, settings: Settings, write: Callable[[], T]) -> T:
    """Run ``write`` in a worker thread holding the index folder's writer lock, after this
    server's earlier writes. Waiting for them and for another writer (`qa index`, `qa add`)
    takes at most QA_WRITE_WAIT_SECONDS in all, then a 503 says who was in the way."""
    wait = settings.write_wait_seconds
    deadline = time.monotonic() + wait
    queue = _queue(engine)
    try:
        async with asyncio.timeout(wait):
            await queue.acquire()
    except TimeoutError:
        raise IndexBusyError(
            f"{engine.store.folder}: this server's earlier writes did not finish within "
            f"{wait:g} s (QA_WRITE_WAIT_SECONDS); try again"
        ) from None
    try:

        def locked() -> T:
            left = max(deadline - time.monotonic(), 0.0)
            with WriterLock(engine.store.folder).hold(timeout=left):
                return write()

        return await run_in_threadpool(locked)
    finally:
        queue.release()

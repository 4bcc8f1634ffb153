"""The question-answering and document routes: thin wrappers around the engine."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import Authorized, EngineDep
from api.schemas import (
    AskRequest,
    AskResponse,
    DocumentFields,
    DocumentIn,
    DocumentOut,
    DocumentSummary,
    ErrorOut,
    Health,
    WriteOut,
)
from qa.errors import InvalidInputError

public = APIRouter()
router = APIRouter(dependencies=[Authorized], responses={401: {"model": ErrorOut}})

MAX_DOCUMENTS_PER_WRITE = 1000


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
    )


@router.post("/ask", responses={422: {"model": ErrorOut}})
async def ask(request: AskRequest, engine: EngineDep) -> AskResponse:
    filters = request.filters.to_filters() if request.filters else None
    result = await run_in_threadpool(
        lambda: engine.ask(request.question, request.top_k, request.mode, filters=filters)
    )
    return AskResponse.of(result)


@router.get("/documents")
def documents(
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DocumentSummary]:
    return [DocumentSummary.model_validate(d) for d in engine.documents(limit, offset)]


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def add_documents(
    engine: EngineDep,
    body: Annotated[DocumentIn | list[DocumentIn], Body()],
) -> WriteOut:
    """Add one article or an array of them; 201 once they are durable and searchable."""
    docs = body if isinstance(body, list) else [body]
    if not docs:
        raise InvalidInputError("body: send one document or a non-empty array of them")
    if len(docs) > MAX_DOCUMENTS_PER_WRITE:
        raise InvalidInputError(f"body: at most {MAX_DOCUMENTS_PER_WRITE} documents per request")
    articles = [d.to_article(d.id) for d in docs]
    result = await run_in_threadpool(engine.add, articles)
    return WriteOut.of(result)


@router.put(
    "/documents/{doc_id:path}",
    responses={201: {"model": WriteOut}, 422: {"model": ErrorOut}},
)
async def put_document(
    doc_id: str, body: DocumentFields, engine: EngineDep, response: Response
) -> WriteOut:
    """Create or replace one article; 201 when created, 200 when replaced or unchanged."""
    if not doc_id.strip() or len(doc_id) > 256:
        raise InvalidInputError("doc_id: must be 1 to 256 characters, not only spaces")
    result = await run_in_threadpool(
        lambda: engine.add([body.to_article(doc_id)], replace=True)
    )
    if result.added:
        response.status_code = status.HTTP_201_CREATED
    return WriteOut.of(result)


@router.delete(
    "/documents/{doc_id:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorOut}},
)
async def delete_document(doc_id: str, engine: EngineDep) -> Response:
    await run_in_threadpool(engine.delete, [doc_id])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/documents/{doc_id:path}", responses={404: {"model": ErrorOut}})
def document(doc_id: str, engine: EngineDep) -> DocumentOut:
    return DocumentOut.of(engine.document(doc_id))

"""The question-answering routes: thin wrappers around the engine."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import Authorized, EngineDep
from api.schemas import AskRequest, AskResponse, DocumentOut, DocumentSummary, ErrorOut, Health

public = APIRouter()
router = APIRouter(dependencies=[Authorized], responses={401: {"model": ErrorOut}})


@public.get("/health")
def health(engine: EngineDep) -> Health:
    manifest = engine.index.manifest
    return Health(
        status="ok",
        documents=manifest.n_documents,
        passages=manifest.n_passages,
        model=manifest.model_id,
        model_sha256=manifest.model_sha256,
        index=manifest.key,
    )


@router.post("/ask", responses={422: {"model": ErrorOut}})
async def ask(request: AskRequest, engine: EngineDep) -> AskResponse:
    result = await run_in_threadpool(engine.ask, request.question, request.top_k, request.mode)
    return AskResponse.of(result)


@router.get("/documents")
def documents(engine: EngineDep) -> list[DocumentSummary]:
    return [DocumentSummary.of(a) for a in engine.documents]


@router.get("/documents/{doc_id}", responses={404: {"model": ErrorOut}})
def document(doc_id: str, engine: EngineDep) -> DocumentOut:
    return DocumentOut.of(engine.document(doc_id))

"""The FastAPI application: the model and index load once, in the lifespan hook."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api import openai_compat
from api.routes import public, router
from qa import __version__
from qa.config import Settings, get_settings
from qa.engine import QAEngine
from qa.errors import (
    ConflictError,
    CorpusError,
    IndexStateError,
    InvalidInputError,
    ModelError,
    NotFoundError,
    QAError,
)
from qa.service import Service

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[QAError], int]] = [
    (InvalidInputError, 422),
    (CorpusError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (IndexStateError, 503),
    (ModelError, 500),
]


def status_for(exc: QAError) -> int:
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def create_app(settings: Settings | None = None, engine: QAEngine | None = None) -> FastAPI:
    """Build the app; without ``engine`` the lifespan opens the store and loads the model.

    The corpus folder (``settings.corpus``) is synced into the store and, with ``settings.watch``,
    watched for changes while the app runs.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings or (engine.settings if engine else get_settings())
        app.state.engine = engine or QAEngine.open(app.state.settings, rebuild=True)
        service = Service(
            app.state.engine, app.state.settings.corpus, watch=app.state.settings.watch
        )
        app.state.service = service.start()
        n_documents, n_passages = app.state.engine.counts()
        log.info("serving %d documents, %d passages", n_documents, n_passages)
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="Extractive QA",
        version=__version__,
        description="Answers questions with verbatim, cited passages from a set of articles.",
        lifespan=lifespan,
    )

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        return _error(request, status_for(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if _is_openai(request):
            first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
            where = ".".join(str(p) for p in first["loc"] if p != "body")
            message = str(first["msg"])
            return _error(request, 400, f"{where}: {message}" if where else message)
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        response = _error(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    app.include_router(public)
    app.include_router(router)
    app.include_router(openai_compat.router)
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="page")
    return app


STATIC = Path(__file__).resolve().parent / "static"


def _is_openai(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def _error(request: Request, status: int, message: str) -> JSONResponse:
    """``{"detail": ...}`` as FastAPI does, or OpenAI's error object under /v1."""
    if _is_openai(request):
        kind = "invalid_request_error" if status < 500 else "server_error"
        if status == 401:
            kind = "authentication_error"
        body: dict[str, object] = {
            "error": {"message": message, "type": kind, "param": None, "code": None}
        }
    else:
        body = {"detail": message}
    return JSONResponse(body, status_code=status)

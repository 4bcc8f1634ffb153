"""The FastAPI application: the model and index load once, in the lifespan hook."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.routes import public, router
from qa import __version__
from qa.config import Settings, get_settings
from qa.engine import QAEngine
from qa.errors import (
    CorpusError,
    IndexStateError,
    InvalidInputError,
    ModelError,
    NotFoundError,
    QAError,
)

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[QAError], int]] = [
    (InvalidInputError, 422),
    (CorpusError, 422),
    (NotFoundError, 404),
    (IndexStateError, 503),
    (ModelError, 500),
]


def status_for(exc: QAError) -> int:
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def create_app(settings: Settings | None = None, engine: QAEngine | None = None) -> FastAPI:
    """Build the app; without ``engine`` the lifespan loads the model and (re)indexes if needed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings or (engine.settings if engine else get_settings())
        app.state.engine = engine or QAEngine.open(app.state.settings, progress=True)
        manifest = app.state.engine.index.manifest
        log.info("serving %d documents, %d passages", manifest.n_documents, manifest.n_passages)
        yield

    app = FastAPI(
        title="Extractive QA",
        version=__version__,
        description="Answers questions with verbatim, cited passages from a set of articles.",
        lifespan=lifespan,
    )

    @app.exception_handler(QAError)
    async def qa_error(_: Request, exc: QAError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    app.include_router(public)
    app.include_router(router)
    return app

"""The FastAPI application: the model and index load once, in the lifespan hook."""

from __future__ import annotations

import logging
import re
import reprlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from api import openai_compat
from api.limits import BodyLimit
from api.routes import public, router
from api.schemas import BODY_TAGS, ErrorOut, FieldError, ValidationErrorOut
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
    StorageError,
)
from qa.ingest.corpus import parse_json
from qa.service import Service
from qa.store.db import disk_refused, storage_error

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
    if isinstance(exc, StorageError):
        return 507 if exc.full else 503  # 507 Insufficient Storage (RFC 4918)
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def create_app(settings: Settings | None = None, engine: QAEngine | None = None) -> FastAPI:
    """Build the app; without ``engine`` the lifespan opens the store and loads the model.

    The corpus folder (``settings.corpus``) is synced into the store and, with ``settings.watch``,
    watched for changes while the app runs.
    """

    settings = settings or (engine.settings if engine else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = engine or QAEngine.open(settings, rebuild=True)
        service = Service(app.state.engine, settings.corpus, watch=settings.watch)
        app.state.service = service  # before the first sync: SIGTERM interrupts it (api/cli.py)
        service.start()
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
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, respond=error_response)

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        status = status_for(exc)
        if isinstance(exc, StorageError):
            log.error("store error on %s: %s", request.url.path, exc)
        if status == 422 and not _is_openai(request.url.path):
            field = exc.field if isinstance(exc, InvalidInputError) else ()
            return _validation_response(
                [FieldError(loc=["body", *field], msg=_short(str(exc)), type="invalid_input")]
            )
        return error_response(request.url.path, status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = _unreadable_body(request, exc.errors())
        if body is not None:
            return _body_error(request.url.path, body)
        errors = [_field_error(e, request.method) for e in exc.errors()[:MAX_ERRORS]]
        if _is_openai(request.url.path):
            return _openai_validation_error(errors)
        return _validation_response(errors)

    @app.exception_handler(HTTPException)  # Starlette's: its 404 and 405 too, not only FastAPI's
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_ERROR:
            try:
                body = await request.body()
            except ClientDisconnect:  # the client left mid-body (FastAPI's 400 too): no reply
                return error_response(request.url.path, 400, "the client disconnected")
            encoding = request.headers.get("content-encoding", "identity").strip().lower()
            if encoding != "identity":  # compressed bytes are no UTF-8 text either
                return _body_error(
                    request.url.path,
                    f"the body is sent with content-encoding: {_short(encoding, EXCERPT_CHARS)}, "
                    "which this server does not decode: send it uncompressed",
                )
            return _body_error(request.url.path, _undecodable(body))
        response = error_response(request.url.path, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(sqlite3.DatabaseError)
    async def store_error(request: Request, exc: sqlite3.DatabaseError) -> JSONResponse:
        log.error("store error on %s: %s", request.url.path, exc)
        if disk_refused(exc):  # a full or failing disk: the store is not damaged
            refused = storage_error(exc, settings.index_dir)
            return error_response(request.url.path, status_for(refused), str(refused))
        return error_response(
            request.url.path,
            503,
            f"the index store failed ({exc}): `qa index` checks and repairs it",
        )

    app.include_router(public)
    app.include_router(router)
    app.include_router(openai_compat.router)
    _add_page_routes(app)
    return app


STATIC = Path(__file__).resolve().parent / "static"
# What an error body may carry of the request: a few errors, each with a short excerpt.
MAX_ERRORS = 20
EXCERPT_CHARS = 80
MESSAGE_CHARS = openai_compat.MESSAGE_CHARS
_excerpt_repr = reprlib.Repr()  # bounded work and size whatever the nesting
_excerpt_repr.maxlevel, _excerpt_repr.maxdict, _excerpt_repr.maxlist = 2, 4, 4
_excerpt_repr.maxstring = _excerpt_repr.maxother = 60


def _add_page_routes(app: FastAPI) -> None:
    """The web page's files, each at its own path (GET and HEAD only). Not a catch-all mount: a
    mount at ``/`` would answer a wrong method on an API route with 404 instead of 405."""

    def serve(path: Path) -> Callable[[Request], Awaitable[Response]]:
        async def page_file(request: Request) -> Response:
            # fetched again on every load (11 KB in all): after an upgrade a browser does not pair
            # a cached app.js with the new index.html
            return FileResponse(path, headers={"Cache-Control": "no-cache"})

        return page_file

    app.add_route(
        "/", serve(STATIC / "index.html"), methods=["GET", "HEAD"], include_in_schema=False
    )
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            app.add_route(
                f"/{path.name}", serve(path), methods=["GET", "HEAD"], include_in_schema=False
            )


def _short(text: str, limit: int = MESSAGE_CHARS) -> str:
    return openai_compat.excerpt(text, limit)


def _field_error(error: Any, method: str) -> FieldError:
    value = error.get("input")
    msg = str(error["msg"]).removeprefix("Value error, ")  # a validator's words alone
    if method == "PUT" and error["type"] == "extra_forbidden" and error["loc"] == ("body", "id"):
        msg = "the id goes in the URL (PUT /documents/{id}), not in the body"
    text = value if isinstance(value, str) else _excerpt_repr.repr(value)
    loc = list(error["loc"])
    if loc[:1] == ["body"] and len(loc) > 1 and loc[1] in BODY_TAGS:
        del loc[1]  # which shape of the body it is: the next step says it
    return FieldError(
        loc=[p if isinstance(p, int) else _short(str(p), EXCERPT_CHARS) for p in loc],
        msg=_short(msg),
        type=str(error["type"]),
        input=None if "input" not in error else _short(text, EXCERPT_CHARS),
    )


# What pydantic puts in an error's loc for the member of a union it tried (``str``,
# ``list[TextPart]``): no field of the request, so not part of an OpenAI ``param``.
_UNION_MEMBER = re.compile(r"^(?:str|int|float|bool|none|(?:list|dict)\[.*\])$")


def _openai_validation_error(errors: list[FieldError]) -> JSONResponse:
    """OpenAI's 400 for the request's first bad field, ``param`` naming it. Of the errors one
    union gives (content as a string, or as an array of parts), the deepest is the one about the
    form the client sent."""
    if not errors:
        return openai_compat.error_response(400, "invalid request", None)
    first = errors[0]
    path = _fields(first)
    if path and _is_member(path[-1]):  # the union's first member: take its deepest error
        union = path[:-1]
        same = (e for e in errors if _fields(e)[: len(union)] == union)
        first = max(same, key=lambda e: len(e.loc))  # the first of the deepest
    where = ".".join(str(p) for p in _fields(first) if not _is_member(p))
    return openai_compat.error_response(
        400, f"{where}: {first.msg}" if where else first.msg, where or None
    )


def _fields(error: FieldError) -> list[str | int]:
    return [p for p in error.loc if p != "body"]


def _is_member(part: str | int) -> bool:
    return isinstance(part, str) and _UNION_MEMBER.match(part) is not None


FASTAPI_BODY_ERROR = "There was an error parsing the body"
"""FastAPI's 400 for a JSON body it could not decode other than as bad JSON (not UTF-8 text)"""


def _unreadable_body(request: Request, errors: Sequence[Any]) -> str | None:
    """What is wrong with a body that is no JSON at all, in words; None if it is JSON.

    FastAPI says "JSON decode error" at some character for bad JSON (the reason is in the
    error's ``ctx``), and "Input should be a valid dictionary" for a body it never parsed
    because its content-type is not JSON (curl's ``-d`` sends a form's), showing the bytes."""
    if not errors:
        return None
    first = errors[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error") or first.get("msg")
        at = next((p for p in first.get("loc", ()) if isinstance(p, int)), None)
        return f"the body is not JSON: {reason}" + ("" if at is None else f" (at character {at})")
    if tuple(first.get("loc", ()))[:1] == ("body",) and isinstance(first.get("input"), bytes):
        sent = request.headers.get("content-type")
        return (
            "the body is read as JSON only when sent with content-type: application/json "
            f"(this request's is {_short(sent or '', EXCERPT_CHARS)!r})"
        )
    return None


def _undecodable(body: bytes) -> str:
    """Why FastAPI could not read a JSON body that was no bad JSON: it is not UTF-8 text."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"the body is not UTF-8 text (byte 0x{body[exc.start]:02x} at position {exc.start}): "
            "JSON must be sent as UTF-8"
        )
    try:  # JSON Python's reader refuses: nested too deeply, a number of 4,300 digits
        parse_json(body)
    except ValueError as exc:
        return f"the body could not be read: {exc}"
    return "the body could not be read as JSON"


def _body_error(path: str, message: str) -> JSONResponse:
    """A body that is not JSON: a 422 at ``body`` (OpenAI's 400 under /v1, no ``param``)."""
    if _is_openai(path):
        return openai_compat.error_response(400, message, None)
    return _validation_response([FieldError(loc=["body"], msg=_short(message), type="body")])


def _validation_response(errors: list[FieldError]) -> JSONResponse:
    return JSONResponse(ValidationErrorOut(detail=errors).model_dump(), status_code=422)


def _is_openai(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def error_response(path: str, status: int, message: str) -> JSONResponse:
    """``{"detail": message}`` (ErrorOut), or OpenAI's error object under /v1."""
    if _is_openai(path):
        return openai_compat.error_response(status, message)
    return JSONResponse(ErrorOut(detail=_short(message)).model_dump(), status_code=status)

"""Dependency aliases for route functions.

They are ``async def`` because they never block: FastAPI runs a plain ``def`` dependency in its
thread pool, three hand-offs per request here (0.2-0.25 ms of every ``/ask``)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qa.config import Settings
from qa.engine import QAEngine


async def get_engine(request: Request) -> QAEngine:
    engine: QAEngine = request.app.state.engine
    return engine


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[QAEngine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

_bearer = HTTPBearer(auto_error=False)


async def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """When QA_API_KEY is set, every route but /health needs ``Authorization: Bearer <key>``."""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode("utf-8")
    if credentials is None or not secrets.compare_digest(_token_bytes(credentials), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API key: send 'Authorization: Bearer <QA_API_KEY>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


Authorized = Depends(require_api_key)


def _token_bytes(credentials: HTTPAuthorizationCredentials) -> bytes:
    """The token as the client sent it: header values reach us as latin-1 decoded bytes, so a
    key of any Unicode, sent as UTF-8, compares equal to QA_API_KEY's UTF-8 bytes."""
    return credentials.credentials.encode("latin-1", errors="replace")

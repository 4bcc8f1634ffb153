"""What every error response must look like: the shape the OpenAPI schema declares."""

from __future__ import annotations

import httpx

from api.schemas import ErrorOut, ValidationErrorOut

# No error body carries more of the request than this (a few short excerpts).
MAX_ERROR_BYTES = 4096


def assert_declared_error(response: httpx.Response, path: str) -> None:
    """Below 500; a 4xx is JSON in the declared shape, names the field, and stays short."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code < 400:
        return
    assert len(response.content) <= MAX_ERROR_BYTES, len(response.content)
    body = response.json()
    if path.startswith("/v1/"):
        assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
        assert isinstance(body["error"]["type"], str)
    elif response.status_code == 422:
        errors = ValidationErrorOut.model_validate(body).detail
        assert errors and all(e.loc for e in errors)  # names the field
    else:
        ErrorOut.model_validate(body)

"""The app on a real uvicorn (tiny corpus, hashing embedder) and an OpenAI client for it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from api.app import create_app
from qa.engine import QAEngine
from tests.conftest import running_server


@pytest.fixture
def base_url(tiny_engine: QAEngine) -> Iterator[str]:
    with running_server(create_app(engine=tiny_engine)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)

"""Servers and engines for the hostile-input tests: the real app, the hashing embedder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from tests.conftest import ROOT, free_port, open_synced, running_server, write_corpus

BAD_INPUTS = ROOT / "tests" / "bad_inputs"
API_KEY = "s3crét-ключ-🔑"


@pytest.fixture(scope="module")
def module_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QAEngine]:
    tmp = tmp_path_factory.mktemp("hostile")
    settings = Settings(corpus=write_corpus(tmp / "corpus"), index_dir=tmp / "index", watch=False)
    engine = open_synced(settings, HashingEmbedder())
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def server_url(module_engine: QAEngine) -> Iterator[str]:
    with running_server(create_app(engine=module_engine)) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_url(module_engine: QAEngine) -> Iterator[str]:
    settings = module_engine.settings.model_copy(update={"api_key": SecretStr(API_KEY)})
    with running_server(create_app(settings, module_engine)) as url:
        yield url


def qa_command(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """`qa ARGS` with the hashing embedder, as a subprocess command line."""
    return [sys.executable, "-m", "tests.hostile.fake_qa", *args]


def qa_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


def run_qa(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        qa_command(*args),
        cwd=ROOT,
        env=qa_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_qa_serve(
    corpus: Path, index_dir: Path, *, log: Path, **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`qa serve` (hashing embedder) in a subprocess; returns it once /health answers."""
    port = free_port()
    args = ["serve", "--port", str(port), "--corpus", str(corpus), "--index-dir", str(index_dir)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            qa_command(*args),
            cwd=ROOT,
            env=qa_env(QA_WATCH="false", **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"qa serve exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("qa serve did not start")

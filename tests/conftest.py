from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from qa.config import Settings
from qa.embed import Embedder, HashingEmbedder
from qa.engine import QAEngine
from qa.store.sync import sync_folder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

TINY = {
    "volcano.txt": (
        "Volcano erupts near mountain village\n"
        "Published by\n"
        "A volcano erupted on Tuesday near the village of Lavaton. "
        "Officials said 300 residents were evacuated by bus.\n"
        "The eruption sent ash ten kilometres into the sky[/caption]"
        "Scientists had warned of rising magma levels since March.\n"
        "Topics:\n"
        "Flights were cancelled at the regional airport.\n"
    ),
    "election.md": (
        "Mayor re-elected in landslide\n"
        "The mayor of Riverton won a third term with 71 percent of the vote. "
        "Turnout was the highest in twenty years. "
        "Her opponent conceded on Sunday night.\n"
        "tracking\n"
    ),
}


def write_corpus(folder: Path, files: dict[str, str] = TINY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def tiny_settings(tmp_path: Path, tiny_corpus: Path) -> Settings:
    # The hashing embedder's cosines are lower than MiniLM's, so the trained ranker is less sure
    # of its answers: a low threshold still tells hits from noise on the tiny corpus.
    return Settings(
        corpus=tiny_corpus,
        index_dir=tmp_path / "index",
        min_confidence=0.05,
        watch=False,
    )


def open_synced(settings: Settings, embedder: Embedder | None = None) -> QAEngine:
    """An engine on ``settings.index_dir`` with ``settings.corpus`` indexed."""
    engine = QAEngine.open(settings, embedder)
    sync_folder(engine, settings.corpus)
    return engine


@pytest.fixture
def tiny_engine(tiny_settings: Settings, fake_embedder: HashingEmbedder) -> Iterator[QAEngine]:
    engine = open_synced(tiny_settings, fake_embedder)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory: pytest.TempPathFactory) -> QAEngine:
    """The real model on the seed articles (loaded once per test session)."""
    settings = Settings(corpus=SEEDS, index_dir=tmp_path_factory.mktemp("seed-index"), watch=False)
    return open_synced(settings)


def assert_verbatim(engine: QAEngine, result) -> None:  # type: ignore[no-untyped-def]
    """The product's invariant: every returned character is at its cited offsets."""
    for answer in result.answers:
        text = engine.document(answer.article.doc_id).text
        p = answer.hit.passage
        assert text[p.span.start : p.span.end] == p.text
        assert p.span.contains(answer.highlight)
        assert text[answer.highlight.start : answer.highlight.end] == answer.highlight_text


# Headless Chromium on a machine with no outside network: without the background-networking
# flags it keeps trying (and failing) to reach Google's hosts.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

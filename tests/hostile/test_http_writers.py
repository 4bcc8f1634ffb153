"""Many HTTP writers at once, against a real uvicorn: they queue behind each other, not in front
of the readers, and a write of many articles is all or none (found by a concurrent-writers
hunt)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest

from api.app import create_app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import WRITE_BATCH, QAEngine
from tests.conftest import running_server


class _Slow(HashingEmbedder):
    """Each model call takes ``seconds``; a text holding "POISON" makes it fail."""

    seconds = 0.0

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if any("POISON" in t for t in texts):
            raise RuntimeError("the model failed")
        time.sleep(self.seconds)
        return super().embed(texts, progress=progress)


@pytest.fixture
def slow_engine(tmp_path: Path) -> Iterator[QAEngine]:
    settings = Settings(corpus=tmp_path / "c", index_dir=tmp_path / "i", watch=False)
    with contextlib.closing(QAEngine.open(settings, _Slow())) as engine:
        yield engine


def _article(i: int, extra: str = "") -> dict[str, str]:
    return {"id": f"a{i}", "text": f"Article {i}\nThe harbour story number {i} goes here.{extra}"}


def test_queued_writes_leave_the_readers_their_threads(
    slow_engine: QAEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: each queued write waited for the file lock in a worker thread of its own; 40 of
    them held the whole pool that /health, GET /documents and /ask run in, and reads waited
    13-22 s behind them. Now a read comes back while nearly all the writes still wait."""
    monkeypatch.setattr(_Slow, "seconds", 0.1)  # two model calls a write: 0.2 s each
    writes = 80  # 40 more than the thread pool: before, 40 writes queued for a thread
    done: list[int] = []
    with running_server(create_app(engine=slow_engine)) as url:

        def post(i: int) -> None:
            r = httpx.post(f"{url}/documents", json=_article(i), timeout=120)
            done.append(r.status_code)

        writers = [threading.Thread(target=post, args=(i,)) for i in range(writes)]
        for t in writers:
            t.start()
        time.sleep(0.5)  # every write has arrived and queued by now
        health = httpx.get(f"{url}/health", timeout=120)
        document = httpx.get(f"{url}/documents", timeout=120)
        finished_by_then = len(done)
        for t in writers:
            t.join()
    assert health.status_code == 200 and document.status_code == 200
    # before: GET /documents got a thread once the 40 writes queued for one ahead of it were
    # done (41 or more had finished); now it takes one at once, after the few of the first 0.5 s
    assert finished_by_then < 20, (finished_by_then, writes)
    assert done == [201] * writes  # in arrival order, none waited out the limit


def test_a_write_of_many_articles_is_all_or_none(slow_engine: QAEngine) -> None:
    """Was: each batch of 64 articles was committed on its own, so a POST that failed (or was
    cut off by kill -9) on its third batch left 128 articles stored, readable before any
    answer, and sending it again was a 409 for ever."""
    n = 3 * WRITE_BATCH
    articles = [_article(i) for i in range(n)]
    articles[-1] = _article(n - 1, " POISON")  # the model fails on the last batch
    with running_server(create_app(engine=slow_engine)) as url:
        failed = httpx.post(f"{url}/documents", json=articles, timeout=120)
        assert failed.status_code == 500
        assert httpx.get(f"{url}/documents", timeout=30).json() == []
        articles[-1] = _article(n - 1)
        again = httpx.post(f"{url}/documents", json=articles, timeout=120)
        assert again.status_code == 201, again.text
        assert len(again.json()["added"]) == n
        assert len(httpx.get(f"{url}/documents", timeout=30).json()) == n

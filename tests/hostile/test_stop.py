"""`qa serve` stopped with SIGTERM (docker stop) while it indexes its corpus folder before
answering: it stops at the next batch, and the next start finishes the sync."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import WRITE_BATCH, QAEngine
from tests.conftest import ROOT, free_port
from tests.hostile.conftest import qa_command, qa_env
from tests.store.test_durability import doc


def _stored(index_dir: Path) -> int:
    engine = QAEngine.open(Settings(index_dir=index_dir, watch=False), HashingEmbedder())
    try:
        return engine.counts()[0]
    finally:
        engine.close()


def test_sigterm_during_the_first_sync_stops_it_at_the_next_batch(tmp_path: Path) -> None:
    """Was: uvicorn looks at its exit flag only once the app has started, so SIGTERM during
    the first sync (a Docker image's mounted corpus: minutes) waited for all of it, past
    docker stop's 10 s, then SIGKILL."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    n = WRITE_BATCH * 60  # far more than a batch's worth in the time before the signal
    for i in range(n):
        (corpus / f"a{i}.txt").write_text(str(doc(i)["text"]))
    log = tmp_path / "serve.log"
    args = ["serve", "--port", str(free_port()), "--corpus", str(corpus)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            qa_command(*args, "--index-dir", str(index_dir)),
            cwd=ROOT,
            env=qa_env(QA_WATCH="false"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while "indexing:" not in log.read_text(errors="replace"):  # the first sync writes
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    said = log.read_text(errors="replace")
    assert "stopped after" in said and f"of {n} articles" in said, said
    assert proc.returncode in (0, -signal.SIGTERM), said  # uvicorn re-raises the signal
    stored = _stored(index_dir)
    assert 0 < stored < n
    # the next start finishes it (in the background: the store is this folder's), embedding
    # only what was not stored
    port = free_port()
    with (tmp_path / "again.log").open("wb") as out:
        proc = subprocess.Popen(
            qa_command(
                "serve", "--port", str(port), "--corpus", str(corpus), "--index-dir", str(index_dir)
            ),
            cwd=ROOT,
            env=qa_env(QA_WATCH="true"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None and time.monotonic() < deadline
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["documents"]
                    == n
                ):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    again = (tmp_path / "again.log").read_text(errors="replace")
    assert f"{n - stored} added, 0 replaced, 0 deleted, {stored} unchanged" in again, again

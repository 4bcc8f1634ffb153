"""HTTP-level tests against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from qa.engine import QAEngine
from tests.conftest import ROOT, SEEDS, free_port, running_server


@pytest.fixture
def server_url(tiny_engine: QAEngine) -> Iterator[str]:
    with running_server(create_app(engine=tiny_engine)) as url:
        yield url


def test_real_server_answers_and_rejects(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=10) as http:
        r = http.post("/ask", json={"question": "What percent of the vote did the mayor win?"})
        assert r.status_code == 200
        top = r.json()["answers"][0]
        doc = http.get(f"/documents/{top['doc_id']}").json()
        h = top["highlight"]
        assert doc["text"][h["start_char"] : h["end_char"]] == h["text"]
        assert "71 percent" in h["text"]
        bad = http.post("/ask", content=b"not json", headers={"content-type": "application/json"})
        assert bad.status_code == 422


@pytest.mark.slow
def test_qa_serve_on_the_seeds_with_the_real_model(tmp_path: Path) -> None:
    """`qa serve --corpus X --index-dir Y` indexes, then serves exactly that corpus."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(port),
            "--corpus",
            str(SEEDS),
            "--index-dir",
            str(tmp_path / "idx"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        health = httpx.get(f"{url}/health").json()
        assert (
            health["documents"] == 2 and health["model"] == "sentence-transformers/all-MiniLM-L6-v2"
        )
        r = httpx.post(
            f"{url}/ask", json={"question": "Where were the Hamas documents found?"}, timeout=30
        )
        body = r.json()
        assert not body["abstained"]
        highlights = [a["highlight"]["text"] for a in body["answers"][:3]]
        assert any("underground Hamas command centre" in h for h in highlights)
        off = httpx.post(
            f"{url}/ask", json={"question": "What is the capital of Australia?"}, timeout=30
        )
        assert off.json()["abstained"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (tmp_path / "idx" / "store.sqlite3").is_file()

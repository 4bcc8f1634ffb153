"""The installed `qa` command as a user runs it: a subprocess with the real model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SEEDS


def _qa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("QA_", "ORT_DISABLE_TELEMETRY"))
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env={**inherited, "HF_HUB_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_qa_ask_prints_the_answer_and_nothing_else(tmp_path: Path) -> None:
    """Library chatter (faiss's CPU-build notice, weight-loading bars) stays off the terminal."""
    where = ["--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx")]
    built = _qa("index", *where)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("2 added") and "holds 2 documents" in built.stdout
    assert "faiss" not in built.stderr  # progress bars only

    asked = _qa("ask", "-k", "1", "Where were the Hamas documents found?", *where)
    assert asked.returncode == 0, asked.stderr
    assert asked.stderr == ""
    assert asked.stdout.startswith("1. ")
    assert "«The documents were discovered on a computer found in January" in asked.stdout

    off = _qa("ask", "What is the capital of Australia?", *where)
    assert off.returncode == 0 and off.stderr == ""
    assert off.stdout.startswith("No answer in these articles")


def test_nothing_is_written_to_home_nor_sent_to_microsoft(tmp_path: Path) -> None:
    """ONNX Runtime's telemetry looked up mobile.events.data.microsoft.com and wrote a device id
    under ~/.cache/Microsoft on every run (found by emulating the Docker image with no network)."""
    from qa.embed import default_onnx_cache

    home = tmp_path / "home"
    home.mkdir()
    # the export cached where the tests keep it: only what a run writes on its own lands in home
    env = {"HOME": str(home), "QA_ONNX_CACHE": str(default_onnx_cache())}
    where = ["--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx")]
    asked = _qa("ask", "-k", "1", "Where were the Hamas documents found?", *where, env=env)
    assert asked.returncode == 0, asked.stderr
    assert "The documents were discovered" in asked.stdout
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []


def test_qa_serve_on_a_port_in_use_says_so_before_opening_the_store(tmp_path: Path) -> None:
    """It opened the store and indexed the corpus, then printed uvicorn's `ERROR: [Errno 98]`
    and exited 3."""
    import socket

    index = tmp_path / "idx"
    where = ["--corpus", str(SEEDS), "--index-dir", str(index)]
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = _qa("serve", "--port", str(port), *where)
    assert served.returncode == 1
    assert (
        served.stderr == f"qa: error: cannot listen on 127.0.0.1:{port} (address already in use)\n"
    )
    assert served.stdout == "" and not index.exists()

    # TEST-NET-1 (RFC 5737) is on no interface of this machine: nothing is sent anywhere
    elsewhere = _qa("serve", "--host", "192.0.2.1", "--port", str(port), *where)
    assert elsewhere.returncode == 1
    assert elsewhere.stderr == (
        f"qa: error: cannot listen on 192.0.2.1:{port} (cannot assign requested address)\n"
    )
    assert not index.exists()

"""Issue 12, memory and availability: oversized bodies and slow clients against a real `qa serve`
(uvicorn subprocess, hashing embedder), with real sockets."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from qa.store.db import DB_FILE
from tests.conftest import write_corpus
from tests.hostile.conftest import start_qa_serve
from tests.qa.store.test_connections import open_handles

HEADER_TIMEOUT = 2.0
SLOW_CLIENTS = 200


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    tmp = tmp_path_factory.mktemp("limits")
    proc, url = start_qa_serve(
        write_corpus(tmp / "corpus"),
        tmp / "index",
        log=tmp / "serve.log",
        QA_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
    )
    yield proc, url
    proc.terminate()
    proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_declared_oversized_body_is_a_413_before_it_is_sent(served: tuple) -> None:
    """Content-Length says 100 MB: the 413 comes back with only the headers sent."""
    _proc, url = served
    with connect(url) as s:
        s.sendall(
            b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100000000\r\n\r\n{"question": "'
        )
        reply = b""
        while chunk := s.recv(65536):  # the server closes after its 413
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"request body larger than 1048576 bytes" in reply


def test_streamed_oversized_body_is_a_413_and_memory_stays_bounded(served: tuple) -> None:
    """A chunked body with no length: cut off once 1 MiB has arrived, never read whole."""
    proc, url = served
    before = rss_mb(proc.pid)
    chunk = b"x" * 65536

    def body() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(50 * 16):  # 50 MB if it were all read
            yield chunk

    for path in ("/ask", "/documents", "/v1/chat/completions"):
        try:
            r = httpx.post(
                url + path,
                content=body(),
                headers={"content-type": "application/json"},
                timeout=30,
            )
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            continue  # the server answered and closed while we were still writing: fine
        assert r.status_code == 413, (path, r.text[:200])
    assert rss_mb(proc.pid) - before < 50
    assert httpx.get(f"{url}/health").status_code == 200


def test_health_answers_while_200_slow_clients_trickle_headers(served: tuple) -> None:
    _proc, url = served
    slow = [connect(url) for _ in range(SLOW_CLIENTS)]
    try:
        for s in slow:
            s.sendall(b"GET /health HTTP/1.1\r\nHo")
        started = time.monotonic()
        for i in range(3):  # keep trickling one byte each while /health is asked
            for s in slow:
                s.sendall(b"s")
            t = time.monotonic()
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200
            assert time.monotonic() - t < 1.0, f"/health took {time.monotonic() - t:.2f} s"
            time.sleep(0.2 * i)
        # The header timeout ends each of them (uvicorn alone never did).
        deadline = started + HEADER_TIMEOUT + 5
        closed = 0
        for s in slow:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                closed += s.recv(1) == b""
        assert closed == SLOW_CLIENTS
    finally:
        for s in slow:
            s.close()
    assert httpx.get(f"{url}/health").status_code == 200


def test_keep_alive_connection_then_slow_headers_is_closed(served: tuple) -> None:
    """After a complete request, a next request that stalls mid-headers is cut off too."""
    _proc, url = served
    with connect(url) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b"}"):  # the whole JSON response, so that nothing is pending
            reply += s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /hea")
        s.settimeout(HEADER_TIMEOUT + 8)
        assert s.recv(1) == b""


def test_a_thread_pool_turning_over_leaves_no_connections_open(tmp_path: Path) -> None:
    """Bursts of requests, each after the pool has retired its idle threads: every burst runs on
    new threads, each with its own SQLite connection. Those of retired threads are closed (they
    were kept for the life of the process: 2-3 more handles on the database file per burst of 8
    requests here, without end)."""
    proc, url = start_qa_serve(
        write_corpus(tmp_path / "corpus"),
        tmp_path / "index",
        log=tmp_path / "serve.log",
        FAKE_QA_THREAD_IDLE="0.2",
    )
    store = (tmp_path / "index" / DB_FILE).resolve()

    def ask(i: int) -> int:
        with httpx.Client(base_url=url, timeout=30) as http:
            return http.post("/ask", json={"question": f"volcano {i}", "top_k": 3}).status_code

    handles = []
    try:
        with ThreadPoolExecutor(8) as clients:
            for burst in range(20):
                assert set(clients.map(ask, range(burst * 8, burst * 8 + 8))) == {200}
                handles.append(open_handles(proc.pid, store))
                time.sleep(0.5)  # the pool retires the idle threads at the next request
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # Bounded by the threads alive at once: a burst's 8, those being retired, the server's own
    # few (a closed connection's file may stay open a while for SQLite to reuse). Without
    # closing, the count grew by 2-3 every burst, past 30 by the 14th.
    assert max(handles) <= 3 * 8, handles

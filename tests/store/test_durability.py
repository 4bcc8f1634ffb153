"""Kill -9 at random moments: every acknowledged write survives, nothing half-written shows, and
the store and its indexes agree afterwards. Real processes, real SIGKILL."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from tests.conftest import ROOT, free_port

WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "heath"]


def doc(i: int) -> dict[str, object]:
    word = f"kw{i}x{WORDS[i % len(WORDS)]}"
    return {
        "id": f"d{i}",
        "text": (
            f"Report on {word}\n"
            f"The council approved the {word} plan on Monday after a long debate. "
            f"Residents said the {word} plan would change the town. "
            f"A vote on the {word} budget follows next month."
        ),
    }


def start(index_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.store.fake_server", str(index_dir), str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start")


def check_store(index_dir: Path, present: set[str], absent: set[str]) -> None:
    engine = QAEngine.open(Settings(index_dir=index_dir, watch=False), HashingEmbedder())
    try:
        assert engine.live.problems() == []
        for doc_id in present:
            engine.document(doc_id)  # raises NotFoundError if lost
            i = int(doc_id[1:])
            word = str(doc(i)["text"]).split()[2]
            hits = engine.search(f"{word} plan", 3, mode="bm25")
            assert hits and hits[0].passage.doc_id == doc_id
        stored = {str(d["doc_id"]) for d in engine.documents()}
        assert not (absent & stored)
        for d in stored:  # whatever is there is whole: it has passages
            assert engine.search(str(doc(int(d[1:]))["text"]).split()[2], 1, mode="bm25")
    finally:
        engine.store.close()


def test_server_killed_at_random_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    rng = random.Random(7)
    index_dir = tmp_path / "index"
    acked_added: set[str] = set()
    acked_deleted: set[str] = set()
    next_id = 0
    for _round in range(5):
        port = free_port()
        proc = start(index_dir, port)
        stop = threading.Event()

        def writer(port: int, stop: threading.Event) -> None:
            nonlocal next_id
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                while not stop.is_set():
                    try:
                        if acked_added and rng.random() < 0.2:
                            victim = rng.choice(sorted(acked_added))
                            # Until the 204 arrives the delete may or may not have happened.
                            acked_added.discard(victim)
                            if http.delete(f"/documents/{victim}").status_code == 204:
                                acked_deleted.add(victim)
                            continue
                        batch = [doc(next_id + j) for j in range(rng.randint(1, 4))]
                        next_id += len(batch)
                        r = http.post("/documents", json=batch)
                        if r.status_code == 201:
                            acked_added.update(str(d["id"]) for d in batch)
                    except httpx.HTTPError:
                        return  # the server died mid-request: not acknowledged

        thread = threading.Thread(target=writer, args=(port, stop))
        thread.start()
        time.sleep(rng.uniform(0.3, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        thread.join()
        check_store(index_dir, acked_added, acked_deleted)
    assert len(acked_added) > 10  # the kills landed while real writes were going on


ADD_SCRIPT = """
import sys
from pathlib import Path
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Article
from tests.store.test_durability import doc

engine = QAEngine.open(Settings(index_dir=Path(sys.argv[1]), watch=False), HashingEmbedder())
for start in range(0, 2000, 25):
    batch = [doc(i) for i in range(start, start + 25)]
    engine.add([Article(str(d["id"]), "t", str(d["text"])) for d in batch])
    print(" ".join(str(d["id"]) for d in batch), flush=True)
engine.close()
"""


def test_writer_killed_at_random_leaves_whole_articles(tmp_path: Path) -> None:
    """The `qa add` path (engine.add, batch transactions, snapshot on close) killed mid-run."""
    rng = random.Random(11)
    index_dir = tmp_path / "index"
    acked: set[str] = set()
    for _round in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", ADD_SCRIPT, str(index_dir)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lines.extend, args=(proc.stdout,))
        reader.start()
        deadline = time.monotonic() + 60
        while not lines and time.monotonic() < deadline:  # started and writing
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join()
        for line in lines:
            acked.update(line.split())
        check_store(index_dir, acked, set())
    assert acked


@pytest.mark.slow
def test_qa_index_killed_then_rerun_completes(tmp_path: Path) -> None:
    """The real `qa index` (real model) killed during embedding, then run again."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(300):
        (corpus / f"a{i}.txt").write_text(str(doc(i)["text"]))
    cmd = [sys.executable, "-m", "api.cli", "index", "--corpus", str(corpus)]
    cmd += ["--index-dir", str(tmp_path / "index")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for delay in (6.0, 9.0):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "the store in" in done.stdout and "300 documents" in done.stdout
    from qa.engine import load_embedder

    settings = Settings(index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(settings, load_embedder(settings))
    assert engine.live.problems() == []
    assert engine.counts()[0] == 300
    engine.store.close()


@pytest.mark.slow
def test_qa_index_killed_then_files_removed_leaves_no_article_of_them(tmp_path: Path) -> None:
    """The real `qa index` killed after it committed articles but before it recorded their files;
    some of those files are then removed. The next run deletes their articles: none is left
    that no file holds."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(300):
        (corpus / f"a{i}.txt").write_text(str(doc(i)["text"]))
    index = tmp_path / "index"
    cmd = [
        sys.executable,
        "-m",
        "api.cli",
        "index",
        "--corpus",
        str(corpus),
        "--index-dir",
        str(index),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    written: list[str] = []
    deadline = time.monotonic() + 120
    while not written and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        written = stored_ids(index / "store.sqlite3")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = stored_ids(index / "store.sqlite3")
    assert 0 < len(written) < 300, "the kill should land between the first and the last batch"
    removed = set(written[::2])
    for doc_id in removed:
        (corpus / f"{doc_id}.txt").unlink()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert f"{300 - len(removed)} documents" in done.stdout
    left = set(stored_ids(index / "store.sqlite3"))
    assert not (left & removed)
    assert left == {f"a{i}" for i in range(300)} - removed
    from qa.engine import load_embedder

    settings = Settings(index_dir=index, watch=False)
    engine = QAEngine.open(settings, load_embedder(settings))
    try:
        assert engine.live.problems() == []
        assert engine.counts()[0] == 300 - len(removed)
    finally:
        engine.store.close()


@pytest.mark.slow
def test_qa_index_force_killed_while_writing_brings_no_deleted_article_back(
    tmp_path: Path,
) -> None:
    """`qa delete victim` (its file stays), then `qa index --force` killed once it has marked
    the files pending, then `qa delete a1` (its file stays too), then `qa index`: neither comes
    back, and the files new to the killed run are all indexed. (Found by a kill -9 hunt: the
    pending mark lost the file's stamp, and the next sync read the unchanged file whole.)"""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(20):
        (corpus / f"a{i}.txt").write_text(str(doc(i)["text"]))
    (corpus / "victim.txt").write_text(str(doc(99)["text"]))
    index = tmp_path / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def qa(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "api.cli", *args, "--index-dir", str(index)]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)

    qa("index", "--corpus", str(corpus))
    qa("delete", "victim")
    for i in range(20, 300):  # embedding work for the forced run, so the kill lands in it
        (corpus / f"a{i}.txt").write_text(str(doc(i)["text"]))
    cmd = [sys.executable, "-m", "api.cli", "index", "--force", "--corpus", str(corpus)]
    proc = subprocess.Popen([*cmd, "--index-dir", str(index)], cwd=ROOT, env=env)
    victim = str((corpus / "victim.txt").resolve())
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if file_stamp(index / "store.sqlite3", victim).startswith("pending"):
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert file_stamp(index / "store.sqlite3", victim).startswith("pending"), "kill too late"
    assert len(stored_ids(index / "store.sqlite3")) < 300, "the kill should land mid-write"
    qa("delete", "a1")
    qa("index", "--corpus", str(corpus))
    assert set(stored_ids(index / "store.sqlite3")) == {f"a{i}" for i in range(300)} - {"a1"}


def file_stamp(database: Path, path: str) -> str:
    """The stamp the folder sync recorded for ``path`` ('' if none yet), read beside a writer."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT stamp FROM files WHERE path = ?", (path,)).fetchone()
    except sqlite3.OperationalError:
        return ""
    return str(row[0]) if row else ""


def stored_ids(database: Path) -> list[str]:
    """The article ids committed so far, read beside a running writer (WAL: never blocks it)."""
    if not database.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            return [r[0] for r in conn.execute("SELECT doc_id FROM articles ORDER BY doc_id")]
    except sqlite3.OperationalError:  # created but its tables not yet written
        return []

"""A disk that refuses (full, unopenable) is not a damaged store: writes fail whole with a
StorageError, nothing stored is touched, and the service says so in a line and tries again.
Real SQLite errors where SQLite can make them (``max_page_count`` is SQLite's own full disk);
the end-to-end run on a really full disk is tests/store/test_disk_full.py."""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.errors import StorageError
from qa.records import Article
from qa.store import watcher
from qa.store.db import disk_refused
from qa.store.dense import DenseIndex
from qa.store.watcher import FolderWatcher
from qa.store.writer_lock import WriterLock
from tests.qa.store.conftest import stored


def article(doc_id: str, words: int = 40) -> Article:
    text = f"Harbour report {doc_id}\n" + " ".join(
        f"The council met to discuss item {i} of the {doc_id} port budget." for i in range(words)
    )
    return Article(doc_id=doc_id, title=f"Harbour {doc_id}", text=text)


def cap_pages(engine: QAEngine, extra: int) -> None:
    """SQLite's own "database or disk is full" after ``extra`` more pages, on this thread's
    connection (the one ``engine.add`` writes with here)."""
    conn = engine.store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + extra}")


def test_a_full_database_fails_the_write_whole_and_keeps_the_rest(engine: QAEngine) -> None:
    engine.add([article("kept")])
    cap_pages(engine, 1)
    with pytest.raises(StorageError) as raised:
        engine.add([article("refused", words=400)])
    # SQLite rolled the transaction back itself: the error reported is the full disk, not
    # "cannot rollback - no transaction is active"
    assert raised.value.full
    assert "disk is full" in str(raised.value) and "try again" in str(raised.value)
    assert stored(engine) == {"kept"}
    assert engine.live.problems() == []
    assert engine.ask("What did the council discuss about the kept port budget?", 1).answers
    cap_pages(engine, 10_000)  # space again: the same write goes through
    engine.add([article("refused", words=400)])
    assert stored(engine) == {"kept", "refused"}
    assert engine.live.problems() == []


def test_disk_refusals_are_told_from_damage(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError) as not_a_db:
        sqlite3.connect(garbage).execute("PRAGMA user_version").fetchone()
    with pytest.raises(sqlite3.OperationalError) as cannot_open:
        sqlite3.connect(tmp_path / "no-such-folder" / "x.sqlite3")
    conn = sqlite3.connect(tmp_path / "full.sqlite3", isolation_level=None)
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,)] * 10)
    assert not disk_refused(not_a_db.value)
    assert disk_refused(cannot_open.value)
    assert disk_refused(full.value)


def test_a_snapshot_that_cannot_be_written_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(settings, HashingEmbedder())
    engine.add([article("a"), article("b")])

    def no_space(self: DenseIndex, folder: Path, seq: int) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(DenseIndex, "save", no_space)
    with caplog.at_level(logging.WARNING):
        engine.close()  # says so in a line, and still closes the store
    assert "dense snapshot was not written (No space left on device)" in caplog.text
    monkeypatch.undo()
    again = QAEngine.open(settings, HashingEmbedder())  # replays the change log
    try:
        assert stored(again) == {"a", "b"}
        assert again.live.problems() == []
    finally:
        again.close()


def test_a_failed_sync_is_tried_again_without_a_new_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher, "RETRY_SECONDS", 0.2)
    calls: list[float] = []

    def sync() -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise StorageError("disk full", full=True)

    folder = tmp_path / "corpus"
    folder.mkdir()
    w = FolderWatcher(folder, sync, settle=0.05).start()
    try:
        w.poke()
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # a sync that succeeded is not repeated
    finally:
        w.stop()
    assert len(calls) == 3, calls  # two retries, no event between them; none after success


def test_a_wait_for_this_process_own_write_is_not_reported(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path)
    said: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with lock.hold():
            holding.set()
            release.wait(5)

    t = threading.Thread(target=writer)
    t.start()
    holding.wait(5)
    threading.Timer(0.2, release.set).start()
    with lock.hold(on_wait=said.append):  # waits for the other thread, without a word
        pass
    t.join()
    assert said == []


@pytest.mark.skipif(not Path("/proc/sys/kernel").is_dir(), reason="needs Linux procfs")
def test_a_folder_where_the_lock_file_cannot_be_created_is_an_error_not_a_wait() -> None:
    """procfs refuses to create files (ENOENT), which filelock takes for another holder: `qa
    index --index-dir /proc/sys/kernel` said another process was writing and waited for ever."""
    done: list[BaseException] = []

    def take() -> None:
        try:
            with WriterLock(Path("/proc/sys/kernel")).hold(timeout=5):
                pass
        except BaseException as exc:  # handed to the test thread
            done.append(exc)

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    thread.join(10)
    assert len(done) == 1 and not isinstance(done[0], TimeoutError)
    assert str(done[0]) == "cannot create /proc/sys/kernel/writer.lock: No such file or directory"

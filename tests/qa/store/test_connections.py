"""One SQLite connection per thread, and none left behind by threads that have ended: a server's
thread pool retires idle threads and starts new ones all day long."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from qa.store.db import DB_FILE, Store


def open_handles(pid: int | str, path: Path) -> int:
    """File descriptors of process ``pid`` open on the database file itself."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd) == str(path)
        except OSError:  # closed while we looked
            continue
    return count


def read_in_new_threads(store: Store, n: int) -> None:
    """``n`` new threads each read, all at once (each needs its own connection), and end."""
    together = threading.Barrier(n)

    def read() -> None:
        with store.read() as conn:
            conn.execute("SELECT count(*) FROM articles").fetchone()
            together.wait(10)

    threads = [threading.Thread(target=read) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    path = (tmp_path / DB_FILE).resolve()
    store.last_seq()  # this thread's connection
    assert open_handles("self", path) == 1
    for _ in range(6):  # six generations of eight threads reading at once, as a pool turns over
        read_in_new_threads(store, 8)
    # Each new thread's connection closes those of the threads that have ended. SQLite keeps a
    # closed connection's file open for reuse while others are open, so the handles are bounded
    # by two generations; left open, the connections held 1 + 6 x 8 = 49.
    assert open_handles("self", path) <= 1 + 2 * 8
    assert len(store._connections) <= 1 + 8
    store.close()
    assert open_handles("self", path) == 0


def test_a_live_threads_connection_is_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.last_seq()
    ready, done = threading.Event(), threading.Event()
    seen: list[int] = []

    def hold() -> None:
        seen.append(store.last_seq())
        ready.set()
        done.wait(10)
        seen.append(store.last_seq())  # its connection must still work after others came

    t = threading.Thread(target=hold)
    t.start()
    ready.wait(10)
    read_in_new_threads(store, 4)
    done.set()
    t.join()
    assert seen == [0, 0]
    store.close()


def test_the_wal_file_shrinks_after_a_large_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: after a large write (a re-embedding) the WAL file kept its size for good."""
    from qa.store import db

    monkeypatch.setattr(db, "WAL_SIZE_LIMIT", 256 * 1024)
    store = db.Store.open(tmp_path / "index")
    with store.write() as w:
        w.set_meta({f"k{i}": "x" * 4000 for i in range(1000)})  # ~4 MB in one transaction
    wal = tmp_path / "index" / f"{db.DB_FILE}-wal"
    assert wal.stat().st_size > 1024 * 1024
    store._conn().execute("PRAGMA wal_checkpoint(PASSIVE)")
    with store.write() as w:  # the next writer starts the emptied log over, and truncates it
        w.set_meta({"small": 1})
    assert wal.stat().st_size <= 256 * 1024
    store.close()

"""The folder watcher at its edges: a folder that never goes quiet, changes no read would see, a
FIFO in the folder, and a corpus folder removed and made again with the old inode number. Real
watchdog (inotify) on a real folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qa.engine import QAEngine
from qa.store.sync import sync_folder
from qa.store.watcher import FolderWatcher
from tests.conftest import write_corpus
from tests.qa.store.conftest import stored
from tests.qa.store.test_watcher import FIRST, eventually, synced_and_watched

ARTICLE = "Harbour reopens\nThe harbour at Porto Vale reopened on Monday, {n} days late.\n"


class Clock:
    """A sync that only notes when it ran."""

    def __init__(self) -> None:
        self.runs: list[float] = []

    def __call__(self) -> None:
        self.runs.append(time.monotonic())


def keep_writing(
    write: Callable[[int], object], every: float, stop: threading.Event
) -> threading.Thread:
    def run() -> None:
        k = 0
        while not stop.is_set():
            write(k)
            k += 1
            time.sleep(every)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_folder_that_never_goes_quiet_is_still_synced(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    clock = Clock()
    watcher = FolderWatcher(corpus, clock).start()  # settle 0.3 s, at most 2 s late
    stop = threading.Event()
    try:
        start = time.monotonic()
        # a crawler dropping an article every 0.1 s: the folder is never quiet for 0.3 s
        crawler = keep_writing(
            lambda k: (corpus / f"crawl{k}.txt").write_text(ARTICLE.format(n=k)), 0.1, stop
        )
        assert eventually(lambda: len(clock.runs) >= 2, seconds=8.0), clock.runs
        assert clock.runs[0] - start < 3.0  # 2 s after the first change, and some slack
        assert clock.runs[1] - clock.runs[0] < 3.0  # and again while the crawl goes on
    finally:
        stop.set()
        watcher.stop()
    crawler.join()


def test_changes_no_read_would_see_start_no_sync(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    (corpus / ".git").mkdir()
    clock = Clock()
    watcher = FolderWatcher(corpus, clock, settle=0.1).start()
    stop = threading.Event()
    try:
        time.sleep(0.3)

        def churn(k: int) -> None:  # a tool's state file, editor leftovers, a hidden folder
            for name in (".crawler.state", "quake.txt~", "#quake.txt#", "4913", ".git/index"):
                (corpus / name).write_text(str(k))
            (corpus / "4913").unlink()

        writer = keep_writing(churn, 0.05, stop)
        time.sleep(2.5)  # longer than the longest delay: any counted change would have synced
        stop.set()
        writer.join()
        time.sleep(0.5)
        assert clock.runs == []
        (corpus / "quake.meta.json").write_text('{"source": "BBC News"}')  # a sidecar counts
        assert eventually(lambda: len(clock.runs) == 1, seconds=5.0)
    finally:
        stop.set()
        watcher.stop()


def test_a_fifo_in_the_folder_holds_up_nothing(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    os.mkfifo(corpus / "pipe.txt")
    watcher = FolderWatcher(corpus, lambda: sync_folder(engine, corpus), settle=0.1).start()
    try:
        watcher.poke()
        assert eventually(lambda: stored(engine) == {"quake", "harvest"}), stored(engine)
        (corpus / "bridge.txt").write_text("Bridge reopens\nThe stone bridge reopened on Friday.\n")
        assert eventually(lambda: "bridge" in stored(engine)), stored(engine)
    finally:
        # a sync stuck on the FIFO (the bug) sees its end, so the test can finish
        with contextlib.suppress(OSError):
            os.close(os.open(corpus / "pipe.txt", os.O_WRONLY | os.O_NONBLOCK))
        watcher.stop()


def test_a_folder_made_again_with_the_old_inode_number_is_watched(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    watcher = synced_and_watched(engine, corpus)
    try:
        for _ in range(30):
            before = os.stat(corpus).st_ino
            shutil.rmtree(corpus)  # rm -rf corpus && mkdir corpus
            corpus.mkdir()
            if os.stat(corpus).st_ino == before:
                break
            time.sleep(1.0)  # another number: the path check follows it; try again
        else:
            pytest.skip("this file system gave the new folder another inode number every time")
        time.sleep(1.0)  # the watcher has looked at the path by now
        (corpus / "bridge.txt").write_text("Bridge reopens\nThe stone bridge reopened on Friday.\n")
        assert eventually(lambda: stored(engine) == {"bridge"}), stored(engine)
    finally:
        watcher.stop()


def test_stop_waits_for_a_sync_in_progress_however_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: stop() gave up after 30 s and the store was closed under the sync still writing (a
    drop of 800 files under `qa serve`: 747 of 1,099 articles stored when it was closed, and
    still climbing)."""
    from qa.store import watcher as watcher_module

    monkeypatch.setattr(watcher_module, "STOP_NOTICE_SECONDS", 0.1)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    started, finished = threading.Event(), threading.Event()

    def slow_sync() -> None:
        started.set()
        time.sleep(1.0)
        finished.set()

    watcher = FolderWatcher(corpus, slow_sync, settle=0.05).start()
    watcher.poke()
    assert started.wait(10)
    watcher.stop()
    assert finished.is_set()

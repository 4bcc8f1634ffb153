"""The corpus folder's path is what is watched: a folder removed, or swapped for another, keeps
its articles while missing and is followed when one stands at the path again. Real watchdog
(inotify), real store."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.errors import SyncStopped
from qa.service import Service
from qa.store.sync import sync_folder
from qa.store.watcher import FolderWatcher
from tests.conftest import write_corpus
from tests.qa.store.conftest import stored

FIRST = {
    "quake.txt": "Earthquake shakes coastal town\nA quake of magnitude 5 shook Porto Vale.\n",
    "harvest.txt": "Record grape harvest\nVineyards in the valley picked a record crop.\n",
}
SECOND = {
    "quake.txt": FIRST["quake.txt"],
    "ferry.txt": "Ferry strike ends\nFerry crews returned to work on Monday.\n",
}


def eventually(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def synced_and_watched(engine: QAEngine, corpus: Path) -> FolderWatcher:
    """``corpus`` synced into ``engine``, then watched (syncs 0.1 s after the folder goes
    quiet); the caller stops the watcher."""
    sync_folder(engine, corpus)
    return FolderWatcher(corpus, lambda: sync_folder(engine, corpus), settle=0.1).start()


def test_a_missing_folder_deletes_nothing(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    sync_folder(engine, corpus)
    shutil.rmtree(corpus)
    report = sync_folder(engine, corpus)
    assert report.missing and not report.deleted
    assert stored(engine) == {"quake", "harvest"}
    corpus.mkdir()  # an empty folder that exists is taken at its word
    assert sync_folder(engine, corpus).deleted == ["harvest", "quake"]
    assert stored(engine) == set()


def test_a_swapped_folder_is_followed(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    watcher = synced_and_watched(engine, corpus)
    try:
        fresh = write_corpus(tmp_path / "corpus.new", SECOND)
        corpus.rename(tmp_path / "corpus.old")  # mv corpus corpus.old && mv corpus.new corpus
        fresh.rename(corpus)
        assert eventually(lambda: stored(engine) == {"quake", "ferry"}), stored(engine)
        # and the new folder is watched: a file dropped into it arrives
        (corpus / "bridge.txt").write_text("Bridge reopens\nThe stone bridge reopened on Friday.\n")
        assert eventually(lambda: "bridge" in stored(engine)), stored(engine)
        # the old folder, renamed away, is not: a change there is not the corpus's
        (tmp_path / "corpus.old" / "old.txt").write_text("Old news\nNothing to see here.\n")
        time.sleep(1.0)
        assert "old" not in stored(engine)
    finally:
        watcher.stop()


def test_a_removed_folder_keeps_its_articles_until_it_is_back(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    watcher = synced_and_watched(engine, corpus)
    try:
        synced = watcher.syncs
        shutil.rmtree(corpus)
        assert eventually(lambda: watcher.syncs > synced)  # it synced, and kept them
        assert stored(engine) == {"quake", "harvest"}
        write_corpus(corpus, SECOND)
        assert eventually(lambda: stored(engine) == {"quake", "ferry"}), stored(engine)
    finally:
        watcher.stop()


def test_a_server_started_before_its_folder_exists_picks_it_up(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    service = Service(engine, corpus, watch=True).start()
    try:
        assert stored(engine) == set()
        write_corpus(corpus, FIRST)
        assert eventually(lambda: stored(engine) == {"quake", "harvest"}), stored(engine)
    finally:
        service.stop()


def test_a_store_synced_from_another_folder_syncs_the_new_one_before_answering(
    engine: QAEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: a server started on another folder than the store's (the Docker image's baked
    seeds, QA_CORPUS=/data) said healthy and answered from the old folder's articles while
    the new one was read in the background (46 s for 500 articles), without a word."""
    seeds = write_corpus(tmp_path / "seeds", FIRST)
    sync_folder(engine, seeds)
    assert engine.store.synced_elsewhere(seeds) is None
    mine = write_corpus(tmp_path / "seeds2", SECOND)  # a name that starts as the other's does
    assert engine.store.synced_elsewhere(mine) == str(seeds.resolve())
    caplog.set_level(logging.INFO, logger="qa.service")
    service = Service(engine, mine, watch=False).start()
    try:
        assert stored(engine) == {"quake", "ferry"}  # when start returns, before any answer
        assert f"was synced from another folder ({seeds.resolve()})" in caplog.text
        assert engine.store.synced_elsewhere(mine) is None
    finally:
        service.stop()


def test_an_empty_corpus_folder_deletes_its_articles_with_a_warning(
    engine: QAEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    sync_folder(engine, corpus)
    for f in corpus.iterdir():
        f.unlink()
    assert sorted(sync_folder(engine, corpus).deleted) == ["harvest", "quake"]
    assert "holds no article files: the 2 articles read from files before are deleted" in (
        caplog.text
    )


class _SlowEmbedder(HashingEmbedder):
    """0.2 s a call: a sync of many articles takes a while."""

    def embed(self, texts, *, progress=False):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        return super().embed(texts, progress=progress)


def test_stopping_cuts_a_long_folder_sync_short_and_the_next_start_finishes_it(
    tmp_path: Path,
) -> None:
    """Was: stopping waited for the whole sync (49 s for 500 articles, past docker stop's 10 s
    before its SIGKILL). It stops at the next batch; the files stay pending, and the next start
    reads them again."""
    from qa.config import Settings
    from qa.engine import WRITE_BATCH

    corpus = write_corpus(tmp_path / "corpus", FIRST)
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index", watch=True)
    engine = QAEngine.open(settings, _SlowEmbedder())
    sync_folder(engine, corpus)  # not empty: a server syncs it in the background
    n = WRITE_BATCH * 16
    write_corpus(
        corpus, {f"a{i}.txt": f"Article {i}\nBody of article {i} here.\n" for i in range(n)}
    )
    service = Service(engine, corpus, watch=True).start()
    assert eventually(lambda: len(stored(engine)) > WRITE_BATCH, 60), len(stored(engine))
    service.stop()  # a batch at most after this
    engine = QAEngine.open(settings, HashingEmbedder())
    try:
        assert WRITE_BATCH < len(stored(engine)) < n + 2  # stopped part way
        service = Service(engine, corpus, watch=True).start()
        try:  # the files left pending are read again
            assert eventually(lambda: len(stored(engine)) == n + 2, 60), len(stored(engine))
        finally:
            service.stop()
    finally:
        engine.close()


def test_synced_elsewhere_is_any_recorded_file_outside_the_folder(
    engine: QAEngine, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    inside = [root / "a.txt", root / "sub" / "b.txt"]
    with engine.store.write() as w:
        for p in inside:
            w.set_file(str(p), "stamp", [])
    assert engine.store.synced_elsewhere(root) is None
    outside = ["data2/x.txt", "dat/x.txt", "data-x.txt", "a.txt", "dataé/x.txt", "data0/x.txt"]
    for name in outside:  # names that sort before, between and after the folder's own
        path = tmp_path / name
        with engine.store.write() as w:
            w.set_file(str(path), "stamp", [])
        assert engine.store.synced_elsewhere(root) == str(path.parent), name
        with engine.store.write() as w:
            w.forget_file(str(path))
    # a one-file corpus (a .jsonl feed): the folder's other files are elsewhere
    assert engine.store.synced_elsewhere(root / "a.txt") == str(root / "sub")


def test_a_switch_to_another_folder_cut_short_is_finished_before_answering(
    engine: QAEngine, tmp_path: Path
) -> None:
    """Was: a first sync of the new folder stopped half-way (SIGTERM, kill -9) had recorded
    its files, so the next start took the store for the new folder's and answered from the
    old folder's articles again while syncing in the background."""
    seeds = write_corpus(tmp_path / "seeds", FIRST)
    sync_folder(engine, seeds)
    data = write_corpus(tmp_path / "data", SECOND)
    stop = threading.Event()
    stop.set()  # the sync has recorded its files as pending, and stops before writing
    with pytest.raises(SyncStopped):
        sync_folder(engine, data, stop=stop)
    assert stored(engine) == {"quake", "harvest"}
    assert engine.store.synced_elsewhere(data) == str(seeds.resolve())
    service = Service(engine, data, watch=False).start()
    try:
        assert stored(engine) == {"quake", "ferry"}
    finally:
        service.stop()


def test_an_engine_serves_a_second_service_after_the_first_stopped(
    engine: QAEngine, tmp_path: Path
) -> None:
    """Was: stopping set a flag on the engine that nothing cleared, so every later folder sync
    on it stopped at once (SyncStopped) and a second app on it could not start."""
    corpus = write_corpus(tmp_path / "corpus", FIRST)
    Service(engine, corpus, watch=True).start().stop()
    (corpus / "ferry.txt").write_text(SECOND["ferry.txt"])
    service = Service(engine, corpus, watch=True).start()
    try:
        assert eventually(lambda: "ferry" in stored(engine)), stored(engine)
        assert sync_folder(engine, corpus).added == []
    finally:
        service.stop()

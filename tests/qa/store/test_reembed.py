"""A store built under other settings is re-embedded once, whole, and under the writer lock."""

import threading
from pathlib import Path

import pytest

from qa import engine as engine_module
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.errors import IndexStateError
from qa.store.writer_lock import WriterLock
from tests.conftest import open_synced, write_corpus

ARTICLES = {
    f"story-{i}.txt": f"Story {i} headline\n\n"
    + " ".join(f"Sentence {j} of story {i} tells of event {i * 10 + j}." for j in range(7))
    + "\n"
    for i in range(6)
}


def _settings(tmp_path: Path, sentences: int, overlap: int) -> Settings:
    return Settings(
        corpus=write_corpus(tmp_path / "corpus", ARTICLES),
        index_dir=tmp_path / "index",
        passage_sentences=sentences,
        passage_overlap=overlap,
        watch=False,
    )


def _passages_as_built_fresh(tmp_path: Path, sentences: int, overlap: int) -> int:
    settings = _settings(tmp_path, sentences, overlap)
    fresh = open_synced(
        settings.model_copy(update={"index_dir": tmp_path / "fresh"}), HashingEmbedder()
    )
    try:
        return fresh.counts()[1]
    finally:
        fresh.close()


def test_other_chunking_is_re_embedded_once(tmp_path: Path) -> None:
    open_synced(_settings(tmp_path, 3, 1), HashingEmbedder()).close()
    with pytest.raises(IndexStateError, match=r"built with other chunking\): run `qa index`"):
        QAEngine.open(_settings(tmp_path, 1, 0), HashingEmbedder())
    engine = QAEngine.open(_settings(tmp_path, 1, 0), HashingEmbedder(), rebuild=True)
    try:
        assert engine.counts() == (6, _passages_as_built_fresh(tmp_path, 1, 0))
        assert "reembedding" not in engine.store.meta()
    finally:
        engine.close()
    QAEngine.open(_settings(tmp_path, 1, 0), HashingEmbedder()).close()  # no error: done


def test_an_interrupted_re_embedding_is_resumed_at_the_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new settings were written only after the last batch: a run killed half-way left a
    store cut half by each chunking, which the next open, under the old settings, took as up
    to date for good."""
    open_synced(_settings(tmp_path, 3, 1), HashingEmbedder()).close()
    before = _passages_as_built_fresh(tmp_path, 3, 1)
    monkeypatch.setattr(engine_module, "WRITE_BATCH", 2)
    stored = QAEngine._store_batch
    batches = []

    def dies_after_two(self: QAEngine, *args: object, **kwargs: object) -> None:
        if len(batches) == 2:
            raise KeyboardInterrupt  # as a kill would stop it
        batches.append(1)
        stored(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(QAEngine, "_store_batch", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        QAEngine.open(_settings(tmp_path, 1, 0), HashingEmbedder(), rebuild=True)
    monkeypatch.setattr(QAEngine, "_store_batch", stored)
    # back to the settings the store was first built with: its meta says them, its passages not
    with pytest.raises(IndexStateError, match="re-embedding of its articles was interrupted"):
        QAEngine.open(_settings(tmp_path, 3, 1), HashingEmbedder())
    engine = QAEngine.open(_settings(tmp_path, 3, 1), HashingEmbedder(), rebuild=True)
    try:
        assert engine.counts() == (6, before)
        assert "reembedding" not in engine.store.meta()
    finally:
        engine.close()


def test_re_embedding_waits_for_the_writer_lock(tmp_path: Path) -> None:
    """`qa ask` and a server's start re-embedded without the lock: an HTTP delete committed by
    a running server between two batches was undone by the batch that still held the article."""
    open_synced(_settings(tmp_path, 3, 1), HashingEmbedder()).close()
    held, release = threading.Event(), threading.Event()

    def writer() -> None:  # another writer (the lock is per thread within a process)
        with WriterLock(tmp_path / "index").hold():
            held.set()
            release.wait(10)

    other = threading.Thread(target=writer)
    other.start()
    assert held.wait(10)
    opened: list[QAEngine] = []
    opener = threading.Thread(
        target=lambda: opened.append(
            QAEngine.open(_settings(tmp_path, 1, 0), HashingEmbedder(), rebuild=True)
        )
    )
    opener.start()
    opener.join(1.0)
    try:
        assert opener.is_alive() and not opened  # waiting for the lock, nothing re-cut yet
    finally:
        release.set()
        other.join()
        opener.join(30)
    (engine,) = opened
    try:
        assert engine.counts() == (6, _passages_as_built_fresh(tmp_path, 1, 0))
    finally:
        engine.close()

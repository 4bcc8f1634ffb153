"""A corpus file waiting for an id held by an article written directly: ``Store.freed_waits``
tells when that article is gone, and the server asks for one sync per freed id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from qa.engine import QAEngine
from qa.records import Article
from qa.service import Service
from qa.store.sync import sync_folder


class CountingWatcher:
    def __init__(self) -> None:
        self.pokes = 0

    def poke(self) -> None:
        self.pokes += 1


def test_a_freed_id_is_synced_for_once(engine: QAEngine, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    engine.add([Article(doc_id="ferry", title="Ferry", text="The brindlemoss ferry sails.")])
    (corpus / "ferry.txt").write_text("Ferry\nThe pebblequartz ferry runs on seawater.\n")
    (corpus / "pier.txt").write_text("Pier\nThe pier reopened on Friday after repairs.\n")
    sync_folder(engine, corpus)
    assert engine.store.files_waiting() and engine.store.freed_waits() == []

    service = Service(engine, corpus, watch=False)
    watcher = CountingWatcher()
    service.watcher = watcher  # type: ignore[assignment]
    service.deleted_directly()
    assert watcher.pokes == 0  # the id is still held: a sync would only warn again

    engine.delete(["pier"])  # an unrelated delete frees nothing
    service.deleted_directly()
    assert watcher.pokes == 0

    engine.delete(["ferry"])
    assert engine.store.freed_waits() == ["ferry"]
    service.deleted_directly()
    service.deleted_directly()  # asked again before the sync ran: no second sync
    assert watcher.pokes == 1

    sync_folder(engine, corpus)
    assert "pebblequartz" in engine.document("ferry").text
    assert not engine.store.files_waiting() and engine.store.freed_waits() == []


def test_a_sync_that_only_skips_files_logs_its_summary(
    engine: QAEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: a watched folder whose only change was a bad file logged the warning alone, with no
    "synced ... 1 skipped" line as every other sync has."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pier.txt").write_text("Pier reopens\n\nThe pier reopened on Monday.", "utf-8")
    service = Service(engine, corpus, watch=False)
    with caplog.at_level(logging.INFO, logger="qa.service"):
        service.sync()
        (corpus / "bad.txt").write_bytes(b"caf\xe9 closed\n")
        report = service.sync()
    assert report is not None and not report.changed and len(report.skipped) == 1
    summaries = [r.getMessage() for r in caplog.records if r.name == "qa.service"]
    assert summaries == [
        f"synced {corpus}: 1 added, 0 replaced, 0 deleted, 0 unchanged, 0 skipped",
        f"synced {corpus}: 0 added, 0 replaced, 0 deleted, 0 unchanged, 1 skipped",
    ]

"""An unmounted disk leaves its mount point behind as an empty folder: the folder sync must not
take that as "every article was deleted"."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.store import sync
from qa.store.sync import sync_folder
from tests.conftest import write_corpus
from tests.qa.store.conftest import stored
from tests.tmpfs import mount_tmpfs, tmpfs_at

FILES = {
    "quake.txt": "Earthquake shakes coastal town\nA quake of magnitude 5 shook Porto Vale at dawn.\n",
    "harvest.txt": "Record grape harvest\nVineyards in the valley picked a record crop this year.\n",
}


def on_device(monkeypatch: pytest.MonkeyPatch, device: int) -> None:
    """Make every folder look as if it were on ``device``."""
    monkeypatch.setattr(sync, "_disk", lambda root: {"path": str(root), "device": device})


def synced_on_device_7(engine: QAEngine, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``folder`` holding FILES, synced while it looked to be on device 7."""
    corpus = write_corpus(folder, FILES)
    on_device(monkeypatch, 7)
    sync_folder(engine, corpus)
    return corpus


def test_an_empty_folder_on_another_disk_deletes_nothing(
    engine: QAEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    corpus = synced_on_device_7(engine, tmp_path / "corpus", monkeypatch)
    for name in FILES:
        (corpus / name).unlink()
    (corpus / "left-under-the-mount.txt").write_text("Old file\nSomething that was under it.\n")
    on_device(monkeypatch, 8)  # the disk is gone: the folder is its parent's now
    with caplog.at_level(logging.WARNING, logger="qa.store.sync"):
        report = sync_folder(engine, corpus)
    assert stored(engine) == {"quake", "harvest"}
    assert not report.changed
    assert report.other_disk is not None and "device 7, now 8" in report.other_disk
    assert "qa index --force" in caplog.text
    assert set(engine.store.files()) == {str((corpus / n).resolve()) for n in FILES}
    # taken at its word when asked to
    report = sync_folder(engine, corpus, other_disk_ok=True)
    assert report.other_disk is None
    assert stored(engine) == {"left-under-the-mount"}
    assert sorted(report.deleted) == ["harvest", "quake"]


def test_an_empty_folder_on_the_same_disk_is_taken_at_its_word(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = synced_on_device_7(engine, tmp_path / "corpus", monkeypatch)
    for name in FILES:
        (corpus / name).unlink()
    report = sync_folder(engine, corpus)
    assert report.other_disk is None
    assert sorted(report.deleted) == ["harvest", "quake"]
    assert stored(engine) == set()


def test_files_that_moved_disk_with_their_folder_are_synced(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = synced_on_device_7(engine, tmp_path / "corpus", monkeypatch)
    (corpus / "harvest.txt").unlink()  # copied to a new disk without this one
    on_device(monkeypatch, 9)
    report = sync_folder(engine, corpus)
    assert report.other_disk is None
    assert report.deleted == ["harvest"]
    assert stored(engine) == {"quake"}
    # the new device is recorded: an empty folder on it is taken at its word
    (corpus / "quake.txt").unlink()
    assert sync_folder(engine, corpus).deleted == ["quake"]


def test_another_folder_is_no_other_disk(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointing the store at another folder is a choice, as before: it is synced."""
    synced_on_device_7(engine, tmp_path / "first", monkeypatch)
    second = write_corpus(tmp_path / "second", {"bridge.txt": "Bridge reopens\nOld bridge.\n"})
    on_device(monkeypatch, 8)
    report = sync_folder(engine, second)
    assert report.other_disk is None
    assert stored(engine) == {"bridge"}


def test_the_recorded_disk_does_not_make_the_store_stale(tmp_path: Path) -> None:
    """The sync's meta is not what the vectors depend on: reopening without ``rebuild`` works."""
    settings = Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)
    corpus = write_corpus(settings.corpus, FILES)
    engine = QAEngine.open(settings, HashingEmbedder())
    sync_folder(engine, corpus)
    assert sync.CORPUS_DISK in engine.store.meta()
    engine.close()
    again = QAEngine.open(settings, HashingEmbedder(), rebuild=False)
    try:
        assert stored(again) == {"quake", "harvest"}
    finally:
        again.close()


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    with tmpfs_at(tmp_path / "corpus") as point:
        yield point


def test_a_real_unmounted_disk_deletes_nothing(engine: QAEngine, mount_point: Path) -> None:
    write_corpus(mount_point, FILES)
    sync_folder(engine, mount_point)
    assert stored(engine) == {"quake", "harvest"}
    subprocess.run(["umount", str(mount_point)], check=True)
    assert mount_point.is_dir() and not any(mount_point.iterdir())
    report = sync_folder(engine, mount_point)
    assert report.other_disk is not None
    assert stored(engine) == {"quake", "harvest"}
    # the disk is back (its files copied again: new stamps, same articles)
    mount_tmpfs(mount_point)
    write_corpus(mount_point, FILES)
    report = sync_folder(engine, mount_point)
    assert report.other_disk is None and not report.changed
    assert stored(engine) == {"quake", "harvest"}


def test_the_disk_is_recorded_once_not_at_every_sync(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write at every sync would wake a watcher whose index folder is inside the corpus."""
    from qa.store.db import Writer

    corpus = write_corpus(tmp_path / "corpus", FILES)
    sync_folder(engine, corpus)
    written: list[object] = []
    set_meta = Writer.set_meta

    def counted(self: Writer, values: dict[str, object]) -> None:
        written.append(values)
        set_meta(self, values)

    monkeypatch.setattr(Writer, "set_meta", counted)
    assert not sync_folder(engine, corpus).changed
    assert written == []

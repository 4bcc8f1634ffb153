"""A dense snapshot is used only if it is what was written, of this store's history: one damaged on
disk, one from a history the store has lost (an older copy of the store put back), or one without
its manifest is rebuilt from the stored vectors with a warning, never served. Temporary files of
writers that died are removed at the next open, those of live writers never.

Real FAISS snapshots and real SQLite stores, written through the engine with the hashing
embedder."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Article
from qa.store.dense import DenseIndex, IVFParams, load_snapshot, write_manifest
from qa.store.live import LiveIndex

ROOT = Path(__file__).resolve().parents[3]
LIVE = "qa.store.live"


def article(doc_id: str, topic: str) -> Article:
    text = (
        f"{topic.title()} report {doc_id}\n"
        f"The {topic} count {doc_id} was held on Monday. Volunteers counted the {topic} "
        f"numbers for {doc_id} at dawn. The {topic} census {doc_id} runs every spring."
    )
    return Article(doc_id=doc_id, title=f"{topic} {doc_id}", text=text)


def settings_for(tmp_path: Path) -> Settings:
    return Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)


def open_engine(settings: Settings) -> QAEngine:
    return QAEngine.open(settings, HashingEmbedder())


def snapshots(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("dense.*.faiss"))


def manifests(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("dense.*.json"))


def faithful(live: LiveIndex) -> bool:
    """Whether the dense index holds exactly the stored passages, each with its stored vector:
    every stored vector finds its own passage first."""
    ids = live.store.passage_ids()
    if not np.array_equal(live.dense.ids(), ids):
        return False
    vectors = live.store.passage_vectors(ids.tolist(), live.dense.dimension)
    for pid in ids.tolist():
        scores, found = live.dense.search(vectors[pid], 1)
        if found[0] != pid or scores[0] < 0.999:
            return False
    return True


def crash(engine: QAEngine) -> None:
    """Stop as ``kill -9`` would, after the store's commits and before the next snapshot."""
    engine.live.save = lambda **_: False  # type: ignore[method-assign]
    engine.close()


# -- damage on disk -------------------------------------------------------------------------------
def damage(snapshot: Path, region: str) -> None:
    """Random bytes over the vectors or the id map of a flat snapshot, in place: same length,
    and FAISS still reads it."""
    index = faiss.read_index(str(snapshot))
    nt, dim = index.ntotal, index.d
    raw = bytearray(snapshot.read_bytes())
    vec_end = len(raw) - nt * 8 - 8  # IndexIDMap: ..., vectors, id count, ids
    rng = np.random.default_rng(0)
    if region == "vectors":
        raw[vec_end - nt * dim * 4 : vec_end] = rng.normal(size=nt * dim).astype("f4").tobytes()
    else:
        raw[vec_end + 8 :] = rng.integers(10**6, 10**9, size=nt, dtype=np.int64).tobytes()
    snapshot.write_bytes(bytes(raw))
    assert faiss.read_index(str(snapshot)).ntotal == nt


@pytest.mark.parametrize("region", ["vectors", "ids"])
def test_a_damaged_snapshot_is_rebuilt_not_served(
    tmp_path: Path, region: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path)
    engine = open_engine(settings)
    engine.add([article(f"p{i}", "penguin") for i in range(6)])
    question = "How many penguins were counted at dawn for p3?"
    before = [h.passage.passage_id for h in engine.search(question, 5, mode="dense")]
    engine.close()
    (snapshot,) = settings.index_dir.glob("dense.*.faiss")
    damage(snapshot, region)

    with caplog.at_level(logging.WARNING, logger=LIVE):
        again = open_engine(settings)
    try:
        assert faithful(again.live)
        assert [h.passage.passage_id for h in again.search(question, 5, mode="dense")] == before
        (warning,) = [r.getMessage() for r in caplog.records]
        assert f"dense snapshot {snapshot.name} is unreadable (damaged: its sha256" in warning
        assert "repairing it from the stored vectors" in warning
    finally:
        again.close()
    assert snapshots(settings.index_dir) == [snapshot.name]
    assert load_snapshot(snapshot, again.live.dense.dimension)  # written again, whole


def three_penguins(tmp_path: Path) -> tuple[Settings, Path]:
    """A closed store of three articles, and its snapshot's manifest."""
    settings = settings_for(tmp_path)
    engine = open_engine(settings)
    engine.add([article(f"p{i}", "penguin") for i in range(3)])
    engine.close()
    (manifest,) = settings.index_dir.glob("dense.*.json")
    return settings, manifest


def test_a_snapshot_without_its_manifest_is_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One an older version wrote: nothing vouches for its bytes."""
    settings, manifest = three_penguins(tmp_path)
    manifest.unlink()
    with caplog.at_level(logging.INFO, logger=LIVE):
        again = open_engine(settings)
    try:
        assert again.live.saved_seq == -1  # rebuilt
        assert faithful(again.live)
    finally:
        again.close()
    assert f"{manifest.with_suffix('.faiss').name} has no manifest" in caplog.text
    assert manifest.exists()  # the rebuilt index's snapshot has one


def test_a_manifest_this_version_did_not_write_is_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, manifest = three_penguins(tmp_path)
    manifest.write_text('{"format": 1, "seq": "3", "size": 0}')
    with caplog.at_level(logging.WARNING, logger=LIVE):
        again = open_engine(settings)
    try:
        assert again.live.saved_seq == -1 and faithful(again.live)
    finally:
        again.close()
    assert f"its manifest {manifest.name} is not one of format 1" in caplog.text


def test_a_writer_killed_before_the_manifest_leaves_the_snapshot_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The manifest commits a snapshot: until it is written, the one before stays and is
    loaded (and caught up from the log), not a rebuild."""
    settings = settings_for(tmp_path)
    folder = settings.index_dir
    engine = open_engine(settings)
    engine.add([article(f"p{i}", "penguin") for i in range(3)])
    engine.close()
    (before,) = snapshots(folder)
    engine = open_engine(settings)
    engine.add([article("later", "zeppelin")])
    newer = engine.live.dense.save(folder, engine.live.seq)  # killed after this line
    crash(engine)
    assert snapshots(folder) == sorted([before, newer.name])
    assert manifests(folder) == [Path(before).with_suffix(".json").name]

    with caplog.at_level(logging.INFO, logger=LIVE):
        again = open_engine(settings)
    try:
        assert again.live.saved_seq == int(before.split(".")[1])  # loaded, then caught up
        assert faithful(again.live)
    finally:
        again.close()
    assert f"{newer.name} has no manifest" in caplog.text and f"loading {before}" in caplog.text
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert snapshots(folder) == [newer.name]  # written again, committed, and the older gone
    assert manifests(folder) == [newer.with_suffix(".json").name]


def test_a_checked_ivf_snapshot_round_trips_and_damage_is_found(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((600, 16)).astype(np.float32)
    ids = np.arange(10, 610, dtype=np.int64)
    index = DenseIndex.ivf(vectors, IVFParams(nlist=8, nprobe=3))
    index.add(ids, vectors)
    path = index.save(tmp_path, 4)
    manifest = write_manifest(path, 4, ntotal=index.ntotal, max_id=609)
    loaded, read = load_snapshot(path, 16)
    assert read == manifest and (read.seq, read.size) == (4, path.stat().st_size)
    assert loaded.kind == "ivf" and loaded.nprobe == 3
    assert np.array_equal(loaded.ids(), ids)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="damaged: its sha256 is not the one written"):
        load_snapshot(path, 16)


# -- a history the store has lost -----------------------------------------------------------------
def put_back(backup: Path, folder: Path) -> None:
    """Replace the store with an older copy of it (the snapshots stay)."""
    for path in folder.glob("store.sqlite3*"):
        path.unlink()
    for path in backup.iterdir():
        shutil.copy2(path, folder / path.name)


def lost_history(tmp_path: Path) -> tuple[Settings, int, int]:
    """A store whose snapshot ``dense.<lost>.faiss`` holds zeppelin passages that the store,
    put back from a copy taken at change ``kept``, no longer has."""
    settings = settings_for(tmp_path)
    folder, backup = settings.index_dir, tmp_path / "backup"
    engine = open_engine(settings)
    engine.add([article(f"base{i}", "harbour") for i in range(3)])
    engine.close()
    backup.mkdir()
    for path in folder.glob("store.sqlite3*"):
        shutil.copy2(path, backup / path.name)
    kept = engine.store.last_seq()
    engine = open_engine(settings)
    engine.add([article(f"zep{i}", "zeppelin") for i in range(4)])
    engine.close()
    lost = engine.store.last_seq()
    assert snapshots(folder) == [f"dense.{lost}.faiss"]
    put_back(backup, folder)
    return settings, kept, lost


def test_a_store_behind_its_snapshot_says_it_lost_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, kept, lost = lost_history(tmp_path)
    with caplog.at_level(logging.WARNING, logger=LIVE):
        engine = open_engine(settings)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert (
        f"dense snapshot dense.{lost}.faiss holds the store's changes up to {lost}, but the "
        f"store's last change is {kept}: the store lost committed changes after change {kept}"
    ) in warning
    engine.add([article("new0", "penguin")])  # not as far as the lost snapshot
    engine.close()
    # the rebuilt index's first snapshot removes the one of the lost history, newer as it is
    seq = engine.store.last_seq()
    assert seq < lost
    assert snapshots(settings.index_dir) == [f"dense.{seq}.faiss"]
    assert manifests(settings.index_dir) == [f"dense.{seq}.json"]


def test_a_snapshot_of_a_lost_history_is_never_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The store, put back, hands out the lost passages' ids again and passes the snapshot's
    change number before it is snapshotted: the old snapshot's count matches, its vectors not."""
    settings, _, lost = lost_history(tmp_path)
    engine = open_engine(settings)
    engine.add([article(f"new{i}", "penguin") for i in range(12)])
    assert engine.store.last_seq() > lost
    crash(engine)
    assert f"dense.{lost}.faiss" in snapshots(settings.index_dir)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LIVE):
        again = open_engine(settings)
    try:
        assert faithful(again.live)
        (warning,) = [r.getMessage() for r in caplog.records]
        assert f"dense snapshot dense.{lost}.faiss is not of this store's history" in warning
        assert "the store was put back from an older copy and written since" in warning
    finally:
        again.close()
    seq = again.store.last_seq()
    assert snapshots(settings.index_dir) == [f"dense.{seq}.faiss"]
    assert manifests(settings.index_dir) == [f"dense.{seq}.json"]


def test_a_snapshot_of_the_same_history_is_loaded_and_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The checks cost no rebuild when nothing is wrong: writes after the snapshot (and a
    delete of its newest passages) are replayed onto it."""
    settings = settings_for(tmp_path)
    engine = open_engine(settings)
    engine.add([article(f"p{i}", "penguin") for i in range(4)])
    engine.close()
    engine = open_engine(settings)
    engine.delete(["p3"])
    engine.add([article("later", "zeppelin")])
    crash(engine)
    with caplog.at_level(logging.WARNING, logger=LIVE):
        again = open_engine(settings)
    try:
        assert caplog.records == []
        assert again.live.saved_seq >= 0  # loaded, not rebuilt
        assert faithful(again.live)
    finally:
        again.close()


# -- temporary files ------------------------------------------------------------------------------
WRITER = """
import os, sys, time
from pathlib import Path
import numpy as np
from qa.store.dense import DenseIndex
index = DenseIndex.exact(8)
index.add(np.arange(3), np.eye(3, 8, dtype=np.float32))
os.fsync = lambda fd: time.sleep(600)  # a slow disk: the temporary file written, not renamed
index.save(Path(sys.argv[1]), 99)
"""


def test_temporary_files_of_dead_writers_are_removed_at_open_live_ones_kept(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    folder = settings.index_dir
    open_engine(settings).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while not [p for p in folder.glob(".dense-*.tmp") if p.stat().st_size]:
            assert writer.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        (temp,) = folder.glob(".dense-*.tmp")
        open_engine(settings).close()  # a process sharing the folder with a live writer
        assert temp.exists()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    open_engine(settings).close()
    assert not list(folder.glob(".dense-*.tmp"))

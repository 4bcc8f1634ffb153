"""Keeping the store in step with a folder of article files.

Each file's stamp (size and modification time, with its sidecar's) is kept in the ``files`` table
with the ids it produced. A sync reads only files whose stamp changed, writes only articles whose
content hash changed (so nothing unchanged is embedded again), and deletes the articles of files
that are gone or no longer hold them. Articles written through the API are never touched. A file
is marked pending before its articles are written, so a sync killed half-way leaves no article
that a later sync cannot trace to its file. A folder that is not there deletes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.ingest.corpus import Skipped, article_files, keep_first, read_file, sidecar_path
from qa.records import Article
from qa.store.writer_lock import WriterLock

if TYPE_CHECKING:
    from qa.engine import QAEngine

__all__ = ["SyncReport", "sync_folder"]

log = logging.getLogger(__name__)

PENDING = "pending"
"""the stamp of a file whose articles are being written: never a real stamp, so read again"""


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    files_read: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    missing: bool = False
    """the folder was not there: nothing was read or deleted"""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.deleted)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.deleted)} deleted, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped"
        )


def _stamp(path: Path) -> str:
    st = path.stat()
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        sc = sidecar.stat()
        stamp += f"+{sc.st_size}:{sc.st_mtime_ns}"
    return stamp


def sync_folder(
    engine: QAEngine, root: Path, *, force: bool = False, progress: bool = False
) -> SyncReport:
    """Bring the store in line with the files under ``root``; returns what changed. One sync at
    a time per index folder, across processes (a second one waits: qa/store/writer_lock.py)."""
    with WriterLock(engine.store.folder).hold(on_wait=log.warning):
        return _sync_folder(engine, root, force=force, progress=progress)


def _sync_folder(engine: QAEngine, root: Path, *, force: bool, progress: bool) -> SyncReport:
    root = root.resolve()
    report = SyncReport()
    known = engine.store.files()
    if not root.exists():
        # A folder that is not there (renamed away mid-swap, an unmounted disk) is no instruction
        # to delete every article read from it: keep them until it is back. (An empty folder
        # that exists is taken at its word.)
        if known:
            log.warning(
                "corpus %s is missing: its articles stay as they are until it is back "
                "(`qa delete` removes articles for good)",
                root,
            )
        report.missing = True
        return report
    current: dict[str, tuple[str, list[str]]] = {}
    to_write: list[Article] = []
    base = root if root.is_dir() else None
    if base is None:
        paths = [root]
    else:
        paths, report.skipped = article_files(root)
    seen: dict[str, str] = {}  # id -> origin among the files read: one id in two, the first wins
    read_now: list[str] = []
    for path in paths:
        key = str(path)
        try:
            stamp = _stamp(path)
        except OSError:
            continue  # vanished while we walked: the next sync sees it gone
        before = known.get(key)
        if not force and before is not None and before[0] == stamp:
            current[key] = before
            continue
        read = keep_first(read_file(path, base), seen)
        read_now.append(key)
        report.files_read += 1
        report.skipped += read.skipped
        to_write += read.articles
        current[key] = (stamp, [a.doc_id for a in read.articles])
    claimed = {doc_id for _, ids in current.values() for doc_id in ids}
    gone = sorted({d for _, ids in known.values() for d in ids} - claimed)
    if to_write:
        # Before its articles are written, each file read is recorded as pending, with the ids it
        # had and the ids it has now. A sync killed after writing some of them reads the file again
        # next time (no stamp matches PENDING); if the file is gone by then, or holds other ids,
        # those articles are the ids it no longer claims, and are deleted as any file's would be.
        with engine.store.write() as w:
            for key in read_now:
                had = known[key][1] if key in known else []
                w.set_file(key, PENDING, sorted({*had, *current[key][1]}))
        written = engine.add(to_write, replace=True, progress=progress)
        report.added, report.replaced = written.added, written.replaced
        report.unchanged = len(written.unchanged)
    if gone:
        report.deleted = engine.delete(gone, missing_ok=True).deleted
    with engine.store.write() as w:
        for key, (stamp, doc_ids) in current.items():
            if known.get(key) != (stamp, doc_ids):
                w.set_file(key, stamp, doc_ids)
        for key in known.keys() - current.keys():
            w.forget_file(key)
    return report  # reading has logged each skipped file with its reason

"""Keeping the store in step with a folder of article files.

Each file's stamp (size and modification time, with its sidecar's) is kept in the ``files`` table
with the ids it produced. A sync reads only files whose stamp changed, writes only articles whose
content hash changed (so nothing unchanged is embedded again), and deletes the articles of files
that are gone or no longer hold them. Articles written through the API are never touched. A file
is marked pending before its articles are written, so a sync killed half-way leaves no article
that a later sync cannot trace to its file. A folder that is not there deletes nothing.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import CorpusError
from qa.ingest.corpus import (
    Skipped,
    article_files,
    article_hash,
    check_corpus_root,
    read_file,
    sidecar_path,
    skip,
    skip_article,
)
from qa.records import Article
from qa.store.db import waiting_of, waiting_stamp
from qa.store.writer_lock import WriterLock

if TYPE_CHECKING:
    from qa.engine import QAEngine

__all__ = ["SyncReport", "sync_folder"]

log = logging.getLogger(__name__)


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
    other_disk: str | None = None
    """why nothing was read or deleted: the folder is on another disk than when it was synced and
    holds none of its files (an unmounted disk); None when the sync ran"""

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
    engine: QAEngine,
    root: Path,
    *,
    force: bool = False,
    progress: bool = False,
    other_disk_ok: bool = False,
    stop: threading.Event | None = None,
) -> SyncReport:
    """Bring the store in line with the files under ``root``; returns what changed. One sync at
    a time per index folder, across processes (a second one waits: qa/store/writer_lock.py).

    ``other_disk_ok`` takes a folder now on another disk, holding none of the files synced
    before, at its word (``qa index --force``); otherwise it is left alone (``other_disk``).
    ``stop``, once set, ends the writing at its next batch (``SyncStopped``): the files read stay
    pending, and the next sync reads them again."""
    with WriterLock(engine.store.folder).hold(on_wait=log.warning):
        return _sync_folder(
            engine, root, force=force, progress=progress, other_disk_ok=other_disk_ok, stop=stop
        )


def _sync_folder(
    engine: QAEngine,
    root: Path,
    *,
    force: bool,
    progress: bool,
    other_disk_ok: bool,
    stop: threading.Event | None = None,
) -> SyncReport:
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
    try:
        str(root).encode("utf-8")
    except UnicodeEncodeError:  # a name of other bytes: no id or record could hold it
        raise CorpusError(f"{root!r}: its name is not valid UTF-8: rename it") from None
    # as `qa add` refuses them: a one-file "corpus" that is no article file, a FIFO or a device
    # (the folder swapped for one, or for a link to /dev/null) would otherwise claim nothing,
    # and every article of the folder read before would be deleted
    check_corpus_root(root)
    current: dict[str, tuple[str, list[str]]] = {}
    base = root if root.is_dir() else None
    if base is None:
        paths = [root]
    else:
        paths, report.skipped = article_files(root)
        disk, last_disk = _disk(root), engine.store.meta().get(CORPUS_DISK)
        if not other_disk_ok and (reason := _on_other_disk(root, disk, last_disk, known, paths)):
            log.warning("%s", reason)
            report.other_disk, report.skipped = reason, []
            return report
        if not paths and (held := sum(len(ids) for _, ids in known.values())):
            log.warning(  # an empty mount, say: taken at its word, but said
                "corpus %s holds no article files: the %d articles read from files before "
                "are deleted",
                root,
                held,
            )
    reads: dict[str, list[Article]] = {}  # the files read this time, by key, in path order
    stamps: dict[str, str] = {}
    # files gone since the last sync, by the articles they held: a new file holding the very
    # same articles is one of them renamed or moved, and what was deleted of it stays deleted
    present = {str(p) for p in paths}
    moved_from = {
        digest: record
        for key, record in known.items()
        if key not in present and (digest := _recorded_digest(record[0]))
    }
    for path in paths:
        key = str(path)
        try:
            stamp = _stamp(path)
        except OSError as exc:
            if path.is_symlink() and not path.exists():
                report.skipped.append(skip(_where(path, base), "a link to nothing"))
            elif exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                report.skipped.append(skip(_where(path, base), exc.strerror or str(exc)))
            continue  # else vanished while we walked: the next sync sees it gone
        before = known.get(key)
        if not force and before is not None and before[0].partition("#")[0] == stamp:
            current[key] = before
            continue
        read = read_file(path, base)  # one id twice in one file: the first kept (keep_first)
        if read.unreadable:
            # not readable now (permissions, an I/O error): its articles stay as they are, and
            # it is read again at the next sync (a new file is not recorded at all)
            report.skipped += read.skipped
            if before is not None:
                current[key] = before
            continue
        articles = read.articles
        # what it says, beside its size and time: a rewrite that kept both (cp -p, rsync -t,
        # touch -r) is a change all the same
        digest = _content_digest(articles)
        stamp = f"{stamp}#{digest}"
        # An unchanged file read again (forced, or waiting for ids another owner has), or one
        # renamed or moved unchanged: the articles of it deleted or written directly (HTTP,
        # `qa delete`) stay so until the file changes, as they do for the file that held them.
        if before is not None:
            same = before if _unchanged(before[0], stamp) else None
        else:
            same = moved_from.pop(digest, None)
        if same is not None:
            still = _claimed(same)
            articles = [a for a in articles if a.doc_id in still]
        reads[key], stamps[key] = articles, stamp
        report.files_read += 1
        report.skipped += read.skipped
    clashing = _one_owner_each(engine, base, paths, known, current, reads, report)
    to_write = [a for key in reads for a in reads[key]]
    for key in reads:
        # a file that lost an id to another owner is read again at every sync (and warned
        # about) until the clash is gone: then its article takes the id
        stamp = waiting_stamp(stamps[key], clashing[key]) if key in clashing else stamps[key]
        current[key] = (stamp, [a.doc_id for a in reads[key]])
    claimed = {doc_id for _, ids in current.values() for doc_id in ids}
    gone = sorted({d for _, ids in known.values() for d in ids} - claimed)
    if to_write:
        # Before its articles are written, each file read is recorded as pending, with the ids it
        # had and the ids it has now. A sync killed after writing some of them reads the file again
        # next time (a pending mark is never a stamp); if the file is gone by then, or holds other
        # ids, those articles are the ids it no longer claims, and are deleted as any file's would
        # be. The mark keeps the file's stamp (``waiting_stamp``): unchanged, the file writes
        # again only the ids it claims, so an article deleted directly (before the kill or after
        # it) stays deleted, as it does for a file that was never pending.
        with engine.store.write() as w:
            for key in reads:
                had = known[key][1] if key in known else []
                mark = waiting_stamp(stamps[key], clashing.get(key, []))
                w.set_file(key, mark, sorted({*had, *current[key][1]}))
        written = engine.add(to_write, replace=True, progress=progress, from_files=True, stop=stop)
        report.added, report.replaced = written.added, written.replaced
        report.unchanged = len(written.unchanged)
    if gone:
        report.deleted = engine.delete(gone, missing_ok=True, from_files=True).deleted
    with engine.store.write() as w:
        for key, (stamp, doc_ids) in current.items():
            # every file read is written back: its pending mark must go even if nothing changed
            if key in reads or known.get(key) != (stamp, doc_ids):
                w.set_file(key, stamp, doc_ids)
        for key in known.keys() - current.keys():
            w.forget_file(key)
        if base is not None and disk != last_disk:  # written once, not at every sync
            w.set_meta({CORPUS_DISK: disk})
    return report  # reading has logged each skipped file with its reason


def _one_owner_each(
    engine: QAEngine,
    base: Path | None,
    paths: list[Path],
    known: dict[str, tuple[str, list[str]]],
    current: dict[str, tuple[str, list[str]]],
    reads: dict[str, list[Article]],
    report: SyncReport,
) -> dict[str, list[str]]:
    """Give each id one owner, the same whichever files were read this time. ``reads`` and
    ``current`` (unchanged files) lose the ids they do not own; returns the files read that lost
    one, with the ids they lost.

    - Two files holding one id: the file that held it before keeps it, else the first in path
      order (as a first full read decides). The other is skipped with a warning.
    - An id written directly (HTTP, ``qa add``: stored, and held by no file) stays the writer's:
      a file holding it is skipped with a warning, unless it holds the very same article, which
      it then takes over (``qa add`` of a file that is also in the folder).
    """
    held_by = {doc_id: key for key, (_, ids) in known.items() for doc_id in ids}
    holders: dict[str, list[str]] = {}
    for path in paths:
        key = str(path)
        ids = [a.doc_id for a in reads[key]] if key in reads else current.get(key, ("", []))[1]
        for doc_id in ids:
            holders.setdefault(doc_id, []).append(key)
    owner = {d: held_by[d] if held_by.get(d) in keys else keys[0] for d, keys in holders.items()}
    stored = engine.store.content_hashes(
        [a.doc_id for articles in reads.values() for a in articles if a.doc_id not in held_by]
    )
    clashing: dict[str, list[str]] = {}
    for key, articles in reads.items():
        kept = []
        for a in articles:
            if owner[a.doc_id] != key:
                first = _where(Path(owner[a.doc_id]), base)
                reason = f"duplicate id {a.doc_id!r} (first in {first})"
                report.skipped.append(skip_article(a, reason))
            elif a.doc_id in stored and not _same_article(a, stored[a.doc_id]):
                reason = (
                    f"id {a.doc_id!r} belongs to an article written through the API or "
                    "`qa add`: delete that one, or give this one another id"
                )
                report.skipped.append(skip_article(a, reason))
            else:
                kept.append(a)
                continue
            clashing.setdefault(key, []).append(a.doc_id)
        reads[key] = kept
    for key, (stamp, ids) in list(current.items()):
        if key not in reads and any(owner.get(d) != key for d in ids):
            current[key] = (stamp, [d for d in ids if owner.get(d) == key])
    return clashing


def _same_article(article: Article, stored_hash: str) -> bool:
    """Whether ``article``, read from the folder, is the one stored (``article_hash``). `qa add`
    reads a file on its own, without the ``metadata.folder`` a subfolder gives it in the folder
    (``read_corpus``): that article is the same one."""
    return stored_hash in (article_hash(article), article_hash(_without_folder(article)))


CORPUS_DISK = "corpus_disk"
"""meta key: the folder last synced and the device it was on (``_disk``)"""


def _disk(root: Path) -> dict[str, object]:
    return {"path": str(root), "device": root.stat().st_dev}


def _on_other_disk(
    root: Path,
    disk: dict[str, object],
    last: object,
    known: dict[str, tuple[str, list[str]]],
    paths: list[Path],
) -> str | None:
    """Why a sync must not take ``root`` at its word, or None.

    An unmounted disk leaves its mount point behind as an empty folder (or one holding what was
    under it), on the disk of its parent. Taken at its word, that folder would delete every
    article read from the disk. So: the same folder as last time, now on another device, holding
    none of the files synced before, is left alone, as a missing folder is."""
    if not known:
        return None
    if not isinstance(last, dict) or last.get("path") != disk["path"] or last == disk:
        return None
    if any(str(p) in known for p in paths):
        return None  # the files moved disk with it (copied over, mounted elsewhere)
    return (
        f"corpus {root} is on another disk than when it was last synced (device "
        f"{last.get('device')}, now {disk['device']}) and holds none of its {len(known)} "
        "files: an unmounted disk? Its articles stay as they are; if this folder is the corpus "
        "now, run `qa index --force` to take it as it is (deleting the articles of files not in it)"
    )


def _recorded_stamp(recorded: str) -> str:
    """A file's stamp as recorded: itself, or the one inside a mark (``waiting_stamp``)."""
    waiting = waiting_of(recorded)
    return waiting[0] if waiting is not None else recorded


def _claimed(record: tuple[str, list[str]]) -> set[str]:
    """The ids a file's record lets it write: those it holds and those it waits for."""
    waiting = waiting_of(record[0])
    return {*record[1], *(waiting[1] if waiting is not None else [])}


def _unchanged(recorded: str, stamp: str) -> bool:
    """Whether a file read at ``stamp`` (``size:mtime#digest``) is the one ``recorded`` (a stamp
    or a mark): the same size and time, and the same articles (a stamp recorded before digests
    were kept has none)."""
    was, _, was_digest = _recorded_stamp(recorded).partition("#")
    now, _, digest = stamp.partition("#")
    return was == now and (not was_digest or was_digest == digest)


def _content_digest(articles: list[Article]) -> str:
    """A short hash of the articles a file holds (``article_hash``, in order), without what its
    path gives them (``origin``, ``metadata.folder``): the same whichever folder holds it."""
    joined = "\n".join(article_hash(_without_folder(a)) for a in articles)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _recorded_digest(recorded: str) -> str:
    """The content digest in what was recorded for a file ('' if it has none)."""
    return _recorded_stamp(recorded).partition("#")[2]


def _without_folder(article: Article) -> Article:
    if "folder" not in article.metadata:
        return article
    return replace(article, metadata={k: v for k, v in article.metadata.items() if k != "folder"})


def _where(path: Path, base: Path | None) -> str:
    try:
        return str(path.relative_to(base)) if base is not None else path.name
    except ValueError:
        return str(path)

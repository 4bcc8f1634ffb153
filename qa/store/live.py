"""The store and its derived indexes kept in step: FAISS, and BM25 in memory.

``LiveIndex.sync()`` replays the database's change log into the in-memory FAISS index: after this
process's own writes, and before every search, so writes made by other processes (``qa add`` beside
a running server) are seen by the next question. Checking costs one indexed read.

On open, the newest ``dense.<seq>.faiss`` snapshot is loaded and caught up; without a usable
snapshot the index is rebuilt from the vectors in the database, which needs no model. A snapshot is
used only if it is of this store's history (``_snapshot_problem``), its bytes are those written
(its manifest's sha256, ``qa.store.dense``), the log still reaches back to it, and once caught up it
holds exactly the stored passage ids; otherwise a warning says why, and the first snapshot of the
rebuilt index removes every other.

The in-memory lexical index (``qa/store/lexical.py``) is built from the stored terms in a
background thread by ``start_lexical`` (a server does this when it starts); until it is ready,
``bm25`` and ``doc_freq`` ask SQLite FTS5, which ranks alike.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

import numpy as np

from qa.errors import IndexStateError
from qa.search.filters import Filters
from qa.store.db import Store
from qa.store.dense import (
    DenseIndex,
    Manifest,
    latest_snapshot,
    load_snapshot,
    remove_snapshots,
    remove_stale_temps,
    snapshot_lock,
    write_manifest,
)
from qa.store.lexical import LexicalIndex

__all__ = ["LiveIndex", "snapshot_failed"]

log = logging.getLogger(__name__)

# Change-log entries kept behind the newest snapshot (a few bytes each).
LOG_KEEP = 100_000
# After a failed rebuild of the dense index (``regrow``), the wait before the next attempt.
REGROW_RETRY_SECONDS = 3600.0


class LiveIndex:
    def __init__(self, store: Store, dense: DenseIndex, seq: int) -> None:
        self.store = store
        self.dense = dense
        self.seq = seq
        self.saved_seq = seq
        self._lock = threading.Lock()
        self.lexical: LexicalIndex | None = None
        """BM25 in memory once ``start_lexical`` has built it (None: FTS5 answers)"""
        self._lexical_thread: threading.Thread | None = None
        self._regrow_after = 0.0  # monotonic time before which regrow does not try again

    @property
    def folder(self) -> Path:
        return self.store.folder

    @classmethod
    def open(cls, store: Store, dimension: int) -> LiveIndex:
        remove_stale_temps(store.folder)
        live = None
        for _ in range(3):  # a snapshot replaced by a newer one meanwhile: take that one
            with snapshot_lock(store.folder, exclusive=False):  # no save half-way
                snapshot = latest_snapshot(store.folder, committed=True)
                newest = latest_snapshot(store.folder)
            if newest is not None and newest != snapshot:
                log.info(
                    "dense snapshot %s has no manifest (its writer stopped before writing one, "
                    "or an older version wrote it): %s",
                    newest[0].name,
                    f"loading {snapshot[0].name}" if snapshot else "rebuilding the dense index",
                )
            if snapshot is None:
                break
            try:
                live = cls._from_snapshot(store, dimension, *snapshot)
            except FileNotFoundError:
                continue
            break
        return live or cls.rebuild(store, dimension)

    @classmethod
    def _from_snapshot(cls, store: Store, dimension: int, path: Path, seq: int) -> LiveIndex | None:
        """The index of snapshot ``path``, caught up; None (after a warning saying why, but for
        a log pruned past it) if it cannot be used."""
        last = store.last_seq()
        if seq > last:
            log.warning(
                "dense snapshot %s holds the store's changes up to %d, but the store's last "
                "change is %d: the store lost committed changes after change %d (an older copy "
                "put back, or its -wal file deleted?); rebuilding the dense index from the store",
                path.name,
                seq,
                last,
                last,
            )
            return None
        try:
            dense, manifest = load_snapshot(path, dimension)
        except FileNotFoundError:
            raise
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning(
                "dense snapshot %s is unreadable (%s): repairing it from the stored vectors",
                path.name,
                exc,
            )
            return None
        with store.read():  # one committed state for the checks and the replay
            problem = _snapshot_problem(store, manifest)
            if problem is not None:
                log.warning(
                    "dense snapshot %s is not of this store's history (%s): rebuilding the dense "
                    "index from the store",
                    path.name,
                    problem,
                )
                return None
            live = cls(store, dense, seq)
            if not live.sync():
                return None  # the log was pruned past it: a rebuild is routine
            stored = store.passage_ids()
        held = live.dense.ids()
        if not np.array_equal(held, stored):
            log.warning(
                "dense index has %d vectors for %d passages (%d missing, %d extra): rebuilding "
                "it from the store",
                len(held),
                len(stored),
                np.setdiff1d(stored, held).size,
                np.setdiff1d(held, stored).size,
            )
            return None
        return live

    @classmethod
    def rebuild(cls, store: Store, dimension: int) -> LiveIndex:
        """A fresh dense index from the stored passage vectors (no model call)."""
        with store.read():  # the vectors and the log position of one committed state
            seq = store.last_seq()
            batches = list(store.iter_passage_vectors(dimension))
        if batches:
            ids = np.concatenate([b[0] for b in batches])
            vectors = np.concatenate([b[1] for b in batches])
        else:
            ids = np.zeros(0, dtype=np.int64)
            vectors = np.zeros((0, dimension), dtype=np.float32)
        live = cls(store, DenseIndex.build(ids, vectors, dimension), seq)
        live.saved_seq = -1
        if store.last_seq() != seq:  # a writer committed since: catch up
            live.sync()
        return live

    def sync(self) -> bool:
        """Apply the changes committed since ``seq``; False if the log no longer reaches back."""
        if self.store.last_seq() == self.seq:
            return True
        with self._lock:  # another request thread may have caught up while we waited
            changes, first, last = self.store.changes_since(self.seq)
            if not changes:
                return last == self.seq  # else the entries after our seq were pruned
            if first > self.seq + 1:
                return False  # pruned past us: reload a snapshot
            removed, added = _net_effect(changes)
            self.dense.remove(removed)
            self._apply_lexical(self.lexical, removed, added)
            if added:
                vectors = self.store.passage_vectors(added, self.dense.dimension)
                present = [p for p in added if p in vectors]  # deleted again since: skip
                if present:
                    self.dense.add(
                        np.array(present, dtype=np.int64), np.stack([vectors[p] for p in present])
                    )
            self.seq = changes[-1][0]
            return True

    def regrow(self) -> bool:
        """Rebuild the dense index from the stored vectors (no model call) if it has outgrown
        its kind (``DenseIndex.outgrown``): exact search switches to IVF past ``EXACT_LIMIT``
        passages, and IVF lists are made again as it grows. The old index answers meanwhile; the
        new one, caught up, replaces it, and the next ``save`` writes it. Both are in memory
        until then (1.5 GB each at 1M passages). A failed rebuild is logged and not tried again
        for an hour: the index it would replace still answers, exactly."""
        reason = self.dense.outgrown()
        if reason is None or time.monotonic() < self._regrow_after:
            return False
        log.info("dense index: %s: rebuilding it from the stored vectors", reason)
        try:
            fresh = LiveIndex.rebuild(self.store, self.dense.dimension)
        except Exception:
            self._regrow_after = time.monotonic() + REGROW_RETRY_SECONDS
            log.exception("rebuilding the dense index failed; the current one keeps answering")
            return False
        restart_lexical = False
        with self._lock:
            if not fresh.sync():  # pruned past it in the meantime: the next check tries again
                return False
            # The in-memory BM25 follows self.seq, which moves to fresh.seq: apply to it what
            # was committed since (a change applied twice, here and by a later sync, is a no-op).
            changes, first, _ = self.store.changes_since(self.seq)
            if changes and first > self.seq + 1:  # pruned past it: build it again
                restart_lexical = self._forget_lexical()
            else:
                self._apply_lexical(self.lexical, *_net_effect(changes))
            self.dense, self.seq = fresh.dense, fresh.seq
            # a seq not saved yet, so the next save writes the new index; not -1, which would
            # also remove newer snapshots (of a lost history): this one is the store's own
            self.saved_seq = min(self.saved_seq, self.seq - 1)
        if restart_lexical:
            self.start_lexical()
        log.info("dense index is now %s over %d passages", self.dense.kind, self.dense.ntotal)
        return True

    def ensure_synced(self) -> None:
        """Catch up; if another process pruned the log past us, reload its newer snapshot."""
        if self.sync():
            return
        fresh = LiveIndex.open(self.store, self.dense.dimension)
        with self._lock:
            self.dense, self.seq, self.saved_seq = fresh.dense, fresh.seq, fresh.saved_seq
            rebuild_lexical = self._forget_lexical()
        if rebuild_lexical:
            self.start_lexical()
        if not self.sync():
            raise IndexStateError("the dense index cannot be caught up with the store")

    # -- the lexical index in memory ---------------------------------------------------------------
    def _forget_lexical(self) -> bool:
        """Drop the in-memory BM25, which the change log can no longer bring up to date (under
        ``_lock``); whether one was built, so that the caller starts it again. A build in
        progress is kept: it catches up with the log itself, or starts over if the log was
        pruned past it. (It was let go, and a second build started: ``stop_lexical`` then
        waited for the second only, and the store could be closed under the first.)"""
        thread = self._lexical_thread
        if thread is not None and thread.is_alive() and self.lexical is None:
            return False
        self.lexical, self._lexical_thread = None, None
        return thread is not None

    def start_lexical(self, *, wait: bool = False) -> None:
        """Build the in-memory BM25 index in a background thread (``wait``: until it is ready)."""
        with self._lock:
            thread = self._lexical_thread
            if thread is None:
                thread = threading.Thread(
                    target=self._build_lexical, name="qa-lexical-build", daemon=True
                )
                self._lexical_thread = thread
                thread.start()
        while wait:  # ensure_synced may hand the build on to a new thread
            thread.join()
            with self._lock:
                if self.lexical is not None or self._lexical_thread in (None, thread):
                    return
                thread = self._lexical_thread

    def stop_lexical(self) -> None:
        """Wait for a build of the lexical index in progress to end: it reads from the store,
        which must not be closed under it (closing a connection that another thread is reading
        from crashed the process: a segfault in a CI run)."""
        while True:
            thread = self._lexical_thread
            if thread is None or not thread.is_alive() or thread is threading.current_thread():
                return
            thread.join()  # ensure_synced may have started another meanwhile: wait for it too

    @property
    def building_lexical(self) -> bool:
        """Whether the in-memory lexical index is being built."""
        thread = self._lexical_thread
        return thread is not None and thread.is_alive() and self.lexical is None

    def _build_lexical(self) -> None:
        try:
            while True:  # a build the log's pruning overtook starts over in this same thread
                with self.store.read():  # the terms and the log position of one committed state
                    seq = self.store.last_seq()
                    rows = self.store.all_passage_terms()
                index = LexicalIndex.build(rows)
                del rows
                with self._lock:
                    # Catch up with what was committed meanwhile. Applying a change twice (here
                    # and by the next sync) is harmless: the index ignores ids it holds or has
                    # removed.
                    changes, first, _ = self.store.changes_since(seq)
                    if not changes or first <= seq + 1:
                        self._apply_lexical(index, *_net_effect(changes))
                        self.lexical = index
                        log.info("lexical index in memory: %d passages", len(index))
                        return
                log.warning("change log pruned while building the lexical index: rebuilding")
        except Exception:  # FTS5 keeps answering: slower, never wrong
            log.exception("building the in-memory lexical index failed; FTS5 answers instead")
            with self._lock:
                self._lexical_thread = None  # a later start_lexical tries again

    def _apply_lexical(
        self, index: LexicalIndex | None, removed: np.ndarray, added: list[int]
    ) -> None:
        if index is None:
            return
        index.remove([int(p) for p in removed])
        if added:
            index.add(self.store.passage_terms(added))

    def bm25(
        self,
        terms: list[str],
        k: int,
        filters: Filters | None = None,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Best ``k`` passages by BM25; ``allowed``: the passage ids ``filters`` keep."""
        lexical = self.lexical
        if lexical is None or (filters is not None and not filters.empty and allowed is None):
            return self.store.bm25(terms, k, filters)
        return lexical.search(terms, k, allowed)

    def doc_freq(self, terms: list[str]) -> dict[str, int]:
        lexical = self.lexical
        return self.store.doc_freq(terms) if lexical is None else lexical.doc_freq(terms)

    def problems(self) -> list[str]:
        """The store's problems, and whether the dense index holds exactly its passages."""
        found = self.store.problems()
        self.sync()
        stored = self.store.passage_ids()
        held = {"dense index": (self.dense.ids(), "extra vectors")}
        if self.lexical is not None:
            held["lexical index"] = (self.lexical.ids(), "extra")
        for name, (ids, extras) in held.items():
            if not np.array_equal(stored, ids):
                missing = np.setdiff1d(stored, ids).size
                extra = np.setdiff1d(ids, stored).size
                found.append(f"{name}: {missing} passages missing, {extra} {extras}")
        return found

    def save(self, *, prune_log: bool = True) -> bool:
        """Write a snapshot if anything changed since the last one; prune the replayed log."""
        with self._lock:
            seq = self.seq
            if seq == self.saved_seq:
                return False
            ids = self.dense.ids()
            with snapshot_lock(self.folder, exclusive=True):
                path = self.dense.save(self.folder, seq)
                try:
                    write_manifest(
                        path, seq, ntotal=len(ids), max_id=int(ids[-1]) if len(ids) else -1
                    )
                except BaseException:
                    path.unlink(missing_ok=True)  # never loaded without its manifest anyway
                    raise
                # Committed: the snapshots it replaces go. A rebuilt index continues none, so
                # newer ones go too (of a history the store has lost, or damaged).
                remove_snapshots(self.folder, seq, newer=self.saved_seq < 0)
            self.saved_seq = seq
        if prune_log and seq > LOG_KEEP:
            # Other processes (a server beside `qa add`) replay from their own seq: keep a long
            # tail so that they rarely have to reload a whole snapshot instead.
            self.store.prune_changes(seq - LOG_KEEP)
        return True


def snapshot_failed(exc: OSError) -> str:
    """What to say when a dense snapshot could not be written: nothing is lost, since every
    write is in the store and its change log, which the next start replays."""
    return (
        f"the dense snapshot was not written ({exc.strerror or exc}): every write is in the "
        "store, and its change log is replayed at the next start"
    )


def _net_effect(changes: list[tuple[int, str, int]]) -> tuple[np.ndarray, list[int]]:
    """The passages removed and added by ``changes`` taken in order: a passage added then
    deleted within them is never added."""
    final: dict[int, str] = {}
    for _, op, pid in changes:
        final[pid] = op
    removed = np.array([p for p, op in final.items() if op == "del"], dtype=np.int64)
    return removed, [p for p, op in final.items() if op == "add"]


def _snapshot_problem(store: Store, manifest: Manifest) -> str | None:
    """Why the snapshot that ``manifest`` describes is not of this store's history, or None.

    Passage ids are never reused within one history, but a store put back from an older copy
    hands out again the ids of the passages it lost. Its articles are written after the snapshot
    was, so a stored passage that the snapshot has an id for (an id up to its highest) but whose
    article was written after it gives it away. Articles are walked newest first (row ids and
    write times grow together) down to the first written before the snapshot: in one history,
    only those written since."""
    if manifest.max_id < 0:
        return None
    with store.read() as conn, contextlib.closing(conn.cursor()) as cur:
        cur.row_factory = None
        rows = cur.execute(
            "SELECT a.written_at, (SELECT min(p.id) FROM passages p WHERE p.article = a.id) "
            "FROM articles a ORDER BY a.id DESC"
        )
        for written_at, first in rows:
            if written_at <= manifest.written:
                return None
            if first is not None and first <= manifest.max_id:
                return (
                    f"it holds passage id {first}, which the store gave to an article written "
                    "after the snapshot: the store was put back from an older copy and written "
                    "since"
                )
    return None

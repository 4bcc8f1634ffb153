"""The store and its derived indexes kept in step: FAISS, and BM25 in memory.

``LiveIndex.sync()`` replays the database's change log into the in-memory FAISS index: after this
process's own writes, and before every search, so writes made by other processes (``qa add`` beside
a running server) are seen by the next question. Checking costs one indexed read.

On open, the newest ``dense.<seq>.faiss`` snapshot is loaded and caught up; without a usable
snapshot (none yet, damaged, or the log no longer reaches back to it) the index is rebuilt from the
vectors in the database, which needs no model.

The in-memory lexical index (``qa/store/lexical.py``) is built from the stored terms in a
background thread by ``start_lexical`` (a server does this when it starts); until it is ready,
``bm25`` and ``doc_freq`` ask SQLite FTS5, which ranks alike.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from qa.errors import IndexStateError
from qa.search.filters import Filters
from qa.store.db import Store
from qa.store.dense import DenseIndex, latest_snapshot
from qa.store.lexical import LexicalIndex

__all__ = ["LiveIndex", "snapshot_failed"]

log = logging.getLogger(__name__)

# Change-log entries kept behind the newest snapshot (a few bytes each).
LOG_KEEP = 100_000


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

    @property
    def folder(self) -> Path:
        return self.store.folder

    @classmethod
    def open(cls, store: Store, dimension: int) -> LiveIndex:
        snapshot = latest_snapshot(store.folder)
        live: LiveIndex | None = None
        if snapshot is not None:
            path, seq = snapshot
            try:
                live = cls(store, DenseIndex.load(path, dimension), seq)
                live.saved_seq = seq
            except (RuntimeError, ValueError, OSError) as exc:
                log.warning("dense snapshot %s is unreadable (%s): rebuilding it", path.name, exc)
        if live is None or not live.sync():
            live = cls.rebuild(store, dimension)
        _, n_passages = store.counts()
        if live.dense.ntotal != n_passages:
            log.warning(
                "dense index has %d vectors for %d passages: rebuilding it from the store",
                live.dense.ntotal,
                n_passages,
            )
            live = cls.rebuild(store, dimension)
        return live

    @classmethod
    def rebuild(cls, store: Store, dimension: int) -> LiveIndex:
        """A fresh dense index from the stored passage vectors (no model call)."""
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
        if store.last_seq() != seq:  # a writer committed while we read: catch up
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

    def ensure_synced(self) -> None:
        """Catch up; if another process pruned the log past us, reload its newer snapshot."""
        if self.sync():
            return
        fresh = LiveIndex.open(self.store, self.dense.dimension)
        with self._lock:
            self.dense, self.seq, self.saved_seq = fresh.dense, fresh.seq, fresh.saved_seq
            rebuild_lexical = self._lexical_thread is not None
            self.lexical, self._lexical_thread = None, None
        if rebuild_lexical:
            self.start_lexical()
        if not self.sync():
            raise IndexStateError("the dense index cannot be caught up with the store")

    # -- the lexical index in memory ---------------------------------------------------------------
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
        while wait:  # a build that had to start over hands on to a new thread
            thread.join()
            with self._lock:
                if self.lexical is not None or self._lexical_thread in (None, thread):
                    return
                thread = self._lexical_thread

    @property
    def building_lexical(self) -> bool:
        """Whether the in-memory lexical index is being built."""
        thread = self._lexical_thread
        return thread is not None and thread.is_alive() and self.lexical is None

    def _build_lexical(self) -> None:
        try:
            with self.store.read():  # the terms and the log position of one committed state
                seq = self.store.last_seq()
                rows = self.store.all_passage_terms()
            index = LexicalIndex.build(rows)
            del rows
            with self._lock:
                # Catch up with what was committed meanwhile. Applying a change twice (here and
                # by the next sync) is harmless: the index ignores ids it holds or has removed.
                changes, first, _ = self.store.changes_since(seq)
                if changes and first > seq + 1:
                    log.warning("change log pruned while building the lexical index: rebuilding")
                    self._lexical_thread = None
                else:
                    self._apply_lexical(index, *_net_effect(changes))
                    self.lexical = index
                    log.info("lexical index in memory: %d passages", len(index))
                    return
            self.start_lexical()
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
            self.dense.save(self.folder, seq)
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

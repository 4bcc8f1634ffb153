"""A running archive: the engine, the corpus-folder watcher and the snapshot writer together.

``qa serve`` and the HTTP app start one; it stops cleanly, writing a last dense snapshot (a
``kill -9`` skips that and costs only a replay of the change log at the next start).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from qa.engine import QAEngine
from qa.errors import SyncStopped
from qa.store.live import snapshot_failed
from qa.store.sync import SyncReport, sync_folder
from qa.store.watcher import FolderWatcher

__all__ = ["Service"]

log = logging.getLogger(__name__)

CATCH_UP_SECONDS = 2.0
"""how often a server reads the store's change log when nobody asks it anything"""


class Service:
    def __init__(self, engine: QAEngine, corpus: Path | None, *, watch: bool = True) -> None:
        self.engine = engine
        self.corpus = corpus
        self.watcher: FolderWatcher | None = None
        self._watch = watch
        self._stop = threading.Event()
        self._snapshots = threading.Thread(target=self._snapshot_loop, name="qa-snapshots")
        self._snapshots.daemon = True
        self._sync_lock = threading.Lock()
        self._freed: frozenset[str] = frozenset()
        """the freed ids (``Store.freed_waits``) a sync was last asked for"""

    def sync(self, *, progress: bool = False) -> SyncReport | None:
        if self.corpus is None:
            return None
        with self._sync_lock:
            report = sync_folder(self.engine, self.corpus, progress=progress, stop=self._stop)
        if report.changed or report.skipped:  # a sync that only skipped files says so too
            log.info("synced %s: %s", self.corpus, report.summary())
        return report

    def deleted_directly(self) -> None:
        """A file that waits for the id of an article written directly takes it once that
        article is deleted: sync now, not at the next unrelated change to the folder. Called
        after a delete through the API, and every ``CATCH_UP_SECONDS`` for the deletes of
        other processes (`qa delete`); each freed id is synced for once."""
        if self.watcher is None or not self.engine.store.files_waiting():
            self._freed = frozenset()
            return
        freed = frozenset(self.engine.store.freed_waits())
        if freed - self._freed:
            self.watcher.poke()
        self._freed = freed

    def interrupt(self) -> None:
        """Stop a folder sync in progress at its next batch (``SyncStopped``), the first one
        included: the service is stopping. Safe in a signal handler (an Event's set)."""
        self._stop.set()

    def start(self) -> Service:
        """First run: index the folder before answering. Later runs: answer at once from the
        store and sync the folder in the background (only changed files are read).

        Interrupted during the first sync (``interrupt``: SIGTERM), it returns without starting
        anything else; ``stop`` then closes it."""
        try:
            self._first_sync()
        except SyncStopped as exc:
            log.info("the sync of %s %s", self.corpus, exc)
            return self
        if self.corpus is not None and self._watch:
            self.watcher = FolderWatcher(self.corpus, self.sync).start()
            self.watcher.poke()
            log.info("syncing %s in the background (changed files only)", self.corpus)
        self.engine.live.start_lexical()  # BM25 in memory, built in the background
        self.engine.sentences.start_warming()  # the articles' sentences, prepared likewise
        self._snapshots.start()
        return self

    def _first_sync(self) -> None:
        """Before answering: an empty store, or one synced from another folder, is synced."""
        if self.corpus is not None:
            if not self.corpus.exists():
                log.warning("corpus %s does not exist: watching for it to appear", self.corpus)
            elif self.engine.counts()[0] == 0:
                self.sync(progress=True)
            elif (other := self.engine.store.synced_elsewhere(self.corpus)) is not None:
                # the store holds another folder's articles (an image's baked seeds, a folder
                # given before): answering from them while this one is read would be wrong
                log.warning(
                    "the store in %s was synced from another folder (%s): syncing %s before "
                    "answering",
                    self.engine.store.folder,
                    other,
                    self.corpus,
                )
                self.sync(progress=True)

    def _snapshot_loop(self) -> None:
        """Every ``CATCH_UP_SECONDS``, catch up with what other processes wrote (`qa add`,
        `qa delete`); every ``snapshot_seconds``, write the dense snapshot."""
        interval = self.engine.settings.snapshot_seconds
        due = time.monotonic() + interval
        said = None  # a full disk is said once, not at every interval until it is freed
        while not self._stop.wait(min(CATCH_UP_SECONDS, interval)):
            try:
                self.engine.live.ensure_synced()
                self.deleted_directly()
                if time.monotonic() < due:
                    continue
                due = time.monotonic() + interval
                # replaced and deleted articles' rows (first: a full disk stops the save)
                self.engine.sentences.forget_deleted()
                self.engine.live.regrow()  # past EXACT_LIMIT passages: exact search to IVF
                self.engine.live.save()
                said = None
            except OSError as exc:
                if (message := snapshot_failed(exc)) != said:
                    said = message
                    log.warning(said)
            except Exception as exc:
                if (message := repr(exc)) != said:  # said once, not every CATCH_UP_SECONDS
                    said = message
                    log.exception("catching up or writing the dense snapshot failed")

    def stop(self) -> None:
        self._stop.set()  # a folder sync in progress stops at its next batch
        if self.watcher is not None:
            self.watcher.stop()
        if self._snapshots.is_alive():
            # it may be reading the store (a catch-up, or a rebuild of the dense index, about a
            # minute at 1M passages): the store must not be closed under it
            self._snapshots.join(timeout=10)
            if self._snapshots.is_alive():
                log.info("waiting for the dense index's rebuild or snapshot to finish")
                self._snapshots.join()
        self.engine.close()

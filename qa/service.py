"""A running archive: the engine, the corpus-folder watcher and the snapshot writer together.

``qa serve`` and the HTTP app start one; it stops cleanly, writing a last dense snapshot (a
``kill -9`` skips that and costs only a replay of the change log at the next start).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from qa.engine import QAEngine
from qa.store.live import snapshot_failed
from qa.store.sync import SyncReport, sync_folder
from qa.store.watcher import FolderWatcher

__all__ = ["Service"]

log = logging.getLogger(__name__)


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

    def sync(self, *, progress: bool = False) -> SyncReport | None:
        if self.corpus is None:
            return None
        with self._sync_lock:
            report = sync_folder(self.engine, self.corpus, progress=progress)
        if report.changed:
            log.info("synced %s: %s", self.corpus, report.summary())
        return report

    def deleted_directly(self) -> None:
        """A file that waits for the id of an article written directly takes it once that
        article is deleted: sync now, not at the next unrelated change to the folder."""
        if self.watcher is not None and self.engine.store.files_waiting():
            self.watcher.poke()

    def start(self) -> Service:
        """First run: index the folder before answering. Later runs: answer at once from the
        store and sync the folder in the background (only changed files are read)."""
        if self.corpus is not None:
            if not self.corpus.exists():
                log.warning("corpus %s does not exist: watching for it to appear", self.corpus)
            elif self.engine.counts()[0] == 0:
                self.sync(progress=True)
            if self._watch:
                self.watcher = FolderWatcher(self.corpus, self.sync).start()
                self.watcher.poke()
        self.engine.live.start_lexical()  # BM25 in memory, built in the background
        self.engine.sentences.start_warming()  # the articles' sentences, prepared likewise
        self._snapshots.start()
        return self

    def _snapshot_loop(self) -> None:
        interval = self.engine.settings.snapshot_seconds
        said = None  # a full disk is said once, not at every interval until it is freed
        while not self._stop.wait(interval):
            try:
                self.engine.live.ensure_synced()
                self.engine.live.save()
                said = None
            except OSError as exc:
                if (message := snapshot_failed(exc)) != said:
                    said = message
                    log.warning(said)
            except Exception:
                log.exception("writing the dense snapshot failed (the change log still holds it)")

    def stop(self) -> None:
        self._stop.set()
        if self.watcher is not None:
            self.watcher.stop()
        if self._snapshots.is_alive():
            self._snapshots.join(timeout=10)
        self.engine.close()

"""Watch the corpus folder (watchdog: inotify on Linux) and sync the store when files change.

Events are coalesced: a burst (an editor's save, a copied folder) becomes one sync once the folder
has been quiet for ``settle`` seconds, or ``max_delay`` seconds after the first change not yet
synced, whichever comes first: a folder that never goes quiet (a crawler dropping a file every
0.2 s) is still synced every ``max_delay`` seconds. Changes a read of the folder would not see
(hidden files, editor leftovers: ``concerns_read``) are no changes. A sync reads only files whose
stamp changed, so a sync after any event is cheap. A failing sync is never fatal: it is logged
and tried again on the next event, or after ``RETRY_SECONDS`` (doubling up to
``MAX_RETRY_SECONDS``) if none comes, so that files dropped while the disk was full are indexed
once it has room, with no further change.

A watch follows a folder, not its path: a corpus folder removed and made again, or swapped for a
new one (``mv corpus corpus.old && mv corpus.new corpus``), would go unwatched from then on. The
worker therefore checks twice a second which folder stands at the path (one ``stat``) and, when
it changed, watches the one there now and syncs against it. A folder removed and made again can
get the old one's inode number, so the same check cannot see it: the watch on the removed folder
reports its end (a deletion event naming the folder itself), and the folder at the path is then
watched again whatever its number.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from qa.errors import QAError, SyncStopped
from qa.ingest.corpus import concerns_read

__all__ = ["FolderWatcher"]

# How long stop() waits for a sync in progress before saying that it waits.
STOP_NOTICE_SECONDS = 5.0

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0
MAX_DELAY_SECONDS = 2.0


class _Poke(FileSystemEventHandler):
    def __init__(
        self, folder: Path, on_event: Callable[[], None], on_end: Callable[[], None]
    ) -> None:
        self._folder = folder
        self._on_event = on_event
        self._on_end = on_end

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, not changes
        if event.is_directory and event.event_type == "modified":
            return  # a folder's listing changed: the entry's own event says whether it matters
        paths = [Path(os.fsdecode(p)) for p in (event.src_path, event.dest_path) if p]
        if event.event_type == "deleted" and self._folder in paths:
            self._on_end()  # the watched folder itself is gone, and this watch with it
        if any(concerns_read(p, self._folder, is_dir=event.is_directory) for p in paths):
            self._on_event()


class FolderWatcher:
    def __init__(
        self,
        root: Path,
        sync: Callable[[], object],
        settle: float = 0.3,
        max_delay: float = MAX_DELAY_SECONDS,
    ) -> None:
        self.root = root
        self._sync = sync
        self._settle = settle
        self._max_delay = max_delay
        self._poked = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last_event = 0.0
        self._first_event: float | None = None
        """when the first change not yet synced came (None: none came)"""
        self._watch_ended = threading.Event()
        self._observer = Observer()
        self._worker = threading.Thread(target=self._run, name="qa-folder-sync", daemon=True)
        self.syncs = 0
        self._retry_in = 0.0
        """seconds until a failed sync is tried again (0: the last sync did not fail)"""
        self._retry_at = 0.0

    def start(self) -> FolderWatcher:
        self._folder = _identity(self._target)
        self._watch: ObservedWatch | None = self._schedule()
        self._observer.start()
        self._worker.start()
        return self

    @property
    def _target(self) -> Path:
        return self.root if not self.root.is_file() else self.root.parent

    def _schedule(self) -> ObservedWatch | None:
        if self._folder is None:
            return None
        handler = _Poke(self._target, self._poke, self._watch_ended.set)
        return self._observer.schedule(handler, str(self._target), recursive=True)

    def _follow_the_path(self) -> None:
        """Watch whatever folder stands at the path now, if that is not the one watched (or the
        watch on it ended: a folder made again may reuse the old one's inode number)."""
        now = _identity(self._target)
        if now == self._folder and not self._watch_ended.is_set():
            return
        self._watch_ended.clear()
        self._folder = now
        if self._watch is not None:
            self._observer.unschedule(self._watch)
        try:
            self._watch = self._schedule()
        except OSError as exc:  # gone again between the stat and the watch: next check
            log.warning("cannot watch %s: %s", self._target, exc)
            self._watch, self._folder = None, None
        if self._watch is not None:
            log.info("watching %s again (the folder at that path changed)", self._target)
        self._poke()  # sync against it; a missing folder keeps its articles (sync.py)

    def poke(self) -> None:
        """Ask for a sync as if a file had changed (also used for the start-up sync)."""
        self._poke()

    def _poke(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._last_event = now
            if self._first_event is None:
                self._first_event = now
        self._poked.set()

    def _settled(self) -> bool:
        """Quiet for ``settle`` seconds, or ``max_delay`` seconds since the first change."""
        now = time.monotonic()
        with self._lock:
            first = self._first_event if self._first_event is not None else now
            return now - self._last_event >= self._settle or now - first >= self._max_delay

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow_the_path()
            except Exception:  # never fatal: the worker must outlive one bad moment
                log.exception("checking the folder at %s failed", self._target)
            if self._retry_in and time.monotonic() >= self._retry_at:
                self._poked.set()  # a failed sync, and no event since: try it again
            if not self._poked.wait(timeout=0.5):
                continue
            while not self._settled() and not self._stop.is_set():
                time.sleep(min(self._settle, self._max_delay) / 3)
            with self._lock:  # a change from now on is one this sync may miss: it starts a clock
                self._poked.clear()
                self._first_event = None
            if self._stop.is_set():
                return
            try:
                self._sync()
                self._retry_in = 0.0
            except SyncStopped as exc:  # the service is stopping
                log.info("the sync of %s %s", self.root, exc)
                return
            except Exception as exc:  # a bad moment (disk full, file half-copied): retried
                self._retry_in = min(max(2 * self._retry_in, RETRY_SECONDS), MAX_RETRY_SECONDS)
                self._retry_at = time.monotonic() + self._retry_in
                if isinstance(exc, QAError):  # said in a line, as the CLI says it
                    log.warning(
                        "syncing %s failed: %s; trying again in %g s",
                        self.root,
                        exc,
                        self._retry_in,
                    )
                else:
                    log.exception(
                        "syncing %s failed; trying again in %g s", self.root, self._retry_in
                    )
            self.syncs += 1

    def stop(self) -> None:
        self._stop.set()
        self._poked.set()
        self._observer.stop()
        self._observer.join(timeout=5)
        # A sync in progress is waited for: the store is closed after this, and closing it under
        # a thread that writes to it can crash the process. It stops at its next batch of
        # articles (the service sets the sync's stop event first), a few seconds.
        self._worker.join(timeout=STOP_NOTICE_SECONDS)
        if self._worker.is_alive():
            log.info("waiting for the folder sync in progress to finish before stopping")
            self._worker.join()


def _identity(folder: Path) -> tuple[int, int] | None:
    """Which folder is at ``folder`` (device and inode), or None if no folder is."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None

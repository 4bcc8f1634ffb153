"""Watch the corpus folder (watchdog: inotify on Linux) and sync the store when files change.

Events are coalesced: a burst (an editor's save, a copied folder) becomes one sync once the folder
has been quiet for ``settle`` seconds. A sync reads only files whose stamp changed, so a sync after
any event is cheap; a failing sync is logged and retried on the next event, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

__all__ = ["FolderWatcher"]

log = logging.getLogger(__name__)


class _Poke(FileSystemEventHandler):
    def __init__(self, on_event: Callable[[], None]) -> None:
        self._on_event = on_event

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, not changes
        self._on_event()


class FolderWatcher:
    def __init__(self, root: Path, sync: Callable[[], object], settle: float = 0.3) -> None:
        self.root = root
        self._sync = sync
        self._settle = settle
        self._poked = threading.Event()
        self._stop = threading.Event()
        self._last_event = 0.0
        self._observer = Observer()
        self._worker = threading.Thread(target=self._run, name="qa-folder-sync", daemon=True)
        self.syncs = 0

    def start(self) -> FolderWatcher:
        target = self.root if self.root.is_dir() else self.root.parent
        self._observer.schedule(_Poke(self._poke), str(target), recursive=True)
        self._observer.start()
        self._worker.start()
        return self

    def poke(self) -> None:
        """Ask for a sync as if a file had changed (also used for the start-up sync)."""
        self._poke()

    def _poke(self) -> None:
        self._last_event = time.monotonic()
        self._poked.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._poked.wait(timeout=0.5):
                continue
            while time.monotonic() - self._last_event < self._settle and not self._stop.is_set():
                time.sleep(self._settle / 3)
            self._poked.clear()
            if self._stop.is_set():
                return
            try:
                self._sync()
            except Exception:  # a bad moment (file half-copied, disk full): retry next event
                log.exception("syncing %s failed", self.root)
            self.syncs += 1

    def stop(self) -> None:
        self._stop.set()
        self._poked.set()
        self._observer.stop()
        self._observer.join(timeout=5)
        self._worker.join(timeout=30)

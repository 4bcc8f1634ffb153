"""At most one writer per index folder, across processes.

``writer.lock`` in the index folder is an OS file lock (filelock, ``fcntl.flock`` underneath): the
kernel releases it when its holder exits, ``kill -9`` included, so it is never stale. While held,
the file names its holder (pid, command, since when) for the message a second writer shows. SQLite
already serialises single transactions; this lock serialises whole runs (``qa index``, ``qa add``,
``qa delete``, a folder sync, an HTTP write), so that two of them never embed the same articles
twice or report each other's changes as their own.

The lock is re-entrant within a thread (a ``qa index`` run holds it around the engine's writes,
which take it again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from qa.errors import IndexStateError

__all__ = ["LOCK_FILE", "IndexBusyError", "WriterLock"]

LOCK_FILE = "writer.lock"


class IndexBusyError(IndexStateError):
    """Another process is writing the index folder and did not finish in time."""


def _describe_me(fd: int) -> None:
    """Written into the lock file once it is ours (filelock never truncates a holder's file)."""
    command = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    since = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    text = f"pid {os.getpid()} ({command[:200]}) since {since}"
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode("utf-8", "replace"), 0)


class WriterLock:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        folder.mkdir(parents=True, exist_ok=True)
        # One instance per path in a process (is_singleton), so that holding it in a command
        # and taking it again in the engine is re-entrant rather than a self-deadlock.
        self._lock = FileLock(self.path, is_singleton=True, on_acquired=_describe_me)

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it (best effort)."""
        try:
            text = self.path.read_text("utf-8", errors="replace").strip()
        except OSError:
            text = ""
        return text or "another process"

    def _check_can_create(self) -> None:
        """filelock takes any failure to create the lock file as another holder and retries for
        ever: a folder where no file can be created (procfs) would wait without end."""
        if self.path.exists():
            return
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644))
        except OSError as exc:
            raise IndexStateError(f"cannot create {self.path}: {exc.strerror or exc}") from None

    @contextlib.contextmanager
    def hold(
        self, *, timeout: float = -1, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Hold the lock; if another process has it, say so through ``on_wait`` and wait up to
        ``timeout`` seconds (-1: for ever), then raise IndexBusyError naming the holder."""
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            self._check_can_create()
            holder = self.holder()
            # another thread of this process (a folder sync behind an HTTP write) is routine:
            # it is waited for without a word
            mine = holder.startswith(f"pid {os.getpid()} ")
            if mine:  # the 503 named the server itself as "another" writer
                holder = "this process's folder sync or re-embedding"
            if on_wait is not None and not mine:
                on_wait(f"{self.folder} is being written by {holder}: waiting for it to finish")
            try:
                self._lock.acquire(timeout=timeout)
            except Timeout:
                raise IndexBusyError(
                    f"{self.folder} is being written by {holder}; try again when it has finished"
                ) from None
        try:
            yield
        finally:
            self._lock.release()

"""Checking the index folder `qa index` finds, and repairing it without ``--force``.

- A dense index that does not hold exactly the stored passages is rebuilt from the stored
  vectors (no model call).
- A store that cannot be read, or whose tables disagree, is set aside, never deleted: its files
  are renamed ``store.sqlite3.damaged-<time>`` (with their ``-wal``/``-shm``), the articles still
  readable in it are carried into a new store (re-embedded: nothing written through the API is
  lost if SQLite can still read it), and the corpus folder is synced as usual.

Only files the service writes and recognises by name are touched: ``store.sqlite3`` (and its WAL
files), which are renamed, and ``dense.<seq>.faiss`` snapshots of the set-aside store, which are
removed. Anything else in the folder is left alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path

from qa.records import Article
from qa.store.db import DB_FILE, _article
from qa.store.dense import _SNAPSHOT
from qa.store.live import LiveIndex

__all__ = ["DENSE_PROBLEM", "rebuild_dense", "salvage_articles", "set_aside"]

log = logging.getLogger(__name__)

DENSE_PROBLEM = "dense index:"
"""How LiveIndex.problems() starts a problem of the dense index alone."""


def rebuild_dense(live: LiveIndex) -> None:
    """Replace the dense index with one built from the stored vectors, and snapshot it."""
    fresh = LiveIndex.rebuild(live.store, live.dense.dimension)
    live.dense, live.seq, live.saved_seq = fresh.dense, fresh.seq, -1
    live.save()


def set_aside(folder: Path) -> Path:
    """Rename the store's files out of the way; returns the new name of the database file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    aside = folder / f"{DB_FILE}.damaged-{stamp}"
    for suffix in ("", "-wal", "-shm"):
        path = folder / f"{DB_FILE}{suffix}"
        if path.exists():
            path.rename(folder / f"{aside.name}{suffix}")
    for path in folder.iterdir():
        if _SNAPSHOT.match(path.name):  # snapshots of the store just set aside
            path.unlink()
    return aside


def salvage_articles(path: Path) -> list[Article]:
    """The articles SQLite can still read from a damaged store (none if it reads nothing)."""
    articles: list[Article] = []
    try:
        conn = sqlite3.connect(path)
    except sqlite3.Error:
        return articles
    try:
        conn.row_factory = sqlite3.Row
        for row in conn.execute("SELECT * FROM articles ORDER BY id"):
            try:
                articles.append(_article(row))
            except (ValueError, TypeError, KeyError, IndexError):
                continue  # a damaged row: its metadata is not JSON, a field is missing
    except sqlite3.Error as exc:
        log.warning("read %d articles from %s before it failed: %s", len(articles), path, exc)
    finally:
        conn.close()
    return articles

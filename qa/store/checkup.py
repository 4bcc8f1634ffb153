"""Checking the index folder `qa index` finds, and repairing it without ``--force``.

- Damage confined to derived data is repaired in place, without the model: a dense index that
  does not hold exactly the stored passages is rebuilt from the stored vectors; a lexical index
  (the FTS5 table ``passage_terms``) whose rows are not exactly the stored passages', or whose
  inverted index disagrees with its rows, is rebuilt from the stored articles' text. The store
  keeps everything else, its ``files`` bookkeeping included.
- A store that cannot be read, or whose tables of record disagree, is set aside, never deleted:
  its files are renamed ``store.sqlite3.damaged-<time>`` (with their ``-wal``/``-shm``), the
  articles still readable in it are carried into a new store (re-embedded: nothing written
  through the API is lost if SQLite can still read it), and so is what it still says of the
  corpus files (``files``: each file's stamp and the ids it claims), so that an article deleted
  or replaced directly (HTTP, ``qa add``, ``qa delete``) while its file is unchanged stays as it
  was written. A row SQLite cannot read costs that row alone.

Only files the service writes and recognises by name are touched: ``store.sqlite3`` (and its WAL
files), which are renamed, and ``dense.<seq>.faiss`` snapshots of the set-aside store, which are
removed. Anything else in the folder is left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.errors import IndexStateError
from qa.records import Article
from qa.store.db import DB_FILE, Store
from qa.store.dense import remove_snapshots, snapshot_lock
from qa.store.live import LiveIndex
from qa.store.terms import terms

__all__ = [
    "DENSE_PROBLEM",
    "LEXICAL_PROBLEM",
    "in_derived_data",
    "lexical_counts",
    "lexical_problems",
    "rebuild_dense",
    "repair_derived",
    "repair_lexical",
    "restore_files",
    "salvage_articles",
    "salvage_files",
    "set_aside",
]

log = logging.getLogger(__name__)

DENSE_PROBLEM = "dense index:"
"""How LiveIndex.problems() starts a problem of the dense index alone."""
LEXICAL_PROBLEM = "lexical index:"
"""How a problem of the lexical index alone starts (``lexical_problems``; LiveIndex.problems()
for the one in memory)."""
_LEXICAL_ROWS = ("passages without lexical terms", "lexical rows without a passage")
"""How Store.problems() ends a problem of the FTS5 rows alone."""


def in_derived_data(problem: str) -> bool:
    """Whether ``problem`` (of LiveIndex.problems() or ``lexical_problems``) is in derived data
    alone, which ``repair_derived`` rebuilds from the store without setting it aside."""
    return problem.startswith((DENSE_PROBLEM, LEXICAL_PROBLEM)) or problem.endswith(_LEXICAL_ROWS)


def rebuild_dense(live: LiveIndex) -> None:
    """Replace the dense index with one built from the stored vectors, and snapshot it."""
    fresh = LiveIndex.rebuild(live.store, live.dense.dimension)
    live.dense, live.seq, live.saved_seq = fresh.dense, fresh.seq, -1
    live.save()


# -- the lexical index ----------------------------------------------------------------------------
_FTS = "passage_terms"
_FTS_VOCAB = "passage_vocab"


def lexical_problems(store: Store) -> list[str]:
    """FTS5's own check of the lexical index: its inverted index against its rows, which
    Store.problems() does not look at (it compares the rows with the passages). About 0.1 s for
    30,000 passages."""
    try:
        with store.write() as w:  # an FTS5 command is an INSERT
            w.conn.execute(f"INSERT INTO {_FTS}({_FTS}, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as exc:  # a disk's refusal is a StorageError, raised
        return [f"{LEXICAL_PROBLEM} FTS5 integrity-check: {_one_line(exc)}"]
    return []


def lexical_counts(store: Store) -> list[str]:
    """A check of the lexical index cheap enough for a server's start: whether FTS5 holds as many
    rows as there are passages, up to the same highest id (7 ms for 30,000 passages, where
    ``lexical_problems`` and Store.problems() take 0.1 s each). It misses a row missing where
    another is extra, and damage inside the index; ``qa index`` finds those."""
    with store.read() as conn:
        passages, last = conn.execute("SELECT count(*), max(id) FROM passages").fetchone()
        rows, last_row = conn.execute(f"SELECT count(*), max(rowid) FROM {_FTS}").fetchone()
    if (rows, last_row) == (passages, last):
        return []
    return [f"{LEXICAL_PROBLEM} {rows} rows for {passages} passages"]


def repair_lexical(store: Store) -> int:
    """Make the lexical index hold exactly the stored passages' terms, computing those it lacks
    from the stored articles' text as ingest does (no model call); returns how many it wrote.

    Rows FTS5 still holds are kept: if its inverted index disagrees with them it is rebuilt from
    them (FTS5's ``rebuild``), and if they cannot be read the table is made again, from the
    definition the store holds, and every passage's terms are written. IndexStateError if an
    article's text cannot be read (damage to the store of record: not repaired here)."""
    if lexical_problems(store):
        try:
            with store.write() as w:
                w.conn.execute(f"INSERT INTO {_FTS}({_FTS}) VALUES ('rebuild')")
        except sqlite3.DatabaseError as exc:  # a disk's refusal is a StorageError, raised
            log.warning("the lexical index cannot be rebuilt from its rows (%s)", _one_line(exc))
            _recreate_lexical(store)
    with store.write() as w:
        w.conn.execute(f"DELETE FROM {_FTS} WHERE rowid NOT IN (SELECT id FROM passages)")
        missing = w.conn.execute(
            "SELECT p.id, p.start, p.end, a.id, CAST(a.text AS BLOB) FROM passages p "
            f"JOIN articles a ON a.id = p.article WHERE p.id NOT IN (SELECT rowid FROM {_FTS}) "
            "ORDER BY p.id"
        ).fetchall()
        rows = []
        for pid, start, end, article, text in missing:
            try:
                passage = text.decode("utf-8")[start:end]
            except UnicodeDecodeError:  # a damaged row of record: not for this to repair
                raise IndexStateError(f"article row {article}: its text is not UTF-8") from None
            # a passage's terms as ingest stores them (qa/ingest/prepare.py, `cut`)
            rows.append((pid, " ".join(terms(passage))))
        w.conn.executemany(f"INSERT INTO {_FTS}(rowid, terms) VALUES (?, ?)", rows)
    return len(rows)


def _recreate_lexical(store: Store) -> None:
    """Drop the FTS5 table (and its vocabulary view) and create them again, empty, as the store
    defines them."""
    with store.write() as w:
        defined = dict(
            w.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE name IN (?, ?)", (_FTS, _FTS_VOCAB)
            ).fetchall()
        )
        for name in (_FTS_VOCAB, _FTS):
            if name in defined:
                w.conn.execute(f"DROP TABLE {name}")
        for name in (_FTS, _FTS_VOCAB):
            if name in defined:
                w.conn.execute(defined[name])


def repair_derived(live: LiveIndex, problems: list[str]) -> None:
    """Repair what ``problems`` (all ``in_derived_data``) name, from the store alone."""
    if any(not p.startswith(DENSE_PROBLEM) for p in problems):
        written = repair_lexical(live.store)
        log.info("lexical index repaired: the terms of %d passages written", written)
    if any(p.startswith(DENSE_PROBLEM) for p in problems):
        rebuild_dense(live)


# -- setting a damaged store aside ----------------------------------------------------------------
def set_aside(folder: Path) -> Path:
    """Rename the store's files out of the way; returns the new name of the database file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    aside = folder / f"{DB_FILE}.damaged-{stamp}"
    for suffix in ("", "-wal", "-shm"):
        path = folder / f"{DB_FILE}{suffix}"
        if path.exists():
            path.rename(folder / f"{aside.name}{suffix}")
    with snapshot_lock(folder, exclusive=True):  # snapshots of the store just set aside
        remove_snapshots(folder, -1, newer=True)  # and their manifests
    return aside


_ARTICLE_COLUMNS = (
    "doc_id",
    "title",
    "text",
    "source",
    "url",
    "published",
    "author",
    "origin",
    "metadata",
)


def salvage_articles(path: Path) -> list[Article]:
    """The articles SQLite can still read from a damaged store (none if it reads nothing).

    A row that cannot be read (a damaged page, text that is not UTF-8, metadata that is not
    JSON) is skipped with a warning naming it; the rows after it are still read. Of two rows with
    one id (a damaged unique index), the later written is kept."""
    found: dict[str, Article] = {}
    for rowid, values in _readable_rows(path, "articles", _ARTICLE_COLUMNS):
        try:
            article = _salvaged_article(values)
        except ValueError as exc:
            log.warning("%s: article row %d%s: %s: skipped", path.name, rowid, _id(values), exc)
            continue
        found.pop(article.doc_id, None)
        found[article.doc_id] = article
    return list(found.values())


def _salvaged_article(values: tuple[Any, ...]) -> Article:
    row = dict(zip(_ARTICLE_COLUMNS, values, strict=True))
    try:
        metadata = json.loads(_required("metadata", row["metadata"]))
    except json.JSONDecodeError:
        metadata = None
    if not isinstance(metadata, dict):
        raise ValueError("its metadata is not a JSON object")
    return Article(
        doc_id=_required("doc_id", row["doc_id"]),
        title=_required("title", row["title"]),
        text=_required("text", row["text"]),
        source=_text("source", row["source"]),
        url=_text("url", row["url"]),
        published=_text("published", row["published"]),
        author=_text("author", row["author"]),
        origin=_text("origin", row["origin"]),
        metadata=metadata,
    )


def salvage_files(path: Path) -> dict[str, tuple[str, list[str]]]:
    """What a damaged store still says of the corpus files (``Store.files()``): each file's
    stamp and the ids it claims. The claims are the record of direct writes and deletes: an id
    a file no longer claims was written or deleted through the API, and stays so."""
    found: dict[str, tuple[str, list[str]]] = {}
    for rowid, (key, stamp, claimed) in _readable_rows(path, "files", ("path", "stamp", "doc_ids")):
        try:
            file = _salvaged_file(_text("path", key), _text("stamp", stamp), _text("ids", claimed))
        except ValueError as exc:
            log.warning("%s: files row %d: %s: skipped", path.name, rowid, exc)
            continue
        found[file[0]] = file[1]
    return found


def _salvaged_file(
    key: str | None, stamp: str | None, claimed: str | None
) -> tuple[str, tuple[str, list[str]]]:
    try:
        ids = json.loads(claimed or "")
    except json.JSONDecodeError:
        ids = None
    if not key or not stamp:
        raise ValueError("its path or stamp is missing")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("its ids are not a JSON list of strings")
    return key, (stamp, ids)


def restore_files(store: Store, files: dict[str, tuple[str, list[str]]]) -> list[str]:
    """Write ``files`` (from ``salvage_files``) into ``store``'s bookkeeping; returns the ids
    they claim that ``store`` lacks (whose articles were unreadable), which only a forced folder
    sync reads again from their unchanged files.

    Write the salvaged articles first: a direct write takes its ids out of the files' claims."""
    with store.write() as w:
        for key, (stamp, ids) in files.items():
            w.set_file(key, stamp, ids)
    claimed = sorted({doc_id for _, ids in files.values() for doc_id in ids})
    held = store.content_hashes(claimed)
    return [doc_id for doc_id in claimed if doc_id not in held]


def _readable_rows(path: Path, table: str, columns: tuple[str, ...]) -> Iterator[tuple[int, Any]]:
    """Each row of ``table`` in the database at ``path`` that SQLite can still read, as
    (rowid, values), text as bytes (``_text`` decodes it): one row that SQLite cannot read, or
    cannot decode, costs that row alone."""
    try:
        conn = sqlite3.connect(path)
    except sqlite3.Error as exc:
        log.warning("%s cannot be opened (%s): nothing read from it", path.name, _one_line(exc))
        return
    conn.text_factory = bytes  # decoded per value: one bad byte must not end the read
    try:
        rowids = _rowids(conn, table, path)
        select = f"SELECT {', '.join(columns)} FROM {table} WHERE rowid = ?"
        unreadable = 0
        for rowid in rowids:
            try:
                values = conn.execute(select, (rowid,)).fetchone()
            except sqlite3.DatabaseError as exc:
                unreadable += 1
                if unreadable <= 20:
                    log.warning(
                        "%s: %s row %d is unreadable (%s): skipped",
                        path.name,
                        table,
                        rowid,
                        _one_line(exc),
                    )
                continue
            if values is not None:  # a rowid guessed past a damaged page (``_rowids``)
                yield rowid, values
        if unreadable > 20:
            log.warning("%s: %d rows of %s in all are unreadable", path.name, unreadable, table)
    finally:
        conn.close()


def _rowids(conn: sqlite3.Connection, table: str, path: Path) -> list[int]:
    """The rowids of ``table``, read from the table and from each of its indexes (any of them may
    be damaged). If the table itself cannot be read to the end, every rowid up to the highest
    known (AUTOINCREMENT's counter included) is tried."""
    found: set[int] = set()
    whole = _collect(conn, f"SELECT rowid FROM {table} NOT INDEXED", found)
    try:
        indexes = [
            r[0].decode()
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
        ]
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        indexes = []
    for index in indexes:
        _collect(conn, f'SELECT rowid FROM {table} INDEXED BY "{index}"', found)
    if not whole:
        _collect(conn, f"SELECT seq FROM sqlite_sequence WHERE name = '{table}'", found)
        top = min(max(found, default=0), _MAX_PROBES)
        if top:
            log.warning(
                "%s: its %s table cannot be read to the end: trying each row id up to %d",
                path.name,
                table,
                top,
            )
        else:
            log.warning("%s: nothing of its %s table can be read", path.name, table)
        found.update(range(1, top + 1))
    return sorted(found)


_MAX_PROBES = 10_000_000
"""row ids tried one by one past a damaged page, at most (a few microseconds each)"""


def _collect(conn: sqlite3.Connection, sql: str, into: set[int]) -> bool:
    """Add the integers ``sql`` reads to ``into`` until it fails; whether it read them all."""
    try:
        for (value,) in conn.execute(sql):
            if isinstance(value, int):
                into.add(value)
    except sqlite3.DatabaseError:
        return False
    return True


def _text(column: str, value: object) -> str | None:
    """A stored text value read as bytes, decoded; ValueError naming ``column`` if it is not
    UTF-8 text."""
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise ValueError(f"its {column} is not text")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"its {column} is not UTF-8") from None


def _required(column: str, value: object) -> str:
    text = _text(column, value)
    if text is None:
        raise ValueError(f"its {column} is missing")
    return text


def _id(values: tuple[Any, ...]) -> str:
    """`` (doc_id '...')`` of a salvaged row, to name it in a warning, if it has one."""
    doc_id = values[0]
    if not isinstance(doc_id, bytes):
        return ""
    return f" (doc_id {doc_id.decode('utf-8', 'replace')[:80]!r})"


def _one_line(exc: BaseException) -> str:
    """An error's message on one line, at most 200 characters (SQLite's quote the text)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:199] + "…"

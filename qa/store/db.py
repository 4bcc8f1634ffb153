"""The database of record: articles, passages, sentences, their vectors and the lexical index.

One SQLite file in WAL mode (``store.sqlite3`` in the index folder). Every write is one
transaction: an article, its sentences with their vectors, its passages with theirs, the passages'
FTS5 rows and the change-log entries commit together or not at all, and ``synchronous=FULL``
makes a commit durable before it is acknowledged. Readers run in their own read transactions
(WAL snapshots): they never wait for a writer and never see half of one.

Passage and sentence ids are ``AUTOINCREMENT``: never reused, so a passage id names one passage
for ever and is the id of its vector in the FAISS index. The ``changes`` table is the log that
FAISS replays: ``('add'|'del', passage id)`` in commit order.

The lexical index is an FTS5 table over each passage's stemmed terms (``qa/store/terms.py``),
scored with FTS5's ``bm25()`` (k1 = 1.2, b = 0.75): adds and deletes are ordinary row writes in
the same transaction, so it is always exactly as current as the articles.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ConflictError, IndexStateError, StorageError
from qa.records import Article, Span
from qa.search.filters import Filters
from qa.store.terms import fts_query

__all__ = [
    "DB_FILE",
    "SCHEMA_VERSION",
    "Prepared",
    "Store",
    "StoredPassage",
    "StoredSentences",
    "disk_refused",
    "storage_error",
    "waiting_of",
    "waiting_stamp",
]

DB_FILE = "store.sqlite3"
SCHEMA_VERSION = 2
"""2 added ``sentences.terms`` and ``articles.topic`` (stemmed at ingest, so questions need not
stem the candidates' sentences); a version 1 store gains the two columns when opened, and its
rows without them are stemmed at question time. The covering indexes (``COVERING_INDEXES``) are
no version: made when missing at every open, so that a release without them still opens (and
keeps up) a store that has them."""
WAL_SIZE_LIMIT = 32 * 1024 * 1024
"""bytes the WAL file is truncated to when a checkpoint empties it (SQLite's journal_size_limit)"""

# SQLite's primary result codes that say the disk or the system refused, not that the file is
# damaged: the store is intact, and repairing it (setting it aside, re-embedding) would be wrong.
_ENVIRONMENT = frozenset(
    {
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOLFS,
    }
)


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def disk_refused(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says that the disk or the system refused (full, I/O error, read-only,
    locked), not that the database is damaged (corrupt, not a database) or the statement bad."""
    return _primary_code(exc) in _ENVIRONMENT


def storage_error(exc: sqlite3.Error, path: Path) -> StorageError:
    """The error to report for ``exc``, a refusal of the disk (``disk_refused``), on ``path``.

    A full disk is not always SQLITE_FULL: one too full for the WAL index file (``-shm``) is a
    "disk I/O error". So the disk's free space is looked at too."""
    free = _free_bytes(path)
    full = _primary_code(exc) == sqlite3.SQLITE_FULL or (free is not None and free < _NEARLY_FULL)
    if full:
        room = "" if free is None else f", {free:,} bytes free"
        return StorageError(
            f"{path}: {exc} (the disk is full{room}): nothing was changed; free space on that "
            "disk and try again",
            full=True,
        )
    return StorageError(f"{path}: {exc} (the disk refused; the store is not damaged)")


_NEARLY_FULL = 1 << 20
"""bytes free below which a disk error is put down to a full disk"""


def _free_bytes(path: Path) -> int | None:
    for folder in (path, *path.parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(folder).free
    return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT, url TEXT, published TEXT, author TEXT, origin TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT NOT NULL,
    written_at REAL NOT NULL,
    topic TEXT
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL,
    terms TEXT
);
CREATE INDEX IF NOT EXISTS sentences_article ON sentences(article);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    first_sentence INTEGER NOT NULL,
    n_sentences INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article);
CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms USING fts5(terms, tokenize = 'unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS passage_vocab USING fts5vocab(passage_terms, 'row');
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL CHECK (op IN ('add', 'del')),
    passage INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    doc_ids TEXT NOT NULL
);
"""

# Covering indexes for the lookup every question makes (``passage_sources``): its candidates'
# article rows and origins read from small index entries, not from passage rows that hold a
# vector and article rows that hold the whole text (``origin`` comes after ``text``, on its
# overflow pages). 60 candidates: 0.23 -> 0.07 ms on the BBC archive. Made at open when missing
# (``Store.open``): 0.02 s for the BBC archive's 20,112 passages.
COVERING_INDEXES = {
    "passages_owner": "CREATE INDEX IF NOT EXISTS passages_owner ON passages(id, article)",
    "articles_origin": "CREATE INDEX IF NOT EXISTS articles_origin ON articles(id, origin)",
}
PASSAGE_SOURCES = (
    "SELECT p.id, p.article, a.origin FROM passages p INDEXED BY passages_owner "
    "JOIN articles a INDEXED BY articles_origin ON a.id = p.article WHERE p.id IN ({marks})"
)


@dataclass(frozen=True, slots=True)
class Prepared:
    """An article ready to store: cut into sentences and passages, every vector computed."""

    article: Article
    content_hash: str
    sentences: list[Span]
    windows: list[tuple[int, int]]
    """passage i = sentences[first : first + count]"""
    sentence_vectors: np.ndarray
    passage_vectors: np.ndarray
    passage_terms: list[str]
    """each passage's stemmed terms, space-separated"""
    sentence_terms: list[str]
    """each sentence's stemmed terms, space-separated"""
    topic: str
    """the stemmed terms of the title and opening (what the article is about), space-separated"""


@dataclass(frozen=True, slots=True)
class StoredPassage:
    passage_id: int
    article_row: int
    span: Span
    sentence_ids: range
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class StoredSentences:
    """An article's sentences as stored: ids ``first_id`` onwards, in order."""

    first_id: int
    spans: list[Span]
    vectors: np.ndarray
    terms: list[str | None]
    """each one's stemmed terms (None in a version 1 row)"""


PENDING = "pending"
"""what starts the mark of a file whose articles are being written, or that waits for ids
another holds (``waiting_stamp``): never a real stamp, so the file is read again. (Stores synced
before the mark kept the file's stamp may hold it bare: that file is read again whole.)"""


def waiting_stamp(stamp: str, waiting: Sequence[str]) -> str:
    """The mark recorded for a file read at ``stamp`` whose articles are being written, or that
    holds ``waiting``, ids another file or a direct write has: never a real stamp, so the file is
    read again (at the next sync, or at each until the clash is gone), while ``stamp`` still
    tells whether it changed."""
    return f"{PENDING} {stamp} {json.dumps(sorted(waiting))}"


def waiting_of(stamp: str) -> tuple[str, list[str]] | None:
    """The file's real stamp and the ids it waits for, if ``stamp`` is a ``waiting_stamp``."""
    parts = stamp.split(" ", 2)  # a real stamp holds no space
    if len(parts) != 3 or parts[0] != PENDING:
        return None
    try:
        waiting = json.loads(parts[2])
    except json.JSONDecodeError:
        return None
    return parts[1], [d for d in waiting if isinstance(d, str)]


def _in_chunks(values: Sequence[Any], size: int = 900) -> Iterator[tuple[list[Any], str]]:
    """``values`` in chunks of at most ``size`` (SQLite's limit on bound parameters was 999 before
    3.32), each with its ``?,?,...`` placeholders."""
    for i in range(0, len(values), size):
        chunk = list(values[i : i + size])
        yield chunk, ",".join("?" * len(chunk))


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _article(row: sqlite3.Row) -> Article:
    return Article(
        doc_id=row["doc_id"],
        title=row["title"],
        text=row["text"],
        source=row["source"],
        url=row["url"],
        published=row["published"],
        author=row["author"],
        origin=row["origin"],
        metadata=json.loads(row["metadata"]),
    )


class Store:
    """The SQLite store in ``folder``. Thread-safe: one connection per thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / DB_FILE
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        """each thread's connection, to close them all (``close``) or when the thread ends"""
        self._connections_lock = threading.Lock()

    @classmethod
    def open(cls, folder: Path, *, create: bool = True) -> Store:
        if not create and not (folder / DB_FILE).is_file():
            raise IndexStateError(f"no store in {folder}: run `qa index` first")
        folder.mkdir(parents=True, exist_ok=True)
        store = cls(folder)
        try:
            conn = store._conn()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, SCHEMA_VERSION):
                raise IndexStateError(
                    f"{store.path} has schema version {version}, this version reads "
                    f"{SCHEMA_VERSION}: move it away and run `qa index` to rebuild"
                )
            if version == 0:
                with store.write() as w:
                    w.executescript_in_tx(_SCHEMA)
                    w.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version == 1:
                store.upgrade_from_1()
            store.add_missing_indexes()
        except sqlite3.DatabaseError as exc:
            store.close()
            if disk_refused(exc):  # a full disk cannot create the WAL index: not damage
                raise storage_error(exc, store.path) from exc
            raise IndexStateError(f"{store.path} is not a readable database ({exc})") from exc
        return store

    def upgrade_from_1(self) -> None:
        """Add version 2's columns, unless another process did since this one looked."""
        with self.write() as w:
            if w.conn.execute("PRAGMA user_version").fetchone()[0] == 1:
                w.conn.execute("ALTER TABLE sentences ADD COLUMN terms TEXT")
                w.conn.execute("ALTER TABLE articles ADD COLUMN topic TEXT")
                w.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def add_missing_indexes(self) -> None:
        """Make the covering indexes that ``passage_sources`` reads with ``INDEXED BY`` if this
        store lacks them (made by an older release, or dropped); a write only then."""
        with self.read() as conn:
            present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if not present.issuperset(COVERING_INDEXES):
            with self.write() as w:
                for statement in COVERING_INDEXES.values():
                    w.conn.execute(statement)  # IF NOT EXISTS: another process may have

    # -- connections ----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 60000")
            # After a large transaction (a re-embedding) the WAL file kept its size for good;
            # a checkpoint that empties it now truncates it to this.
            conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            self._local.conn = conn
            with self._connections_lock:
                self._close_ended_threads()
                self._connections[threading.current_thread()] = conn
        return conn

    def _close_ended_threads(self) -> None:
        """Close the connections of threads that have ended. A server's thread pool retires idle
        threads and starts new ones (anyio's after 10 s idle): without this, every retired thread
        left an open connection (its file handles and page cache) for the life of the process."""
        for thread, conn in list(self._connections.items()):
            if not thread.is_alive():
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
                del self._connections[thread]

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections.values():
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        conn = self._conn()
        if conn.in_transaction:  # nested inside a write or read of this thread
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[Writer]:
        """One write transaction; other processes' writers wait on SQLite's lock (busy_timeout).

        All or nothing: whatever fails (the body, or the COMMIT on a full disk) leaves the store
        as it was. A disk that refuses the write is a StorageError, not a SQLite error."""
        with self._write_lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Writer(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    # SQLite has already rolled back after some errors (a full disk): only an
                    # open transaction is rolled back here, so that the first error is reported
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                if disk_refused(exc):
                    raise storage_error(exc, self.path) from exc
                raise

    # -- meta -------------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        with self.read() as conn:
            return {r["key"]: json.loads(r["value"]) for r in conn.execute("SELECT * FROM meta")}

    # -- counts and the change log ---------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        with self.read() as conn:
            articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        return int(articles), int(passages)

    def last_seq(self) -> int:
        row = (
            self._conn()
            .execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
            .fetchone()
        )
        return int(row[0]) if row else 0

    def changes_since(self, seq: int) -> tuple[list[tuple[int, str, int]], int, int]:
        """Changes after ``seq`` in order, the first seq still in the log (0 if empty) and the
        last seq ever written, all read in one snapshot."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT seq, op, passage FROM changes WHERE seq > ? ORDER BY seq", (seq,)
            ).fetchall()
            first = conn.execute("SELECT min(seq) FROM changes").fetchone()[0]
            last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        return [(r[0], r[1], r[2]) for r in rows], int(first or 0), int(last[0] if last else 0)

    def prune_changes(self, upto: int) -> None:
        with self.write() as w:
            w.conn.execute("DELETE FROM changes WHERE seq <= ?", (upto,))

    # -- articles ---------------------------------------------------------------------------------
    def article(self, doc_id: str) -> Article | None:
        with self.read() as conn:
            row = conn.execute("SELECT * FROM articles WHERE doc_id = ?", (doc_id,)).fetchone()
        return _article(row) if row else None

    def articles_by_row(self, rows: Sequence[int]) -> dict[int, tuple[Article, str | None]]:
        """Articles by row id, each with its stored topic terms (None in a version 1 row).
        What answers need of them is kept in memory by ``qa.answer.sentences``."""
        out: dict[int, tuple[Article, str | None]] = {}
        with self.read() as conn:
            for chunk, marks in _in_chunks([int(x) for x in rows]):
                found = conn.execute(f"SELECT * FROM articles WHERE id IN ({marks})", chunk)
                out.update({r["id"]: (_article(r), r["topic"]) for r in found})
        return out

    def list_articles(self, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        with self.read() as conn:
            # SQLite's length() of a text stops at its first NUL: such a text (rare) is counted
            # here, from the text itself
            rows = conn.execute(
                "SELECT doc_id, title, source, url, published, author, "
                "CASE WHEN instr(CAST(text AS BLOB), x'00') THEN NULL ELSE length(text) END "
                "AS length FROM articles ORDER BY doc_id LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            ).fetchall()
            out = [dict(r) for r in rows]
            for r in out:
                if r["length"] is None:
                    text = conn.execute(
                        "SELECT text FROM articles WHERE doc_id = ?", (r["doc_id"],)
                    ).fetchone()[0]
                    r["length"] = len(text)
        return out

    def content_hashes(self, doc_ids: Sequence[str] | None = None) -> dict[str, str]:
        with self.read() as conn:
            if doc_ids is None:
                rows = conn.execute("SELECT doc_id, content_hash FROM articles").fetchall()
            else:
                rows = []
                for chunk, marks in _in_chunks(doc_ids):
                    rows += conn.execute(
                        f"SELECT doc_id, content_hash FROM articles WHERE doc_id IN ({marks})",
                        chunk,
                    ).fetchall()
        return {r[0]: r[1] for r in rows}

    def origins(self, doc_ids: Sequence[str]) -> dict[str, str | None]:
        """Where each of these stored articles was read from (None: written through the API)."""
        out: dict[str, str | None] = {}
        with self.read() as conn:
            for chunk, marks in _in_chunks(doc_ids):
                out.update(
                    conn.execute(
                        f"SELECT doc_id, origin FROM articles WHERE doc_id IN ({marks})", chunk
                    ).fetchall()
                )
        return out

    # -- passages, sentences, vectors --------------------------------------------------------------
    def passage_sources(self, ids: Sequence[int]) -> dict[int, tuple[int, str | None]]:
        """The article row and origin of each of these passages that is stored. ``origin`` is
        the one field of an article row updated in place (``Writer.set_origins``), so a question
        reads it here rather than from a cache of rows."""
        out: dict[int, tuple[int, str | None]] = {}
        with self.read() as conn:
            cur = conn.cursor()
            cur.row_factory = None  # plain tuples: a question reads these
            for chunk, marks in _in_chunks([int(i) for i in ids]):
                for pid, row, origin in cur.execute(
                    PASSAGE_SOURCES.format(marks=marks),
                    chunk,
                ):
                    out[pid] = (row, origin)
        return out

    def article_passages(
        self, rows: Sequence[int], dimension: int
    ) -> dict[int, list[StoredPassage]]:
        """Every passage of these article rows, with its vector, in order."""
        out: dict[int, list[StoredPassage]] = {}
        with self.read() as conn:
            cur = conn.cursor()
            cur.row_factory = None
            for chunk, marks in _in_chunks([int(x) for x in rows]):
                for r in cur.execute(
                    "SELECT id, article, first_sentence, n_sentences, start, end, vector "
                    f"FROM passages WHERE article IN ({marks}) ORDER BY id",
                    chunk,
                ):
                    out.setdefault(r[1], []).append(
                        StoredPassage(
                            r[0],
                            r[1],
                            Span(r[4], r[5]),
                            range(r[2], r[2] + r[3]),
                            np.frombuffer(r[6], dtype=np.float32, count=dimension),
                        )
                    )
        return out

    def passage_vectors(self, ids: Sequence[int], dimension: int) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        with self.read() as conn:
            for chunk, marks in _in_chunks([int(i) for i in ids]):
                for r in conn.execute(
                    f"SELECT id, vector FROM passages WHERE id IN ({marks})", chunk
                ):
                    out[r[0]] = np.frombuffer(r[1], dtype=np.float32, count=dimension)
        return out

    def article_sentences(self, rows: Sequence[int], dimension: int) -> dict[int, StoredSentences]:
        """Every sentence of these article rows, in order: spans, vectors and stored terms."""
        if not rows:
            return {}
        found: list[tuple[int, int, int, int, bytes, str | None]] = []
        with self.read() as conn:
            cur = conn.cursor()
            cur.row_factory = None  # plain tuples: a question reads hundreds of these
            for chunk, marks in _in_chunks([int(x) for x in rows]):
                found += cur.execute(
                    "SELECT article, id, start, end, vector, terms FROM sentences "
                    f"WHERE article IN ({marks}) ORDER BY article, id",
                    chunk,
                ).fetchall()
        vectors = np.frombuffer(b"".join(r[4] for r in found), dtype=np.float32).reshape(
            len(found), dimension
        )
        out: dict[int, StoredSentences] = {}
        i = 0
        while i < len(found):
            row, j = found[i][0], i
            while j < len(found) and found[j][0] == row:
                j += 1
            ids = [r[1] for r in found[i:j]]
            if ids[-1] - ids[0] != len(ids) - 1:  # passages address sentences by id ranges
                raise IndexStateError(f"article row {row}: its sentence ids are not contiguous")
            out[row] = StoredSentences(
                ids[0],
                [Span(r[2], r[3]) for r in found[i:j]],
                vectors[i:j].copy(),  # its own: a cached article must not pin the whole read
                [r[5] for r in found[i:j]],
            )
            i = j
        return out

    def article_rows(self) -> list[int]:
        """Every article's row id, in order."""
        with self.read() as conn:
            return [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id")]

    def iter_passage_vectors(
        self, dimension: int, batch: int = 20_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored passage vector as (ids, vectors) batches, in id order."""
        last = -1
        while True:
            with self.read() as conn:
                rows = conn.execute(
                    "SELECT id, vector FROM passages WHERE id > ? ORDER BY id LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield ids, vectors.reshape(len(rows), dimension)
            last = int(ids[-1])

    def distinct_sources(self) -> list[str]:
        """Every source name stored, in order. Outlets are few and articles many: each step
        seeks the next name in the index (a loose index scan), where ``SELECT DISTINCT`` read
        every article's entry, on every source-filtered question (0.75 ms against 0.02 ms for
        30,000 articles of 12 outlets)."""
        with self.read() as conn:
            rows = conn.execute(
                "WITH RECURSIVE names(name) AS ("
                " SELECT min(source) FROM articles"
                " UNION ALL"
                " SELECT (SELECT min(source) FROM articles WHERE source > names.name)"
                " FROM names WHERE names.name IS NOT NULL"
                ") SELECT name FROM names WHERE name IS NOT NULL"
            )
            return [r[0] for r in rows]

    def _filter_sql(self, filters: Filters) -> tuple[str, list[object]]:
        """``filters`` as SQL on ``articles a``, source names matched by ``source_key``."""
        return filters.sql("a", self.distinct_sources() if filters.sources is not None else None)

    def allowed_passages(self, filters: Filters) -> np.ndarray:
        with self.read() as conn:
            where, params = self._filter_sql(filters)
            rows = conn.execute(
                f"SELECT p.id FROM passages p JOIN articles a ON a.id = p.article WHERE {where}",
                params,
            ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    # -- lexical ----------------------------------------------------------------------------------
    def bm25(
        self, query_terms: list[str], k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """Best ``k`` passages by BM25 (higher is better) among those matching ``filters``."""
        match = fts_query(query_terms)
        if match is None or k <= 0:
            return []
        sql = "SELECT rowid, -bm25(passage_terms) FROM passage_terms WHERE passage_terms MATCH ?"
        params: list[object] = [match]
        if filters is not None and not filters.empty:
            where, extra = self._filter_sql(filters)
            sql += (
                " AND rowid IN (SELECT p.id FROM passages p JOIN articles a "
                f"ON a.id = p.article WHERE {where})"
            )
            params += extra
        sql += " ORDER BY rank LIMIT ?"
        with self.read() as conn:
            rows = conn.execute(sql, [*params, k]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def passage_terms(self, ids: Sequence[int]) -> list[tuple[int, str]]:
        """(passage id, its stemmed terms) of the passages still stored."""
        out: list[tuple[int, str]] = []
        with self.read() as conn:
            for chunk, marks in _in_chunks([int(x) for x in ids]):
                out += conn.execute(
                    f"SELECT rowid, terms FROM passage_terms WHERE rowid IN ({marks})", chunk
                ).fetchall()
        return [(int(r[0]), r[1]) for r in out]

    def all_passage_terms(self) -> list[tuple[int, str]]:
        with self.read() as conn:
            cur = conn.cursor()
            cur.row_factory = None
            return cur.execute("SELECT rowid, terms FROM passage_terms").fetchall()

    def doc_freq(self, query_terms: Sequence[str]) -> dict[str, int]:
        """How many passages hold each of the terms (terms held by none are left out)."""
        unique = list(dict.fromkeys(query_terms))
        if not unique:
            return {}
        marks = ",".join("?" * len(unique))
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT term, doc FROM passage_vocab WHERE term IN ({marks})", unique
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # -- consistency ------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What is inconsistent in the store (empty when whole): SQLite's own quick check, then
        the links between articles, sentences, passages and the lexical index."""
        with self.read() as conn:
            quick = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if quick != ["ok"]:
                return [f"sqlite quick_check: {q}" for q in quick[:5]]
            checks = {
                "passages without lexical terms": "SELECT count(*) FROM passages "
                "WHERE id NOT IN (SELECT rowid FROM passage_terms)",
                "lexical rows without a passage": "SELECT count(*) FROM passage_terms "
                "WHERE rowid NOT IN (SELECT id FROM passages)",
                "passages whose sentences are missing": "SELECT count(*) FROM passages p WHERE "
                "(SELECT count(*) FROM sentences s WHERE s.article = p.article AND s.id BETWEEN "
                "p.first_sentence AND p.first_sentence + p.n_sentences - 1) != p.n_sentences",
                "sentences of no article": "SELECT count(*) FROM sentences "
                "WHERE article NOT IN (SELECT id FROM articles)",
            }
            found = []
            for what, sql in checks.items():
                n = conn.execute(sql).fetchone()[0]
                if n:
                    found.append(f"{n} {what}")
        return found

    def passage_ids(self) -> np.ndarray:
        """Every stored passage id, sorted. Read unordered, as plain tuples, and sorted here:
        SQLite then reads the smallest index, not the table's pages of vectors (61,000
        passages: 15 ms, where ``ORDER BY id`` took 60)."""
        with self.read() as conn, contextlib.closing(conn.cursor()) as cur:
            cur.row_factory = None
            rows = cur.execute("SELECT id FROM passages").fetchall()
        return np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))

    # -- folder sync bookkeeping ------------------------------------------------------------------
    def files_waiting(self) -> bool:
        """Whether a corpus file waits for an id that another file or a direct write holds
        (``waiting_stamp``)."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT 1 FROM files WHERE substr(stamp, 1, ?) = ? LIMIT 1",
                (len(PENDING) + 1, PENDING + " "),
            ).fetchone()
        return row is not None

    def freed_waits(self) -> list[str]:
        """The ids corpus files wait for (``waiting_stamp``) that no stored article holds any
        more: the article written directly that held one was deleted, by this process or
        another (`qa delete`), and the next sync of the folder gives the id to its file."""
        with self.read() as conn:
            stamps = conn.execute(
                "SELECT stamp FROM files WHERE substr(stamp, 1, ?) = ?",
                (len(PENDING) + 1, PENDING + " "),
            ).fetchall()
            waited = sorted({d for (stamp,) in stamps for d in (waiting_of(stamp) or ("", []))[1]})
            held: set[str] = set()
            for chunk, marks in _in_chunks(waited):
                held.update(
                    r[0]
                    for r in conn.execute(
                        f"SELECT doc_id FROM articles WHERE doc_id IN ({marks})", chunk
                    )
                )
        return [d for d in waited if d not in held]

    def synced_elsewhere(self, root: Path) -> str | None:
        """The folder of a file recorded by folder syncs that is not ``root`` nor under it, if
        any: the store holds articles synced from another folder (all of them, or some, after a
        switch to ``root`` that was cut short: its files are recorded as pending before any
        article is written). Three indexed range lookups, whatever the archive's size."""
        root = root.resolve()
        if root == Path(root.anchor):
            return None  # every file is under /
        below, after = f"{root}{os.sep}", f"{root}{chr(ord(os.sep) + 1)}"
        with self.read() as conn:
            row = conn.execute(
                "SELECT path FROM ("
                " SELECT path FROM (SELECT path FROM files WHERE path < ? LIMIT 1)"
                " UNION ALL SELECT path FROM (SELECT path FROM files"
                "  WHERE path > ? AND path < ? LIMIT 1)"
                " UNION ALL SELECT path FROM (SELECT path FROM files WHERE path >= ? LIMIT 1)"
                ") LIMIT 1",
                (str(root), str(root), below, after),
            ).fetchone()
        return None if row is None else str(Path(row[0]).parent)

    def files(self) -> dict[str, tuple[str, list[str]]]:
        with self.read() as conn:
            rows = conn.execute("SELECT path, stamp, doc_ids FROM files").fetchall()
        return {r[0]: (r[1], json.loads(r[2])) for r in rows}


class Writer:
    """The operations of one write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.added: list[int] = []
        self.removed: list[int] = []

    def executescript_in_tx(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self.conn.execute(statement)

    def set_meta(self, values: dict[str, Any]) -> None:
        self.conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()],
        )

    def delete_meta(self, keys: Sequence[str]) -> None:
        self.conn.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in keys])

    def exists(self, doc_id: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM articles WHERE doc_id = ?", (doc_id,)).fetchone()
        return row is not None

    def delete(self, doc_id: str) -> bool:
        row = self.conn.execute("SELECT id FROM articles WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return False
        ids = [
            r[0] for r in self.conn.execute("SELECT id FROM passages WHERE article = ?", (row[0],))
        ]
        self.conn.executemany("DELETE FROM passage_terms WHERE rowid = ?", [(i,) for i in ids])
        self.conn.executemany(
            "INSERT INTO changes(op, passage) VALUES ('del', ?)", [(i,) for i in ids]
        )
        self.conn.execute("DELETE FROM articles WHERE id = ?", (row[0],))  # cascades
        self.removed.extend(ids)
        return True

    def insert(self, prepared: Prepared, *, replace: bool = False) -> None:
        a = prepared.article
        if replace:
            self.delete(a.doc_id)
        elif self.exists(a.doc_id):
            raise ConflictError(f"a document with id {a.doc_id!r} already exists (use PUT)")
        cur = self.conn.execute(
            "INSERT INTO articles(doc_id, title, text, source, url, published, author, origin, "
            "metadata, content_hash, written_at, topic) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.doc_id,
                a.title,
                a.text,
                a.source,
                a.url,
                a.published,
                a.author,
                a.origin,
                json.dumps(a.metadata, ensure_ascii=False, sort_keys=True),
                prepared.content_hash,
                time.time(),
                prepared.topic,
            ),
        )
        row = cur.lastrowid
        sentence_ids = []
        for span, vector, words in zip(
            prepared.sentences, prepared.sentence_vectors, prepared.sentence_terms, strict=True
        ):
            c = self.conn.execute(
                "INSERT INTO sentences(article, start, end, vector, terms) VALUES (?, ?, ?, ?, ?)",
                (row, span.start, span.end, _blob(vector), words),
            )
            sentence_ids.append(c.lastrowid)
        for (first, count), vector, terms in zip(
            prepared.windows, prepared.passage_vectors, prepared.passage_terms, strict=True
        ):
            start = prepared.sentences[first].start
            end = prepared.sentences[first + count - 1].end
            c = self.conn.execute(
                "INSERT INTO passages(article, first_sentence, n_sentences, start, end, vector) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row, sentence_ids[first], count, start, end, _blob(vector)),
            )
            pid = int(c.lastrowid or 0)
            self.conn.execute("INSERT INTO passage_terms(rowid, terms) VALUES (?, ?)", (pid, terms))
            self.conn.execute("INSERT INTO changes(op, passage) VALUES ('add', ?)", (pid,))
            self.added.append(pid)

    def set_origins(self, origins: Sequence[tuple[str, str | None]]) -> None:
        """Record where unchanged articles are now read from ((doc_id, origin) pairs): a file
        moved or renamed, a JSON Lines line that moved. Nothing else of an article changes in
        place; its vectors and passages are those of its content, which did not change."""
        self.conn.executemany(
            "UPDATE articles SET origin = ? WHERE doc_id = ?", [(o, d) for d, o in origins]
        )

    def set_file(self, path: str, stamp: str, doc_ids: list[str]) -> None:
        self.conn.execute(
            "INSERT INTO files(path, stamp, doc_ids) VALUES (?, ?, ?) ON CONFLICT(path) "
            "DO UPDATE SET stamp = excluded.stamp, doc_ids = excluded.doc_ids",
            (path, stamp, json.dumps(doc_ids)),
        )

    def forget_file(self, path: str) -> None:
        self.conn.execute("DELETE FROM files WHERE path = ?", (path,))

    def release_claims(self, doc_ids: Sequence[str]) -> None:
        """Take ``doc_ids`` out of the ids their files claim (stamps unchanged): an article
        written or deleted directly (HTTP, ``qa add``, ``qa delete``) is no longer the folder
        sync's to replace or delete. A file's article is taken out of the ids other files wait
        for as well (``waiting_stamp``): no unchanged file brings it back. (An id the API held
        stays waited for: deleting that article is how a waiting file takes the id.)"""
        wanted = set(doc_ids)
        claimed: set[str] = set()
        for chunk, marks in _in_chunks(doc_ids):
            rows = self.conn.execute(
                "SELECT DISTINCT f.path, f.doc_ids FROM files AS f, json_each(f.doc_ids) AS j "
                f"WHERE j.value IN ({marks})",
                chunk,
            ).fetchall()
            for path, held in rows:
                claimed.update(d for d in json.loads(held) if d in wanted)
                kept = [d for d in json.loads(held) if d not in wanted]
                self.conn.execute(
                    "UPDATE files SET doc_ids = ? WHERE path = ?", (json.dumps(kept), path)
                )
        if not claimed:
            return
        rows = self.conn.execute(
            "SELECT path, stamp FROM files WHERE stamp LIKE ?", (f"{PENDING} %",)
        ).fetchall()
        for path, stamp in rows:
            if (parsed := waiting_of(stamp)) is not None and claimed & set(parsed[1]):
                still = [d for d in parsed[1] if d not in claimed]
                self.conn.execute(
                    "UPDATE files SET stamp = ? WHERE path = ?",
                    (waiting_stamp(parsed[0], still), path),
                )

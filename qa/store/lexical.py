"""BM25 over the passages' terms in process memory, beside the FAISS index.

SQLite FTS5 stays the lexical index of record (durable, transactional, written with each
article). Ranking with it costs 2-4 ms a question on the BBC archive, because FTS5 calls its
``bm25()`` function for every passage that holds any question term; a question's embedding takes
1-2 ms, so the lexical leg became the slowest part of ``/ask``. This index answers the same query
from posting arrays with a few numpy operations, well under a millisecond.

It is derived from the store like the dense index, never written to disk: built from the stored
terms in a background thread when a server starts (FTS5 answers until it is ready, so start-up
does not wait on archive size) and kept current from the change log by ``LiveIndex.sync``.

Scores are FTS5's ``bm25()`` (k1 1.2, b 0.75, idf ``log((N - n + 0.5) / (n + 0.5))``, at least
1e-6) over the same stored terms, read as FTS5's ``unicode61`` tokenizer reads them (diacritics
removed, ``_`` a separator), so the two rank alike; tests check it against a real FTS5 table.

Postings are kept Lucene-style: per term, a few immutable arrays (segments) of (passage, term
frequency); an add appends a small segment, a delete marks the passage dead; a term's segments are
merged, dropping dead postings, when they grow numerous.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["LexicalIndex", "tokens"]

_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """``text`` split as FTS5's unicode61 tokenizer splits it: on anything but letters and
    digits (``_`` included), lower-cased, diacritics removed ("José" -> "jose")."""
    if text.isascii():
        return text.lower().split() if "_" not in text else _TOKEN.findall(text.lower())
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    )
    return _TOKEN.findall(stripped.lower())


K1 = 1.2
B = 0.75
MERGE_AT = 8
"""a term's segments are merged into one when it has this many"""


class LexicalIndex:
    def __init__(self) -> None:
        self._segments: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._df: dict[str, int] = {}
        self._terms_of: dict[int, str] = {}
        """each live passage's stored terms, one string (a delete tokenizes them again to correct
        the statistics; a list of tokens per passage cost ~90 MB more on the BBC archive)"""
        self._length = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=bool)
        self._gone = np.zeros(0, dtype=bool)
        """removed ids: ids are never reused, so one coming back is a replayed change (a byte
        per id, as ``_alive``: a set of them grew by ~70 bytes for every passage ever removed)"""
        self._total = 0
        self._lock = threading.Lock()

    # -- building and updating ------------------------------------------------------------------
    @classmethod
    def build(cls, rows: Iterable[tuple[int, str]]) -> LexicalIndex:
        """From (passage id, space-separated terms) rows."""
        index = cls()
        index.add(rows)
        return index

    def __len__(self) -> int:
        return len(self._terms_of)

    def ids(self) -> np.ndarray:
        """The passage ids it holds, sorted."""
        with self._lock:
            return np.array(sorted(self._terms_of), dtype=np.int64)

    def _grow(self, top: int) -> None:
        if top >= len(self._alive):
            size = max(top + 1, int(len(self._alive) * 1.5), 1024)
            length = np.zeros(size, dtype=np.float64)
            length[: len(self._length)] = self._length
            alive = np.zeros(size, dtype=bool)
            alive[: len(self._alive)] = self._alive
            gone = np.zeros(size, dtype=bool)
            gone[: len(self._gone)] = self._gone
            self._length, self._alive, self._gone = length, alive, gone

    def add(self, rows: Iterable[tuple[int, str]]) -> None:
        """Add passages from (id, stored terms). A passage's id and terms never change, so an
        id already held, or removed before, is a change applied twice: it is ignored."""
        with self._lock:
            held, gone = self._terms_of, self._gone
            rows = [(p, t) for p, t in rows if p not in held and not (p < len(gone) and gone[p])]
            if not rows:
                return
            self._grow(max(pid for pid, _ in rows))
            postings: dict[str, tuple[list[int], list[int]]] = {}
            for pid, text in rows:
                words = tokens(text)
                counts: dict[str, int] = {}
                for w in words:
                    counts[w] = counts.get(w, 0) + 1
                for w, tf in counts.items():
                    entry = postings.setdefault(w, ([], []))
                    entry[0].append(pid)
                    entry[1].append(tf)
                    self._df[w] = self._df.get(w, 0) + 1
                self._terms_of[pid] = text
                self._length[pid] = len(words)
                self._alive[pid] = True
                self._total += len(words)
            for w, (pids, tfs) in postings.items():
                segments = self._segments.setdefault(w, [])
                segments.append((np.array(pids, dtype=np.int64), np.array(tfs, dtype=np.float64)))
                if len(segments) >= MERGE_AT:
                    self._merge(w)

    def remove(self, pids: Sequence[int]) -> None:
        with self._lock:
            self._remove(pids)

    def _remove(self, pids: Sequence[int]) -> None:
        for pid in pids:
            text = self._terms_of.pop(int(pid), None)
            self._grow(int(pid))
            self._gone[pid] = True
            if text is None:
                continue
            words = tokens(text)
            for w in set(words):
                self._df[w] -= 1
                if self._df[w] == 0:
                    del self._df[w]
                    self._segments.pop(w, None)
            self._alive[pid] = False
            self._total -= len(words)

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """A term's (passage ids, term frequencies), its segments joined."""
        segments = self._segments[term]
        if len(segments) == 1:
            return segments[0]
        return np.concatenate([p for p, _ in segments]), np.concatenate([f for _, f in segments])

    def _merge(self, term: str) -> None:
        pids, tfs = self._postings(term)
        live = self._alive[pids]
        self._segments[term] = [(pids[live], tfs[live])]

    # -- questions ------------------------------------------------------------------------------
    def doc_freq(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages hold each term (terms held by none are left out; a term that is
        not one token, such as ``a_b``, has no count, as in FTS5's vocabulary)."""
        out = {}
        with self._lock:
            for t in dict.fromkeys(terms):
                words = tokens(t)
                if len(words) == 1 and (df := self._df.get(words[0])):
                    out[t] = df
        return out

    def search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The best ``k`` passages holding any of ``terms`` (higher is better), among
        ``allowed`` passage ids when given; ties in id order."""
        if k <= 0:
            return []
        with self._lock:
            n = len(self._terms_of)
            if n == 0:
                return []
            avgdl = self._total / n
            ids, contributions = [], []
            # one contribution per distinct query term, as FTS5 scores each phrase of an OR
            # query ("josé" and "jose" both count); a term of several tokens ("a_b"), a phrase to
            # FTS5, counts here as its tokens, adjacent or not (stemmed words never hold "_")
            for t in (w for term in dict.fromkeys(terms) for w in tokens(term)):
                df = self._df.get(t)
                if not df:
                    continue
                idf = max(math.log((n - df + 0.5) / (df + 0.5)), 1e-6)
                pids, tfs = self._postings(t)
                norm = K1 * (1 - B + B * self._length[pids] / avgdl)
                ids.append(pids)
                contributions.append(idf * tfs * (K1 + 1) / (tfs + norm))
            if not ids:
                return []
            alive = self._alive.copy()
        pids = np.concatenate(ids)
        scores = np.bincount(pids, weights=np.concatenate(contributions), minlength=len(alive))
        hit = np.zeros(len(alive), dtype=bool)
        hit[pids] = True
        hit &= alive
        if allowed is not None:
            keep = np.zeros(len(alive), dtype=bool)
            keep[allowed[allowed < len(alive)]] = True
            hit &= keep
        matched = np.flatnonzero(hit)
        if len(matched) > k:  # the k best, and every passage tied with the k-th
            kth = np.partition(-scores[matched], k - 1)[k - 1]
            matched = matched[-scores[matched] <= kth]
        order = np.lexsort((matched, -scores[matched]))[:k]
        return [(int(p), float(scores[p])) for p in matched[order]]

"""Each article's sentences ready for the answer features, kept in memory by article row.

What a sentence's text alone decides (caption, length, numbers, answer-kind tokens) and its stored
vector do not change while the article exists: an article row is never updated (a replace is a
delete and a new row) and row ids are never reused. So they are computed once per article
(``ArticleSentences``) and kept here; a question only reads which passages are still stored, in
its read transaction, and looks its candidates' articles up.

A server fills the cache in a background thread when it starts (``start_warming``), up to
``capacity`` articles, so that a question nobody asked before finds its candidates ready too;
beyond that, the least recently used articles make room. A deleted article's entry is never
asked for again and ages out.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping

from qa.answer.features import ArticleSentences
from qa.store.db import Store

__all__ = ["SentenceCache"]

log = logging.getLogger(__name__)

WARM_BATCH = 256
"""articles read and prepared per read transaction while warming"""


class SentenceCache:
    def __init__(self, store: Store, dimension: int, capacity: int) -> None:
        self.store = store
        self.dimension = dimension
        self.capacity = capacity
        self._entries: OrderedDict[int, tuple[int, ArticleSentences]] = OrderedDict()
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, texts: Mapping[int, str]) -> dict[int, tuple[int, ArticleSentences]]:
        """For each article row of ``texts`` (row -> the article's text): its first sentence id
        and its sentences. Call it inside the read transaction that found the rows."""
        out: dict[int, tuple[int, ArticleSentences]] = {}
        with self._lock:
            for row in texts:
                if (hit := self._entries.get(row)) is not None:
                    self._entries.move_to_end(row)
                    out[row] = hit
        missing = [row for row in texts if row not in out]
        if not missing:
            return out
        stored = self.store.article_sentences(missing, self.dimension)
        built = {
            row: (s.first_id, ArticleSentences.build(texts[row], s.spans, s.vectors, s.terms))
            for row, s in stored.items()
        }
        out.update(built)
        if self.capacity > 0:
            with self._lock:
                self._entries.update(built)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
        return out

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # -- warming ---------------------------------------------------------------------------------
    def start_warming(self, *, wait: bool = False) -> None:
        """Prepare every stored article, up to ``capacity``, in a background thread."""
        with self._lock:
            if self._warming is None:
                self._warming = threading.Thread(
                    target=self._warm, name="qa-sentence-cache", daemon=True
                )
                self._warming.start()
            thread = self._warming
        if wait:
            thread.join()

    def _warm(self) -> None:
        try:
            rows = self.store.article_rows()
            for i in range(0, len(rows), WARM_BATCH):
                with self._lock:
                    room = self.capacity - len(self._entries)
                    batch = [r for r in rows[i : i + WARM_BATCH] if r not in self._entries]
                if room <= 0:
                    break
                with self.store.read():  # articles and their sentences of one committed state
                    articles = self.store.articles_by_row(batch[:room])
                    self.get({row: a.text for row, (a, _) in articles.items()})
            log.info("sentence cache: %d articles ready", len(self))
        except Exception:  # questions read what they need themselves: slower, never wrong
            log.exception("warming the sentence cache failed; questions read their sentences")

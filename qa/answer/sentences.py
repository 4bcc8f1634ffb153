"""Each article's sentences ready for the answer features, kept in memory by article row.

What a sentence's text alone decides (caption, length, numbers, answer-kind tokens) and its stored
vector do not change while the article exists: an article row is never updated (a replace is a
delete and a new row) but for its ``origin``, which answers read from the store (``QAEngine``),
and row ids are never reused. So they are computed once per article
(``ArticleSentences``) and kept here; a question only reads which passages are still stored, in
its read transaction, and looks its candidates' articles up.

A server fills the cache in a background thread when it starts (``start_warming``) with the
newest ``capacity`` articles, so that a question nobody asked before finds its candidates ready
too; beyond that, the least recently used articles make room. A deleted (or replaced) article's
entry is never asked for again: ``forget_deleted``, which a server calls at every dense snapshot,
drops it (it used to stay until the cache was full: on a small archive rewritten all day, up to
``capacity`` dead versions, ~60 KB each).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from qa.answer.features import ArticleSentences, Run, Topic, topic_terms
from qa.errors import IndexStateError
from qa.lru import LruCache
from qa.records import Article, Passage
from qa.store.db import Store

__all__ = ["PreparedArticle", "PreparedPassage", "SentenceCache"]

log = logging.getLogger(__name__)

WARM_BATCH = 256
"""articles read and prepared per read transaction while warming"""


@dataclass(frozen=True, slots=True)
class PreparedPassage:
    passage: Passage
    """with its text and its sentences' spans"""
    sentences: Run
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """What answering needs of one stored article, whatever the question."""

    article: Article
    sentences: ArticleSentences
    topic: Topic
    passages: Mapping[int, PreparedPassage]
    """every stored passage of it, by id"""


class SentenceCache:
    def __init__(self, store: Store, dimension: int, capacity: int) -> None:
        self.store = store
        self.dimension = dimension
        self.capacity = capacity
        self._entries: LruCache[int, PreparedArticle] = LruCache(capacity)
        self._lock = threading.Lock()
        """guards ``_warming``"""
        self._warming: threading.Thread | None = None
        self._stop = threading.Event()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, rows: Iterable[int], *, eager: bool = False) -> dict[int, PreparedArticle]:
        """These article rows prepared (a row no longer stored is left out). Call it inside
        the read transaction that found the rows. ``eager``: prepare what every question kind
        needs at once (warming), not as questions ask for it."""
        return self._entries.get_many(rows, lambda missing: self._prepare(missing, eager=eager))

    def _prepare(self, rows: list[int], *, eager: bool) -> dict[int, PreparedArticle]:
        articles = self.store.articles_by_row(rows)
        sentences = self.store.article_sentences(list(articles), self.dimension)
        passages = self.store.article_passages(list(articles), self.dimension)
        out = {}
        for row, (article, topic) in articles.items():
            stored = sentences.get(row)
            if stored is None:
                continue  # no sentences: an empty article has no passage either
            held = ArticleSentences.build(
                article.text, stored.spans, stored.vectors, stored.terms, eager=eager
            )
            prepared = {}
            for p in passages.get(row, []):
                lo = p.sentence_ids.start - stored.first_id
                if lo < 0 or lo + len(p.sentence_ids) > len(held):
                    raise IndexStateError(f"passage {p.passage_id}: its sentences are not stored")
                run = Run(held, lo, lo + len(p.sentence_ids))
                passage = Passage(
                    p.passage_id, article.doc_id, p.span, run.spans, p.span.of(article.text)
                )
                prepared[p.passage_id] = PreparedPassage(passage, run, p.vector)
            out[row] = PreparedArticle(article, held, topic_terms(article, topic), prepared)
        return out

    @property
    def warming(self) -> bool:
        """Whether the background warming runs."""
        thread = self._warming
        return thread is not None and thread.is_alive()

    def clear(self) -> None:
        self._entries.clear()

    def forget_deleted(self) -> int:
        """Drop the articles no longer stored; how many. (A row stored after the store was read
        here and prepared meanwhile may go too: it is prepared again when asked for.)"""
        return self._entries.keep_only(frozenset(self.store.article_rows()))

    def stop(self) -> None:
        """Stop warming (waiting for the batch in hand) and forget everything: before the store
        closes, so that nothing read afterwards lands here."""
        self._stop.set()
        with self._lock:
            thread, self._warming = self._warming, None
        if thread is not None:
            thread.join()
        self._stop.clear()
        self.clear()

    # -- warming ---------------------------------------------------------------------------------
    def start_warming(self, *, wait: bool = False) -> None:
        """Prepare the newest stored articles, up to ``capacity``, in a background thread."""
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
            # the newest articles (news is asked about while it is new), oldest of them first so
            # that the newest are the last to make room
            rows = self.store.article_rows()[-self.capacity :] if self.capacity > 0 else []
            for i in range(0, len(rows), WARM_BATCH):
                if self._stop.is_set():
                    return
                batch = [r for r in rows[i : i + WARM_BATCH] if r not in self._entries]
                with self.store.read():  # articles and their sentences of one committed state
                    self.get(batch, eager=True)
            log.info("sentence cache: %d articles ready", len(self))
        except Exception:  # questions read what they need themselves: slower, never wrong
            log.exception("warming the sentence cache failed; questions read their sentences")

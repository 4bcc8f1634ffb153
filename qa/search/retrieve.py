"""Retrievers over one index: dense (FAISS), lexical (BM25) and hybrid (reciprocal rank fusion)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np

from qa.embed import Embedder
from qa.search.fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from qa.index import Index
from qa.records import Hit, Span

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "QueryEncoder",
    "Retriever",
    "SentenceVectors",
]


class Retriever(Protocol):
    def search(self, query: str, k: int) -> list[Hit]: ...


class QueryEncoder:
    """Embeds queries once: retrieval and highlighting of one question share the vector."""

    def __init__(self, embedder: Embedder, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.encode = functools.lru_cache(maxsize=cache_size)(self._encode)

    def _encode(self, query: str) -> np.ndarray:
        vector = self.embedder.embed([query])[0]
        vector.setflags(write=False)
        return vector


class SentenceVectors:
    """Embeds article sentences on first use and keeps the most recent ones.

    Highlighting and abstention score every sentence of the candidate passages; news questions
    revisit the same passages, so most sentences are embedded once per process.
    """

    def __init__(self, embedder: Embedder, texts: dict[str, str], max_size: int = 20_000) -> None:
        self.embedder = embedder
        self.texts = texts
        self.max_size = max_size
        self._cache: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def get(self, items: list[tuple[str, Span]]) -> np.ndarray:
        keys = [(doc_id, span.start, span.end) for doc_id, span in items]
        if not keys:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        # One lock around the whole lookup: requests run in a thread pool, and a sentence evicted
        # by another request between check and read would otherwise be missing.
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            if missing:
                fresh = self.embedder.embed([self.texts[d][a:b] for d, a, b in missing])
                self._cache.update(zip(missing, fresh, strict=True))
            rows = [self._cache[k] for k in keys]
            for key in keys:
                self._cache.move_to_end(key)
            while len(self._cache) > self.max_size:
                self._cache.popitem(last=False)
        return np.vstack(rows)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first, ties by index (stable)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = (
        np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    )
    return part[np.lexsort((part, -scores[part]))]


class DenseRetriever:
    def __init__(self, index: Index, encoder: QueryEncoder) -> None:
        self.index = index
        self.encoder = encoder

    def search(self, query: str, k: int) -> list[Hit]:
        q = self.encoder.encode(query)
        k = min(k, self.index.dense.ntotal)
        if k <= 0:
            return []
        scores, ids = self.index.dense.search(q[None, :], k)
        return [
            Hit(self.index.passages[int(i)], float(s), dense=float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]


class BM25Retriever:
    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query: str, k: int) -> list[Hit]:
        scores = self.index.bm25.scores(query)
        return [
            Hit(self.index.passages[int(i)], float(scores[i]), bm25=float(scores[i]))
            for i in _top(scores, k)
            if scores[i] > 0  # a passage sharing no term with the query is not a lexical match
        ]


class HybridRetriever:
    """Fuses the dense and BM25 rankings; each hit carries both component scores."""

    def __init__(
        self,
        index: Index,
        encoder: QueryEncoder,
        *,
        rrf_k: float = DEFAULT_RRF_K,
        dense_weight: float = 1.0,
        candidates: int = 100,
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.dense = DenseRetriever(index, encoder)
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.candidates = candidates

    def search(self, query: str, k: int) -> list[Hit]:
        depth = max(k, self.candidates)
        q = self.encoder.encode(query)
        bm25_scores = self.index.bm25.scores(query)
        dense_ids = [h.passage.passage_id for h in self.dense.search(query, depth)]
        bm25_ids = [int(i) for i in _top(bm25_scores, depth) if bm25_scores[i] > 0]
        fused = reciprocal_rank_fusion(
            [dense_ids, bm25_ids], k=self.rrf_k, weights=[self.dense_weight, 1.0]
        )[:k]
        if not fused:
            return []
        ids = [pid for pid, _ in fused]
        dense_scores = self.index.vectors(ids) @ q
        return [
            Hit(
                self.index.passages[pid],
                score,
                dense=float(d),
                bm25=float(bm25_scores[pid]),
            )
            for (pid, score), d in zip(fused, dense_scores, strict=True)
        ]

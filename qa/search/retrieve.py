"""Retrievers over the live store: dense (FAISS), lexical (BM25) and hybrid (weighted RRF).

They rank passage ids; filters restrict both lists inside retrieval (a FAISS id selector, an SQL
condition on the FTS5 query), so ``k`` filtered candidates come back when that many exist.
"""

from __future__ import annotations

import functools
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from qa.embed import Embedder
from qa.search.filters import Filters
from qa.search.fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from qa.store.live import LiveIndex
from qa.store.terms import query_terms

__all__ = [
    "BM25Retriever",
    "Candidate",
    "DenseRetriever",
    "HybridRetriever",
    "Query",
    "QueryEncoder",
    "Retriever",
]


class QueryEncoder:
    """Embeds queries once: retrieval and highlighting of one question share the vector."""

    def __init__(self, embedder: Embedder, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.encode = functools.lru_cache(maxsize=cache_size)(self._encode)

    def _encode(self, query: str) -> np.ndarray:
        vector = self.embedder.embed([query])[0]
        vector.setflags(write=False)
        return vector


@dataclass
class Query:
    """One question as every retriever needs it, computed once."""

    text: str
    vector: np.ndarray
    terms: list[str]
    filters: Filters | None = None
    allowed: np.ndarray | None = None
    """passage ids the filters keep (None: no filter)"""
    bm25_top: list[tuple[int, float]] | None = field(default=None)
    """the BM25 list, kept once computed (hybrid and abstention share it)"""
    bm25_depth: int = 0
    """how many passages ``bm25_top`` was asked for (it holds fewer when fewer match)"""
    bm25_pending: Future[list[tuple[int, float]]] | None = field(default=None)
    """the BM25 list being computed beside the embedding (see ``make``)"""

    @classmethod
    def make(
        cls,
        text: str,
        encoder: QueryEncoder,
        live: LiveIndex,
        filters: Filters | None = None,
        *,
        lexical: tuple[Executor, int] | None = None,
    ) -> Query:
        """``lexical=(pool, k)`` starts the BM25 query for ``k`` passages in ``pool`` before the
        question is embedded: SQLite and ONNX Runtime both release the GIL, so on two cores the
        lexical leg costs no wall time beside the dense one."""
        allowed = None
        if filters is not None and not filters.empty:
            allowed = live.store.allowed_passages(filters)
        words = query_terms(text)
        pending, depth = None, 0
        if lexical is not None:
            pool, depth = lexical
            pending = pool.submit(live.bm25, words, depth, filters, allowed)
        try:
            vector = encoder.encode(text)
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
        return cls(text, vector, words, filters, allowed, bm25_depth=depth, bm25_pending=pending)


@dataclass(frozen=True, slots=True)
class Candidate:
    passage_id: int
    score: float
    dense: float | None = None
    bm25: float | None = None


class Retriever(Protocol):
    def rank(self, query: Query, k: int) -> list[Candidate]: ...


class DenseRetriever:
    def __init__(self, live: LiveIndex) -> None:
        self.live = live

    def rank(self, query: Query, k: int) -> list[Candidate]:
        return [Candidate(pid, s, dense=s) for pid, s in self.top(query, k)]

    def top(self, query: Query, k: int) -> list[tuple[int, float]]:
        scores, ids = self.live.dense.search(query.vector, k, query.allowed)
        return list(zip(ids.tolist(), scores.tolist(), strict=True))


class BM25Retriever:
    def __init__(self, live: LiveIndex) -> None:
        self.live = live

    def top(self, query: Query, k: int) -> list[tuple[int, float]]:
        if query.bm25_pending is not None:
            query.bm25_top, query.bm25_pending = query.bm25_pending.result(), None
        if query.bm25_top is None or query.bm25_depth < k:
            query.bm25_top = self.live.bm25(query.terms, k, query.filters, query.allowed)
            query.bm25_depth = k
        return query.bm25_top[:k]

    def rank(self, query: Query, k: int) -> list[Candidate]:
        return [Candidate(pid, s, bm25=s) for pid, s in self.top(query, k)]


class HybridRetriever:
    """Fuses the dense and BM25 rankings, each ``candidates`` deep."""

    def __init__(
        self,
        live: LiveIndex,
        *,
        rrf_k: float = DEFAULT_RRF_K,
        dense_weight: float = 1.0,
        candidates: int = 100,
    ) -> None:
        self.dense = DenseRetriever(live)
        self.bm25 = BM25Retriever(live)
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.candidates = candidates

    def rank(self, query: Query, k: int) -> list[Candidate]:
        depth = max(k, self.candidates)
        dense = self.dense.top(query, depth)
        lexical = self.bm25.top(query, depth)
        fused = reciprocal_rank_fusion(
            [[pid for pid, _ in dense], [pid for pid, _ in lexical]],
            k=self.rrf_k,
            weights=[self.dense_weight, 1.0],
        )[:k]
        dense_of = dict(dense)
        bm25_of = dict(lexical)
        return [
            Candidate(pid, score, dense=dense_of.get(pid), bm25=bm25_of.get(pid))
            for pid, score in fused
        ]

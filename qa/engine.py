"""The engine: one loaded index and embedder, answering questions with cited verbatim passages."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.select import Evidence, best_highlight, should_abstain, without_overlaps
from qa.config import Mode, Settings
from qa.ingest.corpus import load_corpus
from qa.embed import Embedder, SentenceTransformerEmbedder
from qa.errors import IndexStateError, InvalidInputError, NotFoundError
from qa.index import Index, Manifest, ensure_built, open_index
from qa.records import Answer, Article, Hit
from qa.search.retrieve import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    QueryEncoder,
    Retriever,
    SentenceVectors,
)

__all__ = [
    "MAX_QUESTION_CHARS",
    "MAX_TOP_K",
    "AskResult",
    "QAEngine",
    "ensure_index",
    "load_embedder",
]

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
# Candidates whose sentences abstention looks at (eval/RESULTS.md measured its thresholds at 10).
EVIDENCE_DEPTH = 10


@dataclass(frozen=True, slots=True)
class AskResult:
    question: str
    mode: Mode
    abstained: bool
    answers: list[Answer]
    evidence: Evidence
    """The signals abstention decides on."""
    took_ms: float


def load_embedder(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(settings.model_path, settings.model_sha256)


def ensure_index(
    settings: Settings,
    embedder: Embedder,
    *,
    corpus: Path | None = None,
    index_dir: Path | None = None,
    force: bool = False,
    progress: bool = False,
) -> tuple[Manifest, bool]:
    """Build the index unless the live one was built from this corpus, model and chunking.

    Returns the live manifest and whether a build happened.
    """
    articles = load_corpus(corpus or settings.corpus)
    return ensure_built(
        articles,
        embedder,
        settings.chunking(),
        index_dir or settings.index_dir,
        force=force,
        progress=progress,
    )


class QAEngine:
    def __init__(self, index: Index, embedder: Embedder, settings: Settings) -> None:
        if index.manifest.model_sha256 != embedder.fingerprint:
            raise IndexStateError("index and embedder disagree on the model: rebuild the index")
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.encoder = QueryEncoder(embedder)
        self._texts = {doc_id: a.text for doc_id, a in index.articles.items()}
        self.sentences = SentenceVectors(embedder, self._texts)
        self._retrievers: dict[str, Retriever] = {
            "dense": DenseRetriever(index, self.encoder),
            "bm25": BM25Retriever(index),
            "hybrid": HybridRetriever(
                index,
                self.encoder,
                rrf_k=settings.rrf_k,
                dense_weight=settings.dense_weight,
                candidates=settings.candidates,
            ),
        }

    @classmethod
    def open(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        build: bool = True,
        progress: bool = False,
    ) -> QAEngine:
        """Load the model and index; with ``build``, index the corpus first if needed."""
        embedder = embedder or load_embedder(settings)
        if build:
            ensure_index(settings, embedder, progress=progress)
        return cls(open_index(settings.index_dir, embedder), embedder, settings)

    def clear_caches(self) -> None:
        """Forget cached query and sentence vectors (for cold-start latency measurements)."""
        self.encoder.encode.cache_clear()
        self.index.bm25.scores.cache_clear()
        self.sentences.clear()

    # -- documents ---------------------------------------------------------------------------
    @property
    def documents(self) -> list[Article]:
        return list(self.index.articles.values())

    def document(self, doc_id: str) -> Article:
        try:
            return self.index.articles[doc_id]
        except KeyError:
            raise NotFoundError(f"no document with id {doc_id!r}") from None

    # -- retrieval ---------------------------------------------------------------------------
    def retriever(self, mode: str) -> Retriever:
        if mode not in self._retrievers:
            raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        return self._retrievers[mode]

    def search(self, query: str, k: int, mode: Mode = "hybrid") -> list[Hit]:
        return self.retriever(mode).search(query, k)

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        mode: Mode | None = None,
        *,
        abstain: bool = True,
    ) -> AskResult:
        """Answer ``question``; ``abstain=False`` keeps the answers even when evidence is weak."""
        started = time.perf_counter()
        top_k = self.settings.top_k if top_k is None else top_k
        mode = mode or self.settings.mode
        if not question.strip():
            raise InvalidInputError("question must not be empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidInputError(f"question is longer than {MAX_QUESTION_CHARS} characters")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidInputError(f"top_k must be between 1 and {MAX_TOP_K}, not {top_k}")
        retriever = self.retriever(mode)
        # Abstention weighs the same number of candidates whatever top_k is: the depth at which
        # its thresholds were measured. Ask for more: overlapping neighbours get trimmed or dropped.
        depth = max(top_k, EVIDENCE_DEPTH)
        hits = without_overlaps(retriever.search(question, depth * 3), depth, self._texts)
        bm25_scores = self.index.bm25.scores(question)
        answers, dense_evidence = self._answers(question, hits, bm25_scores)
        answers = answers[:top_k]
        evidence = Evidence(
            dense=dense_evidence,
            coverage=self.index.bm25.coverage(question),
            bm25=float(bm25_scores.max(initial=0.0)),
        )
        abstained = abstain and should_abstain(evidence, self.settings.abstain_policy())
        took = (time.perf_counter() - started) * 1000
        return AskResult(question, mode, abstained, [] if abstained else answers, evidence, took)

    def _answers(
        self, question: str, hits: list[Hit], bm25_scores: np.ndarray
    ) -> tuple[list[Answer], float]:
        if not hits:
            return [], float("-inf")
        q = self.encoder.encode(question)
        ids = [h.passage.passage_id for h in hits]
        dense = self.index.vectors(ids) @ q
        bm25 = bm25_scores[ids]
        items = [(h.passage.doc_id, s) for h in hits for s in h.passage.sentences]
        sentences = [s for _, s in items]
        sentence_scores = self.sentences.get(items) @ q
        answers: list[Answer] = []
        offset = 0
        for rank, (hit, d, b) in enumerate(zip(hits, dense, bm25, strict=True), start=1):
            n = len(hit.passage.sentences)
            span, score = best_highlight(
                sentences[offset : offset + n], sentence_scores[offset : offset + n]
            )
            offset += n
            scored = Hit(hit.passage, hit.score, dense=float(d), bm25=float(b))
            answers.append(
                Answer(rank, scored, self.index.articles[hit.passage.doc_id], span, score)
            )
        return answers, float(np.max(sentence_scores))

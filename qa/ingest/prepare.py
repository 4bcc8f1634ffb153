"""From articles to what the store keeps: sentences, passages, their vectors and lexical terms.

Every sentence is embedded once, here. A passage's vector is, by default, the passage text embedded
(``passage_vectors="embed"``); ``"mean"`` takes the normalised mean of its sentences' vectors and
saves that model call, but scored lower on both the seeds eval set and SciFact (eval/RESULTS.md).

A sentence's vector is, by default, read from its passages' runs of the model
(``sentence_vectors="in_passage"``): the mean of its tokens' states there, averaged over the
passages it is in (two where passages overlap), normalised. The model then runs once per passage
instead of once per passage and once per sentence. A sentence the model never read (past a long
passage's ``max_seq_length``) is embedded alone. ``"alone"`` embeds every sentence on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qa.embed import ContextEmbedder, Embedder, embeds_in_context
from qa.ingest.corpus import article_hash
from qa.ingest.passages import Chunking, Segmented, segment
from qa.records import Article
from qa.store.db import Prepared
from qa.store.terms import terms, topic_terms

__all__ = ["Cut", "PassageVectors", "SentenceVectors", "cut", "prepare"]

PassageVectors = Literal["mean", "embed"]
SentenceVectors = Literal["alone", "in_passage"]


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


@dataclass(frozen=True)
class Cut:
    """Articles cut into sentences and passages, their texts and stemmed terms: everything
    ``prepare`` does before the model is called (pure Python, so it can run beside it)."""

    articles: Sequence[Article]
    segments: list[Segmented]
    sentence_texts: list[str]
    passage_texts: list[str]
    sentence_terms: list[str]
    passage_terms: list[str]
    topics: list[str]


def cut(articles: Sequence[Article], chunking: Chunking) -> Cut:
    segments = [segment(a.text, chunking) for a in articles]
    sentence_texts = [
        s.of(a.text) for a, c in zip(articles, segments, strict=True) for s in c.sentences
    ]
    passage_texts = [
        c.passage_span(w).of(a.text)
        for a, c in zip(articles, segments, strict=True)
        for w in c.windows
    ]
    return Cut(
        articles,
        segments,
        sentence_texts,
        passage_texts,
        [" ".join(terms(t)) for t in sentence_texts],
        [" ".join(terms(t)) for t in passage_texts],
        [topic_terms(a.title, a.text) for a in articles],
    )


def prepare(
    done: Cut,
    embedder: Embedder,
    *,
    passage_vectors: PassageVectors = "embed",
    sentence_vectors: SentenceVectors = "alone",
    progress: bool = False,
) -> list[Prepared]:
    """Embed ``cut`` articles in one batch (all articles' texts in one model call each)."""
    texts = done.sentence_texts
    embedded: np.ndarray | None = None
    if sentence_vectors == "in_passage":
        if passage_vectors != "embed" or not embeds_in_context(embedder):
            raise ValueError("sentences are read in their passages only when passages are embedded")
        embedded, vectors = _in_passages(done, embedder, progress)
    else:
        vectors = embedder.embed(texts, progress=progress)
        if passage_vectors == "embed":
            embedded = embedder.embed(done.passage_texts)
    if vectors.shape != (len(texts), embedder.dimension):
        raise ValueError(f"embedder returned shape {vectors.shape} for {len(texts)} sentences")
    out: list[Prepared] = []
    row = prow = 0
    for k, (article, c) in enumerate(zip(done.articles, done.segments, strict=True)):
        sv = vectors[row : row + len(c.sentences)]
        sterms = done.sentence_terms[row : row + len(c.sentences)]
        row += len(c.sentences)
        if embedded is not None:
            pv = embedded[prow : prow + len(c.windows)]
        else:
            pv = _normalise(
                np.stack([sv[first : first + n].mean(axis=0) for first, n in c.windows])
                if c.windows
                else np.zeros((0, embedder.dimension), dtype=np.float32)
            )
        pterms = done.passage_terms[prow : prow + len(c.windows)]
        prow += len(c.windows)
        out.append(
            Prepared(
                article=article,
                content_hash=article_hash(article),
                sentences=c.sentences,
                windows=c.windows,
                sentence_vectors=sv,
                passage_vectors=np.ascontiguousarray(pv, dtype=np.float32),
                passage_terms=pterms,
                sentence_terms=sterms,
                topic=done.topics[k],
            )
        )
    return out


def _in_passages(done: Cut, embedder: Embedder, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Passage vectors, and sentence vectors pooled from the passages' runs (module docstring)."""
    spans: list[list[tuple[int, int]]] = []
    owner: list[int] = []  # each span's sentence, numbered across all articles
    first_sentence = 0
    for c in done.segments:
        for first, count in c.windows:
            start = c.sentences[first].start
            window = c.sentences[first : first + count]
            spans.append([(s.start - start, s.end - start) for s in window])
            owner.extend(range(first_sentence + first, first_sentence + first + count))
        first_sentence += len(c.sentences)
    assert isinstance(embedder, ContextEmbedder)
    passages, means, counts = embedder.embed_in_context(
        done.passage_texts, spans, progress=progress
    )
    dimension = embedder.dimension
    sums = np.zeros((first_sentence, dimension), dtype=np.float64)
    seen = np.zeros(first_sentence, dtype=np.int64)
    read = counts > 0
    owners = np.asarray(owner, dtype=np.int64)[read]
    np.add.at(sums, owners, means[read])
    np.add.at(seen, owners, 1)
    vectors = _normalise(sums.astype(np.float32))
    unread = np.flatnonzero(seen == 0)
    if unread.size:
        vectors[unread] = embedder.embed([done.sentence_texts[i] for i in unread])
    return passages, vectors

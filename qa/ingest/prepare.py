"""From articles to what the store keeps: sentences, passages, their vectors and lexical terms.

Every sentence is embedded once, here. A passage's vector is, by default, the passage text embedded
(``passage_vectors="embed"``); ``"mean"`` takes the normalised mean of its sentences' vectors and
saves that model call, but scored lower on both the seeds eval set and SciFact (eval/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from qa.embed import Embedder
from qa.ingest.corpus import article_hash
from qa.ingest.passages import Chunking, segment
from qa.records import Article
from qa.store.db import Prepared
from qa.store.terms import terms, topic_terms

__all__ = ["PassageVectors", "prepare"]

PassageVectors = Literal["mean", "embed"]


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def prepare(
    articles: Sequence[Article],
    embedder: Embedder,
    chunking: Chunking,
    *,
    passage_vectors: PassageVectors = "embed",
    progress: bool = False,
) -> list[Prepared]:
    """Cut and embed ``articles`` in one batch (sentences of all articles in one model call)."""
    cut = [segment(a.text, chunking) for a in articles]
    texts = [s.of(a.text) for a, c in zip(articles, cut, strict=True) for s in c.sentences]
    vectors = embedder.embed(texts, progress=progress)
    if vectors.shape != (len(texts), embedder.dimension):
        raise ValueError(f"embedder returned shape {vectors.shape} for {len(texts)} sentences")
    passage_texts = [
        c.passage_span(w).of(a.text) for a, c in zip(articles, cut, strict=True) for w in c.windows
    ]
    embedded = embedder.embed(passage_texts) if passage_vectors == "embed" else None
    out: list[Prepared] = []
    row = prow = 0
    for article, c in zip(articles, cut, strict=True):
        sv = vectors[row : row + len(c.sentences)]
        row += len(c.sentences)
        if embedded is not None:
            pv = embedded[prow : prow + len(c.windows)]
        else:
            pv = _normalise(
                np.stack([sv[first : first + n].mean(axis=0) for first, n in c.windows])
                if c.windows
                else np.zeros((0, embedder.dimension), dtype=np.float32)
            )
        ptexts = passage_texts[prow : prow + len(c.windows)]
        prow += len(c.windows)
        out.append(
            Prepared(
                article=article,
                content_hash=article_hash(article),
                sentences=c.sentences,
                windows=c.windows,
                sentence_vectors=sv,
                passage_vectors=np.ascontiguousarray(pv, dtype=np.float32),
                passage_terms=[" ".join(terms(t)) for t in ptexts],
                sentence_terms=[" ".join(terms(s.of(article.text))) for s in c.sentences],
                topic=topic_terms(article.title, article.text),
            )
        )
    return out

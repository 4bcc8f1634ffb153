"""BM25 over passages (bm25s, Lucene variant, English stemming and stop words)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

__all__ = ["BM25Index"]

# bm25s sets its own logger to DEBUG on import; put it back under the application's control.
logging.getLogger("bm25s").setLevel(logging.NOTSET)


@functools.lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _tokenize(texts: Sequence[str]) -> list[list[str]]:
    tokens = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [list(t) for t in tokens]


class BM25Index:
    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self._model = model
        self.size = size
        # One question is scored by the hybrid retriever and again for answers and abstention.
        self.scores = functools.lru_cache(maxsize=16)(self._scores)

    @classmethod
    def build(cls, texts: Sequence[str]) -> BM25Index:
        model = bm25s.BM25()
        model.index(_tokenize(texts), show_progress=False)
        return cls(model, len(texts))

    def _scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no query term is indexed)."""
        tokens = _tokenize([query])[0]
        if not tokens:
            scores = np.zeros(self.size, dtype=np.float32)
        else:
            scores = np.asarray(self._model.get_scores(tokens), dtype=np.float32)
        scores.setflags(write=False)  # shared between callers through the cache
        return scores

    def coverage(self, query: str) -> float:
        """Share of the query's terms (stemmed, stop words removed) that occur in the collection."""
        tokens = _tokenize([query])[0]
        if not tokens:
            return 0.0
        vocab = self._model.vocab_dict
        return sum(t in vocab for t in tokens) / len(tokens)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder))

    @classmethod
    def load(cls, folder: Path, size: int) -> BM25Index:
        return cls(bm25s.BM25.load(str(folder)), size)

"""From ranked hits to answers: no two answers overlap; the best sentence(s) are highlighted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.records import Hit, Passage, Span

__all__ = ["Evidence", "best_highlight", "without_overlaps"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Retrieval signals of a question's best candidates (reported beside ``confidence``)."""

    dense: float
    """cosine between the question and the best sentence of any candidate"""
    coverage: float
    """share of the question's terms that occur anywhere in the collection"""
    bm25: float
    """best BM25 score of any passage"""


def _longest_run(flags: Sequence[bool]) -> tuple[int, int]:
    """[start, end) of the longest run of True in ``flags`` (the first one on ties)."""
    best, start = (0, 0), None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def without_overlaps(hits: Sequence[Hit], limit: int, texts: Mapping[str, str]) -> list[Hit]:
    """Keep hits in rank order so that no two share a character of the same article.

    A hit overlapping better ones is trimmed to its longest run of sentences that nobody has
    shown yet (neighbouring passages share a sentence, so dropping them whole would lose the
    sentences only they hold); a hit with nothing new is dropped. Trimmed passages are still
    contiguous slices of the article.
    """
    kept: list[Hit] = []
    shown: dict[str, list[Span]] = {}
    """the spans kept so far, by article"""
    for hit in hits:
        if len(kept) == limit:
            break
        p = hit.passage
        taken = shown.setdefault(p.doc_id, [])
        near = [t for t in taken if p.span.overlaps(t)]  # only these can touch its sentences
        fresh = [not any(s.overlaps(t) for t in near) for s in p.sentences] if near else []
        if all(fresh):
            kept.append(hit)
            taken.append(p.span)
            continue
        start, end = _longest_run(fresh)
        if start == end:
            continue
        sentences = p.sentences[start:end]
        span = Span(sentences[0].start, sentences[-1].end)
        trimmed = Passage(p.passage_id, p.doc_id, span, sentences, span.of(texts[p.doc_id]))
        kept.append(Hit(trimmed, hit.score, hit.dense, hit.bm25))
        taken.append(span)
    return kept


def best_highlight(
    sentences: Sequence[Span], scores: np.ndarray, join_margin: float = 0.05
) -> tuple[Span, float]:
    """The best-scoring sentence, joined with a neighbour scoring within ``join_margin`` of it.

    Answers often straddle two sentences ("... said X. He added Y."); a neighbour that is almost
    as good is part of the answer. The joined span is contiguous text, so it stays verbatim.
    """
    if len(sentences) == 0 or len(sentences) != len(scores):
        raise ValueError("need one score per sentence")
    values: list[float] = np.asarray(scores, dtype=np.float64).tolist()
    best = values.index(max(values))  # the first of equals, as argmax
    start, end = sentences[best].start, sentences[best].end
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(sentences)]
    if neighbours:
        runner = max(neighbours, key=values.__getitem__)
        if values[best] - values[runner] <= join_margin:
            start = min(start, sentences[runner].start)
            end = max(end, sentences[runner].end)
    return Span(start, end), values[best]

"""From ranked hits to answers: no two answers overlap; the best sentence(s) are highlighted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.records import Hit, Span

__all__ = ["best_highlight", "drop_overlapping"]


def drop_overlapping(hits: Sequence[Hit], limit: int) -> list[Hit]:
    """Keep hits in rank order, dropping any that overlaps a better hit of the same article."""
    kept: list[Hit] = []
    for hit in hits:
        if len(kept) == limit:
            break
        if any(
            k.passage.doc_id == hit.passage.doc_id and k.passage.span.overlaps(hit.passage.span)
            for k in kept
        ):
            continue
        kept.append(hit)
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
    best = int(np.argmax(scores))
    start, end = sentences[best].start, sentences[best].end
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(sentences)]
    if neighbours:
        runner = max(neighbours, key=lambda i: scores[i])
        if scores[best] - scores[runner] <= join_margin:
            start = min(start, sentences[runner].start)
            end = max(end, sentences[runner].end)
    return Span(start, end), float(scores[best])

"""Score retrieved candidates as answers: features, the learned ranker, the highlight."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.answer.features import (
    SENTENCE_FEATURES,
    QuestionInfo,
    Sentence,
    passage_features,
    sentence_features,
    topic_terms,
)
from qa.answer.rank import Ranker
from qa.answer.select import best_highlight, without_overlaps
from qa.ingest.clean import byline_span
from qa.records import Answer, Article, Hit, Passage

__all__ = ["BYLINE_PASSAGE_ID", "Scored", "answers_from", "score_candidates", "with_byline"]

_CAPTION = SENTENCE_FEATURES.index("caption")
BYLINE_PASSAGE_ID = -1
"""the passage id of a byline answer: a line of the article that no stored passage holds"""


@dataclass(frozen=True)
class Scored:
    """One candidate passage with everything the ranker saw and said."""

    hit: Hit
    """the passage; ``score`` is the ranker's score, ``dense``/``bm25`` the retrieval scores"""
    article: Article
    sentences: list[Sentence]
    sentence_rows: np.ndarray
    sentence_scores: np.ndarray
    features: np.ndarray
    first_stage_rank: int
    confidence: float


def score_candidates(
    info: QuestionInfo,
    q: np.ndarray,
    hits: Sequence[Hit],
    articles: Mapping[str, Article],
    sentences: Mapping[int, Sequence[Sentence]],
    passage_vectors: Mapping[int, np.ndarray],
    bm25: Mapping[int, float],
    question_coverage: float,
    ranker: Ranker,
) -> list[Scored]:
    """Every hit scored, best first (ties keep the retrieval order)."""
    if not hits:
        return []
    rows, scores, cosines, best_rows, term_sets, captions = [], [], [], [], [], []
    topics = {doc: topic_terms(a) for doc, a in articles.items()}
    for hit in hits:
        p = hit.passage
        article = articles[p.doc_id]
        own = sentences[p.passage_id]
        x, sentence_terms = sentence_features(info, q, article.text, own, topics[p.doc_id])
        s = ranker.sentence_scores(x)
        rows.append(x)
        scores.append(s)
        cosines.append(x[:, 0] if len(x) else np.zeros(0, np.float32))
        best_rows.append(x[int(np.argmax(s))] if len(s) else np.zeros(len(SENTENCE_FEATURES)))
        term_sets.append(set().union(*sentence_terms) if sentence_terms else set())
        captions.append(float(x[:, _CAPTION].mean()) if len(x) else 0.0)
    dense = np.array(
        [float(passage_vectors[h.passage.passage_id] @ q) for h in hits], dtype=np.float32
    )
    features = passage_features(
        info,
        dense=dense,
        sentence_cosines=cosines,
        sentence_scores=scores,
        best_rows=best_rows,
        passage_terms=term_sets,
        bm25=np.array([bm25.get(h.passage.passage_id, 0.0) for h in hits], dtype=np.float32),
        articles=[articles[h.passage.doc_id] for h in hits],
        spans=[h.passage.span for h in hits],
        captions=captions,
        question_coverage=question_coverage,
    )
    passage_scores = ranker.passage_scores(features)
    confidence = ranker.confidence(passage_scores)
    scored = [
        Scored(
            replace(
                hit,
                score=float(passage_scores[i]),
                dense=float(dense[i]),
                bm25=bm25.get(hit.passage.passage_id),
            ),
            articles[hit.passage.doc_id],
            list(sentences[hit.passage.passage_id]),
            rows[i],
            scores[i],
            features[i],
            i,
            float(confidence[i]),
        )
        for i, hit in enumerate(hits)
    ]
    return sorted(scored, key=lambda c: (-c.hit.score, c.first_stage_rank))


def answers_from(scored: Sequence[Scored], limit: int, *, join_margin: float) -> list[Answer]:
    """The best ``limit`` non-overlapping answers, each with its answering sentence highlighted.

    A passage trimmed by an overlap keeps its best remaining sentence as the highlight.
    """
    texts = {c.article.doc_id: c.article.text for c in scored}
    by_id = {c.hit.passage.passage_id: c for c in scored}
    kept = without_overlaps([c.hit for c in scored], limit, texts)
    answers = []
    for rank, hit in enumerate(kept, start=1):
        c = by_id[hit.passage.passage_id]
        inside = [
            (s.span, float(score))
            for s, score in zip(c.sentences, c.sentence_scores, strict=True)
            if hit.passage.span.contains(s.span)
        ]
        span, score = best_highlight(
            [sp for sp, _ in inside], np.array([sc for _, sc in inside]), join_margin
        )
        answers.append(Answer(rank, hit, c.article, span, score, c.confidence))
    return answers


def with_byline(answers: Sequence[Answer], limit: int) -> list[Answer]:
    """For "who wrote ..." questions: the byline of the first answer's article comes first,
    cited verbatim where it stands (bylines are kept out of passages, so no passage holds it).
    An article whose author came from metadata alone has no such line: its answers stay as they
    are, and every citation carries ``author``.
    """
    if not answers or not answers[0].article.author:
        return list(answers)
    first = answers[0]
    span = byline_span(first.article.text)
    if span is None:
        return list(answers)
    line = Passage(
        BYLINE_PASSAGE_ID, first.article.doc_id, span, (span,), span.of(first.article.text)
    )
    byline = Answer(1, Hit(line, first.hit.score), first.article, span, 0.0, first.confidence)
    rest = [replace(a, rank=a.rank + 1) for a in answers[: limit - 1]]
    return [byline, *rest]

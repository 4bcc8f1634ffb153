"""Score retrieved candidates as answers: features, the learned ranker, the highlight."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.answer.features import (
    PASSAGE_FEATURES,
    REFERENCE_POOL,
    QuestionInfo,
    Run,
    SentenceBatch,
    Topic,
    passage_features,
    sentence_features,
    topic_terms,
    trimmed_features,
)
from qa.answer.rank import Ranker
from qa.answer.select import best_highlight, without_overlaps
from qa.ingest.clean import byline_span
from qa.records import Answer, Article, Hit, Passage, Span

__all__ = ["BYLINE_PASSAGE_ID", "Scored", "answers_from", "score_candidates", "with_byline"]

CAPTION_MARGIN = 0.2
"""a body passage whose best sentence is this close (cosine) to a caption's says the same.
0.15 with sentences embedded alone; read in their passages, a body sentence's cosine is lower
beside a caption's, which is a passage of its own (the seeds' Sinwar caption: 0.187 apart,
against 0.145 alone; eval/RESULTS.md)"""
BYLINE_PASSAGE_ID = -1
"""the passage id of a byline answer: a line of the article that no stored passage holds"""


@dataclass(frozen=True, slots=True)
class Scored:
    """One candidate passage with everything the ranker saw and said."""

    hit: Hit
    """the passage; ``score`` is the ranker's score, ``dense``/``bm25`` the retrieval scores"""
    article: Article
    sentences: Run
    sentence_rows: np.ndarray
    sentence_scores: np.ndarray
    features: np.ndarray
    first_stage_rank: int
    confidence: float
    sentence_has: np.ndarray
    """(sentences, question terms): which question terms each sentence holds"""


def score_candidates(
    info: QuestionInfo,
    q: np.ndarray,
    hits: Sequence[Hit],
    articles: Mapping[str, Article],
    sentences: Mapping[int, Run],
    passage_vectors: Mapping[int, np.ndarray],
    bm25: Mapping[int, float],
    question_coverage: float,
    ranker: Ranker,
    pool: int = REFERENCE_POOL,
    topics: Mapping[str, Topic] | None = None,
) -> list[Scored]:
    """Every hit scored: the first ``pool`` hits best first, then the rest best first.

    The ranker reorders the first ``pool`` retrieved passages only (ties keep the retrieval
    order), as a re-ranking window does: deeper hits, which a smaller ``top_k`` never reads, can
    neither displace them nor change their features, so the first answer and its confidence do
    not depend on ``top_k``. ``topics`` holds each article's topic terms (``topic_terms``),
    computed here where missing.
    """
    if not hits:
        return []
    topic = dict(topics or {})
    for doc, a in articles.items():
        if doc not in topic:
            topic[doc] = topic_terms(a)
    batch = sentence_features(
        info, q, [(sentences[h.passage.passage_id], topic[h.passage.doc_id]) for h in hits]
    )
    sentence_scores = ranker.sentence_scores(batch.rows)
    bounds = batch.bounds
    dense = np.stack([passage_vectors[h.passage.passage_id] for h in hits]) @ q
    features = passage_features(
        info,
        dense=dense,
        sentences=batch,
        sentence_scores=sentence_scores,
        bm25=np.array([bm25.get(h.passage.passage_id, 0.0) for h in hits], dtype=np.float64),
        articles=[articles[h.passage.doc_id] for h in hits],
        spans=[h.passage.span for h in hits],
        question_coverage=question_coverage,
        pool=pool,
        titles=[topic[h.passage.doc_id].title for h in hits],
    )
    best = features[:, PASSAGE_FEATURES.index("best_sentence")]
    captions = features[:, PASSAGE_FEATURES.index("caption_share")]
    raw = ranker.passage_scores(features)
    confidence = ranker.confidence(raw)
    passage_scores = _captions_after_body(
        raw, hits, captions, best, pool, confidence >= ranker.min_confidence
    )
    moved = passage_scores != raw  # captions put below their body: calibrated again
    confidence[moved] = ranker.confidence(passage_scores[moved])
    scores, similarity, confident = (
        passage_scores.tolist(),
        dense.astype(np.float64).tolist(),
        confidence.tolist(),
    )
    edges = bounds.tolist()
    scored = [
        Scored(
            Hit(hit.passage, scores[i], dense=similarity[i], bm25=bm25.get(pid)),
            articles[hit.passage.doc_id],
            sentences[pid],
            batch.rows[edges[i] : edges[i + 1]],
            sentence_scores[edges[i] : edges[i + 1]],
            features[i],
            i,
            confident[i],
            batch.has[edges[i] : edges[i + 1]],
        )
        for i, (hit, pid) in enumerate((h, h.passage.passage_id) for h in hits)
    ]
    return sorted(
        scored, key=lambda c: (c.first_stage_rank >= pool, -c.hit.score, c.first_stage_rank)
    )


def _captions_after_body(
    scores: np.ndarray,
    hits: Sequence[Hit],
    captions: np.ndarray,
    best: np.ndarray,
    pool: int,
    answering: np.ndarray,
) -> np.ndarray:
    """A photo caption restates its article's body in fewer words: a passage that is mostly
    captions ranks just below the body passage of its article that says about the same (best
    sentence cosine ``best`` within ``CAPTION_MARGIN``) and would be answered on its own
    (``answering``: its confidence reaches the ranker's default threshold). A caption no such
    body passage matches keeps its score: put below a passage that is no answer, it would
    turn an answer into an abstention. A caption in the first ``pool`` hits is compared with
    those only. The training data holds too few captions for the model to learn this, so it is
    a rule."""
    out = scores.astype(np.float64).copy()
    for i in (int(k) for k in np.flatnonzero(captions >= 0.5)):
        body = [
            j
            for j, h in enumerate(hits[: pool if i < pool else len(hits)])
            if captions[j] < 0.5
            and answering[j]
            and h.passage.doc_id == hits[i].passage.doc_id
            and best[j] >= best[i] - CAPTION_MARGIN
        ]
        if body:
            out[i] = min(out[i], max(out[j] for j in body) - 1e-3)
    return out


def answers_from(
    scored: Sequence[Scored],
    limit: int,
    *,
    join_margin: float,
    info: QuestionInfo | None = None,
    ranker: Ranker | None = None,
) -> list[Answer]:
    """The best ``limit`` non-overlapping answers, each with its answering sentence highlighted.

    A passage trimmed by an overlap keeps its best remaining sentence as the highlight and,
    given ``info`` and ``ranker``, is scored again for what is left of it
    (``trimmed_features``): its confidence is for the text it shows, and never above its whole
    passage's. Answers keep the order their whole passages were ranked in.
    """
    texts = {c.article.doc_id: c.article.text for c in scored}
    by_id = {c.hit.passage.passage_id: c for c in scored}
    kept = without_overlaps([c.hit for c in scored], limit, texts)
    parts: list[tuple[Hit, Scored, Span, float]] = []
    confidences: list[float] = []
    trimmed: list[tuple[int, Scored, slice]] = []
    for hit in kept:
        c = by_id[hit.passage.passage_id]
        spans = hit.passage.sentences
        # a trimmed passage keeps a run of its whole passage's sentences
        lo = c.hit.passage.sentences.index(spans[0]) if spans else 0
        keep = slice(lo, lo + len(spans))
        span, score = best_highlight(spans, c.sentence_scores[keep], join_margin)
        parts.append((hit, c, span, score))
        confidences.append(c.confidence)
        if hit.passage.span != c.hit.passage.span and spans:
            trimmed.append((len(parts) - 1, c, keep))
    if trimmed and info is not None and ranker is not None:  # one product for all of them
        rows = trimmed_features(
            info,
            np.stack([c.features for _, c, _ in trimmed]),
            SentenceBatch(
                np.concatenate([c.sentence_rows[keep] for _, c, keep in trimmed]),
                np.cumsum([0, *(keep.stop - keep.start for _, _, keep in trimmed)]),
                np.concatenate([c.sentence_has[keep] for _, c, keep in trimmed]),
            ),
            np.concatenate([c.sentence_scores[keep] for _, c, keep in trimmed]),
            np.array([parts[i][0].passage.span.start for i, _, _ in trimmed]),
            np.array([len(c.article.text) for _, c, _ in trimmed]),
        )
        again = ranker.confidence(ranker.passage_scores(rows))
        for (i, _, _), confidence in zip(trimmed, again, strict=True):
            confidences[i] = min(confidences[i], float(confidence))
    return [
        Answer(rank, hit, c.article, span, score, confidence)
        for rank, ((hit, c, span, score), confidence) in enumerate(
            zip(parts, confidences, strict=True), start=1
        )
    ]


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

"""Evidence that a passage answers a question, as numbers a small learned model can weigh.

Everything here is computed at question time from what the store already holds (passage and
sentence vectors, texts, titles, term statistics): the model is called for the question only.
``qa/answer/rank.py`` turns these features into a calibrated probability.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

import numpy as np

from qa.records import Article, Span
from qa.store.terms import terms

__all__ = [
    "PASSAGE_FEATURES",
    "SENTENCE_FEATURES",
    "QuestionInfo",
    "Sentence",
    "analyse_question",
    "is_caption",
    "passage_features",
    "sentence_features",
    "topic_terms",
    "wants",
]

CACHE_SENTENCES = 30_000
"""sentences whose terms and answer-kind tokens are kept (the most recently asked about): a few
tens of MB, enough for the candidates of thousands of recent questions"""

# -- the question ------------------------------------------------------------------------------
# What kind of answer a question asks for, from its wording. Order matters: the first match wins.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "author",
        re.compile(
            r"\b(who (wrote|authored|reported|penned|filed)|written by|author(s)? of|byline|"
            r"which (reporter|journalist|correspondent) (wrote|reported))\b",
            re.I,
        ),
    ),
    (
        "when",
        re.compile(
            r"^\s*when\b|\b(what|which) (year|date|day|month|decade|century|time)\b|"
            r"\bhow long ago\b|\bsince when\b|\bin what year\b",
            re.I,
        ),
    ),
    (
        "money",
        re.compile(
            r"\bhow much (money|cash|funding|profit|revenue)\b|\bhow much (did|does|do|will|would|"
            r"is|was|has|had|could)\b.*\b(cost|pay|paid|worth|save|spend|spent|raise|earn|fine|"
            r"charge|sell|sold|buy|bought|invest|lose|lost|make|made)|"
            r"\bwhat (price|fee|sum|fine)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (many|much|long|old|far|big|large|high|tall|often|fast|heavy|deep|wide|"
            r"severe|expensive|costly)\b|"
            r"\bwhat (percentage|percent|proportion|share|number|amount|fraction)\b",
            re.I,
        ),
    ),
    ("who", re.compile(r"^\s*(who|whom|whose)\b|\bwhich (person|man|woman|people)\b", re.I)),
    (
        "where",
        re.compile(r"^\s*where\b|\b(what|which) (country|city|town|place|region|state)\b", re.I),
    ),
)

_MONTH = (
    r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|"
    r"oct(ober)?|nov(ember)?|dec(ember)?)"
)
_EVIDENCE: dict[str, re.Pattern[str]] = {
    "when": re.compile(
        rf"\b({_MONTH}\.?\s+\d|\d{{1,2}}\s+{_MONTH}\b|(1[0-9]|20)\d\d(s)?\b|\d\d?(st|nd|rd|th)\s+"
        r"century|(monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
        r"(yesterday|today|tomorrow|last (week|month|year)|next (week|month|year)|\bago\b))",
        re.I,
    ),
    "number": re.compile(
        r"(\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
        r"forty|fifty|hundred|thousand|million|billion|trillion|dozen|half|quarter|twice)\b|%|£|\$|€)",
        re.I,
    ),
    "money": re.compile(
        r"([£$€]\s?\d[\d,.]*\s*(bn|m|k|billion|million|thousand)?|\d[\d,.]*\s*"
        r"(pounds|dollars|euros|pence|cents|yen)\b)",
        re.I,
    ),
    # A capitalised word that does not start the sentence: a name, roughly.
    "who": re.compile(r"(?<=[a-z,;:]\s)[A-Z][a-z]+"),
    "where": re.compile(r"\b(in|at|from|near|to)\s+(the\s+)?[A-Z][a-z]+"),
}


@dataclass(frozen=True, slots=True)
class QuestionInfo:
    """A question as the ranker sees it: its answer kind and its weighted terms."""

    kind: str
    """author, when, money, number, who, where or other"""
    terms: tuple[str, ...]
    idf: Mapping[str, float]
    """each distinct term's inverse document frequency over passages (0 if nowhere)"""
    text: str = ""
    weight: float = field(init=False)
    """the question's total idf (1 if none): computed once, every cover divides by it"""

    def __post_init__(self) -> None:
        weight = sum(self.idf.get(t, 0.0) for t in set(self.terms)) or 1.0
        object.__setattr__(self, "weight", weight)


def analyse_question(
    question: str, question_terms: Sequence[str], doc_freq: Mapping[str, int], n_passages: int
) -> QuestionInfo:
    kind = next((k for k, pattern in _KINDS if pattern.search(question)), "other")
    n = max(n_passages, 1)
    idf = {
        t: math.log(1 + (n - doc_freq[t] + 0.5) / (doc_freq[t] + 0.5)) if doc_freq.get(t) else 0.0
        for t in set(question_terms)
    }
    return QuestionInfo(kind, tuple(question_terms), idf, question)


def wants(kind: str, text: str, question: str = "") -> bool:
    """Whether ``text`` holds the kind of thing the question asks for (a date for "when"...)
    that the question does not already name: the answer is what the question lacks."""
    asked = question.lower()
    return any(token not in asked for token in _evidence(kind, text))


@functools.lru_cache(maxsize=CACHE_SENTENCES)
def _evidence(kind: str, text: str) -> tuple[str, ...]:
    """The lower-cased tokens of ``kind`` in ``text`` (cached: sentences come back often)."""
    pattern = _EVIDENCE.get("who" if kind == "author" else kind)
    if pattern is None:
        return ()
    return tuple(m.group(0).strip().lower() for m in pattern.finditer(text))


# Photo captions of web exports end in WordPress's ``[/caption]`` shortcode (dropped from passages
# but still in the article text), or are credit lines such as "Ali Khamenei / Wikimedia Commons."
_CAPTION_END = re.compile(r"\s*\[/caption\]")
_CREDIT = re.compile(r"/\s*(wikimedia|getty|reuters|ap|afp|pa|epa|shutterstock|alamy)\b", re.I)


def is_caption(text: str, span: Span) -> bool:
    if _CAPTION_END.match(text, span.end):
        return True
    return len(span) < 120 and bool(_CREDIT.search(text, span.start, span.end))


# -- sentences ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Sentence:
    span: Span
    vector: np.ndarray


SENTENCE_FEATURES = (
    "cosine",
    "cosine_gap",
    "neighbour_cosine",
    "term_cover",
    "wants_kind",
    "lacks_kind",
    "caption",
    "first",
    "fresh_cover",
    "new_numbers",
    "bm25",
    "headline",
    "length",
)

_WANTS_KIND = SENTENCE_FEATURES.index("wants_kind")
_LACKS_KIND = SENTENCE_FEATURES.index("lacks_kind")


def _cover(info: QuestionInfo, present: Set[str]) -> float:
    return sum(w for t, w in info.idf.items() if t in present) / info.weight


_OPENING_CHARS = 300
"""how much of an article's start (headline and lead) says what the article is about"""


def topic_terms(article: Article) -> frozenset[str]:
    """Terms of an article's title and opening: what the article is about.

    The lead restates the question's topic, so it matches most question terms without
    answering; the answer sentence ("Mr Straw said the move would save £6m a year") holds the
    question's *other* terms. Those are what ``fresh_cover`` looks for.
    """
    return _topic_terms(article.title, article.text[:_OPENING_CHARS])


@functools.lru_cache(maxsize=8192)
def _topic_terms(title: str, opening: str) -> frozenset[str]:
    """Cached: the same articles come back question after question."""
    return frozenset(terms(title)) | frozenset(terms(opening))


def _fresh_weights(info: QuestionInfo, topic: frozenset[str]) -> tuple[dict[str, float], float]:
    """The idf of each question term outside ``topic``, and their sum."""
    fresh = {t: info.idf.get(t, 0.0) for t in set(info.terms) if t not in topic}
    return fresh, sum(fresh.values())


_NUMBER = re.compile(r"\d[\d,.]*")


def _new_numbers(text: str, asked: str) -> float:
    """Numbers in ``text`` that the question does not name (at most 3, over 3): what "how
    many" and "what share" questions ask for, whatever ``kind`` the wording gave."""
    found = {m.group(0).rstrip(".,") for m in _NUMBER.finditer(text)}
    return min(sum(f not in asked for f in found), 3) / 3


_BM25_K1 = 1.2
_BM25_B = 0.75
_SENTENCE_TERMS = 15.0
"""a typical sentence's number of terms: the length BM25's normalisation is relative to"""


def _bm25(idf: Mapping[str, float], words: Sequence[str], weight: float) -> float:
    """BM25 of one sentence (term frequency saturated, long sentences discounted), over the
    question's total idf so that questions are comparable. ``term_cover`` ignores both."""
    if not words:
        return 0.0
    norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * len(words) / _SENTENCE_TERMS)
    total = 0.0
    for t, w in idf.items():
        tf = words.count(t) if w else 0
        if tf:
            total += w * tf * (_BM25_K1 + 1) / (tf + norm)
    return total / weight


_LEADING_SPACE = re.compile(r"\s*")


@functools.lru_cache(maxsize=CACHE_SENTENCES)
def sentence_words(text: str) -> tuple[str, ...]:
    """A sentence's terms in order, cached by its text: the same sentences come back question
    after question, and stemming them is most of the cost of their features."""
    return tuple(terms(text))


def sentence_features(
    info: QuestionInfo,
    q: np.ndarray,
    text: str,
    sentences: Sequence[Sentence],
    topic: frozenset[str] = frozenset(),
) -> tuple[np.ndarray, list[set[str]]]:
    """One row per sentence of a passage (``SENTENCE_FEATURES``), and each sentence's terms.

    ``topic`` holds the terms of the sentences' article's title and opening (``topic_terms``).
    """
    cos = (
        np.stack([s.vector for s in sentences]) @ q if sentences else np.zeros(0, dtype=np.float32)
    )
    top = float(cos.max()) if len(cos) else 0.0
    has_kind = info.kind != "other"
    asked = info.text.lower()
    weight = info.weight
    fresh, fresh_weight = _fresh_weights(info, topic)
    opening = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]
    rows, term_sets = [], []
    for i, s in enumerate(sentences):
        sentence_text = s.span.of(text)
        words = sentence_words(sentence_text)
        present = set(words)
        term_sets.append(present)
        around = [cos[j] for j in (i - 1, i + 1) if 0 <= j < len(cos)]
        match = has_kind and wants(info.kind, sentence_text, info.text)
        fresh_found = sum(w for t, w in fresh.items() if t in present)
        rows.append(
            (
                cos[i],
                cos[i] - top,
                max(around) if around else cos[i],
                _cover(info, present),
                float(match),
                float(has_kind and not match),
                float(is_caption(text, s.span)),
                float(i == 0),
                fresh_found / fresh_weight if fresh_weight > 0 else 0.0,
                _new_numbers(sentence_text, asked),
                _bm25(info.idf, words, weight),
                float(s.span.start <= opening),
                math.log1p(len(words)),
            )
        )
    return np.array(rows, dtype=np.float32).reshape(len(rows), len(SENTENCE_FEATURES)), term_sets


# -- passages ----------------------------------------------------------------------------------
PASSAGE_FEATURES = (
    "dense",
    "dense_gap",
    "best_sentence",
    "best_sentence_gap",
    "sentence_score",
    "sentence_score_gap",
    "bm25",
    "first_stage_rank",
    "term_cover",
    "missing_idf",
    "title_cover",
    "position",
    "caption_share",
    "wants_kind",
    "lacks_kind",
    "author_question",
    "question_coverage",
    "article_dense",
    "article_bm25",
    "article_term_cover",
    "article_candidates",
)


def passage_features(
    info: QuestionInfo,
    *,
    dense: np.ndarray,
    sentence_cosines: Sequence[np.ndarray],
    sentence_scores: Sequence[np.ndarray],
    best_rows: Sequence[np.ndarray],
    passage_terms: Sequence[Set[str]],
    bm25: np.ndarray,
    articles: Sequence[Article],
    spans: Sequence[Span],
    captions: Sequence[float],
    question_coverage: float,
) -> np.ndarray:
    """One row per candidate passage, in first-stage order (``PASSAGE_FEATURES``).

    ``best_rows`` are the sentence-feature rows of each passage's best sentence, ``bm25`` its
    BM25 score (0 when outside the lexical list).
    """
    n = len(dense)
    if n == 0:
        return np.zeros((0, len(PASSAGE_FEATURES)), dtype=np.float32)
    best = np.array([float(c.max()) if len(c) else 0.0 for c in sentence_cosines])
    score = np.array([float(s.max()) if len(s) else -10.0 for s in sentence_scores])
    top_bm25 = float(bm25.max()) if n else 0.0
    max_idf = max(info.idf.values(), default=0.0) or 1.0
    # What the article as a whole offers: its best passage, its terms over all its candidates.
    # The passage that answers often names nobody ("He said it would save £6m a year"): the
    # article's other passages say who and what it is about.
    bm25_norm = bm25 / top_bm25 if top_bm25 > 0 else np.zeros_like(bm25)
    by_article: dict[str, list[int]] = {}
    for i, a in enumerate(articles):
        by_article.setdefault(a.doc_id, []).append(i)
    article_terms = {
        doc: set().union(*(passage_terms[i] for i in idx)) for doc, idx in by_article.items()
    }
    rows = []
    for i in range(n):
        present = passage_terms[i]
        missing = [w for t, w in info.idf.items() if w > 0 and t not in present]
        title_terms = set(sentence_words(articles[i].title))
        length = max(len(articles[i].text), 1)
        rows.append(
            (
                dense[i],
                dense[i] - dense.max(),
                best[i],
                best[i] - best.max(),
                score[i],
                score[i] - score.max(),
                bm25_norm[i],
                math.log1p(i),
                _cover(info, present),
                max(missing, default=0.0) / max_idf,
                _cover(info, title_terms),
                spans[i].start / length,
                captions[i],
                best_rows[i][_WANTS_KIND],
                best_rows[i][_LACKS_KIND],
                float(info.kind == "author" and bool(articles[i].author)),
                question_coverage,
                max(dense[j] for j in by_article[articles[i].doc_id]) - dense.max(),
                max(bm25_norm[j] for j in by_article[articles[i].doc_id]),
                _cover(info, article_terms[articles[i].doc_id]),
                math.log(len(by_article[articles[i].doc_id])),
            )
        )
    return np.array(rows, dtype=np.float32)

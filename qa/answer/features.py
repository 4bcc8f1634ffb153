"""Evidence that a passage answers a question, as numbers a small learned model can weigh.

Everything here is computed at question time from what the store already holds (passage and
sentence vectors, texts, titles, term statistics): the model is called for the question only.
``qa/answer/rank.py`` turns these features into a calibrated probability.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.records import Article, Span
from qa.store.terms import OPENING_CHARS, terms
from qa.store.terms import topic_terms as stored_topic_terms

__all__ = [
    "PASSAGE_FEATURES",
    "REFERENCE_POOL",
    "SENTENCE_FEATURES",
    "ArticleSentences",
    "QuestionInfo",
    "Run",
    "Sentence",
    "SentenceBatch",
    "Topic",
    "analyse_question",
    "is_caption",
    "passage_features",
    "sentence_features",
    "topic_terms",
    "trimmed_features",
    "wants",
]

CACHE_TEXTS = 8192
"""titles and article topics whose terms are kept parsed (the most recently asked about)"""

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


def _evidence(kind: str, text: str) -> tuple[str, ...]:
    """The lower-cased tokens of ``kind`` in ``text``."""
    pattern = _EVIDENCE.get(_pattern_kind(kind))
    if pattern is None:
        return ()
    return tuple(m.group(0).strip().lower() for m in pattern.finditer(text))


def _pattern_kind(kind: str) -> str:
    """The evidence pattern an answer kind looks for (an author is a name)."""
    return "who" if kind == "author" else kind


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
    terms: str | None = None
    """its stemmed terms, space-separated, as stored at ingest (None: stem the text)"""


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

_COL = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
_FLAG_COLUMNS = ("wants_kind", "lacks_kind", "caption", "first", "new_numbers", "headline")
_WANTS_KIND = _COL["wants_kind"]
_LACKS_KIND = _COL["lacks_kind"]


@dataclass(frozen=True, slots=True)
class Topic:
    """What an article is about: its title's terms, and those with its opening's."""

    title: frozenset[str]
    terms: frozenset[str]


def topic_terms(article: Article, stored: str | None = None) -> Topic:
    """``article``'s topic from its ``stored`` terms (``qa.store.terms.topic_terms``), or
    stemmed now for a store written before they were stored."""
    if stored is None or "\t" not in stored:
        stored = _topic_text(article.title, article.text[:OPENING_CHARS])
    return _topic(stored)


@functools.lru_cache(maxsize=CACHE_TEXTS)
def _topic(stored: str) -> Topic:
    title, _, opening = stored.partition("\t")
    words = frozenset(title.split())
    return Topic(words, words | frozenset(opening.split()))


@functools.lru_cache(maxsize=CACHE_TEXTS)
def _topic_text(title: str, opening: str) -> str:
    return stored_topic_terms(title, opening)


@functools.lru_cache(maxsize=CACHE_TEXTS)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(terms(title))


_NUMBER = re.compile(r"\d[\d,.]*")
_DIGIT = re.compile(r"\d")


def _new_numbers(written: Sequence[str], asked: str) -> float:
    """The ``new_numbers`` feature of a sentence writing ``written``: how many of them the
    question ``asked`` (lower-cased) does not contain, at most 3, over 3."""
    return min(sum(f not in asked for f in written), 3) / 3 if written else 0.0


_BM25_K1 = 1.2
_BM25_B = 0.75
_SENTENCE_TERMS = 15.0
"""a typical sentence's number of terms: the length BM25's normalisation is relative to"""


_LEADING_SPACE = re.compile(r"\s*")


_VOCABULARY: dict[str, int] = {}
"""every term ever prepared, numbered (terms are compared as numbers); it only grows, by the
archive's distinct terms (tens of thousands, a few MB)"""
_VOCABULARY_LOCK = threading.Lock()


def _term_ids(words: Sequence[str]) -> list[int]:
    vocabulary = _VOCABULARY
    ids = [vocabulary.get(w, -1) for w in words]
    if -1 in ids:  # new terms: numbered under the lock, so that no two share a number
        with _VOCABULARY_LOCK:
            ids = [vocabulary.setdefault(w, len(vocabulary)) for w in words]
    return ids


@dataclass(frozen=True, slots=True)
class ArticleSentences:
    """An article's sentences as the features need them, whatever the question.

    Their spans, stored vectors and terms, and what their text alone decides: whether each is a
    caption or opens the article, its length, the numbers it writes and its tokens of every
    answer kind. Built once per article row (``build``) and cached by the engine: a stored row
    never changes, so nothing of this is recomputed question after question, and a question's
    features are a few array operations plus look-ups of its own few terms.
    """

    spans: tuple[Span, ...]
    vectors: np.ndarray
    """(sentences, dimension) float32"""
    term_ids: np.ndarray
    """every sentence's terms, in order, as numbers; sentence ``i`` holds
    ``term_ids[term_bounds[i]:term_bounds[i + 1]]``"""
    term_bounds: np.ndarray
    static: np.ndarray
    """(sentences, 4): caption, headline (starts the article's text), number of terms, and
    ``new_numbers`` for a question that names no number (its distinct numbers, at most 3, over 3)"""
    numbers: tuple[tuple[str, ...], ...]
    """the distinct numbers each sentence writes (the ``new_numbers`` feature)"""
    text: str
    """the article's text (the same string object as the article's)"""
    evidence: dict[str, tuple[tuple[str, ...], ...]]
    """for an answer kind with a pattern, each sentence's lower-cased tokens of that kind: all
    kinds when built ``eager``, else each the first time a question asks for it
    (``evidence_of``)"""

    @classmethod
    def build(
        cls,
        text: str,
        spans: Sequence[Span],
        vectors: np.ndarray,
        stored: Sequence[str | None],
        *,
        eager: bool = True,
    ) -> ArticleSentences:
        """``stored``: each sentence's terms as stored at ingest (None: stem its text now).
        ``eager``: find every answer kind's tokens now (the slowest part: warming does it, a
        question that finds an article unprepared looks for its own kind only)."""
        opening = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]
        ids: list[int] = []
        static, numbers = [], []
        for span, words in zip(spans, stored, strict=True):
            sentence = text[span.start : span.end]
            split = words.split() if words is not None else terms(sentence)
            ids += _term_ids(split)
            written = tuple({m.group(0).rstrip(".,") for m in _NUMBER.finditer(sentence)})
            share = _new_numbers(written, "")
            static.append((is_caption(text, span), span.start <= opening, len(split), share))
            numbers.append(written)
        table = np.array(static, dtype=np.float64).reshape(len(spans), 4)
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(spans):
            vectors = vectors.reshape(len(spans), -1)
        elif vectors.ndim != 2:
            vectors = np.zeros((0, 0), dtype=np.float32)
        held = cls(
            tuple(spans),
            vectors,
            np.array(ids, dtype=np.int32),
            np.concatenate([[0], np.cumsum(table[:, 2])]).astype(np.int64),
            table,
            tuple(numbers),
            text,
            {},
        )
        if eager:
            for kind in _EVIDENCE:
                held.evidence_of(kind)
        return held

    def evidence_of(self, kind: str) -> tuple[tuple[str, ...], ...]:
        """Each sentence's tokens of ``kind`` (a pattern kind of ``_EVIDENCE``), found once.
        Two threads finding them at once find the same and store the same."""
        found = self.evidence.get(kind)
        if found is None:
            text = self.text
            found = tuple(_evidence(kind, text[s.start : s.end]) for s in self.spans)
            self.evidence[kind] = found
        return found

    def __len__(self) -> int:
        return len(self.spans)


@dataclass(frozen=True, slots=True)
class Run:
    """A passage's sentences: sentences ``lo:hi`` of its article."""

    article: ArticleSentences
    lo: int
    hi: int

    @property
    def spans(self) -> tuple[Span, ...]:
        return self.article.spans[self.lo : self.hi]

    def __len__(self) -> int:
        return self.hi - self.lo

    @classmethod
    def of(cls, text: str, sentences: Sequence[Sentence]) -> Run:
        """A passage given as its sentences alone (tests, and callers without a store)."""
        article = ArticleSentences.build(
            text,
            [s.span for s in sentences],
            np.array([s.vector for s in sentences], dtype=np.float32),
            [s.terms for s in sentences],
        )
        return cls(article, 0, len(sentences))


def _segment_max(values: np.ndarray, bounds: np.ndarray, empty: float) -> np.ndarray:
    """The maximum of each segment ``values[bounds[i]:bounds[i + 1]]`` (``empty`` if none)."""
    counts = np.diff(bounds)
    out = np.full(len(counts), empty, dtype=np.float64)
    full = counts > 0
    if full.any():
        out[full] = np.maximum.reduceat(values, bounds[:-1][full], axis=0)
    return out


@dataclass(frozen=True)
class SentenceBatch:
    """The sentence rows of every candidate passage of one question, stacked in passage order:
    passage ``p`` owns rows ``bounds[p]:bounds[p + 1]``."""

    rows: np.ndarray
    """one row per sentence (``SENTENCE_FEATURES``)"""
    bounds: np.ndarray
    has: np.ndarray
    """(sentences, question terms): whether the sentence holds each term of ``info.idf``"""

    def of(self, p: int) -> np.ndarray:
        return self.rows[self.bounds[p] : self.bounds[p + 1]]


def sentence_features(
    info: QuestionInfo, q: np.ndarray, passages: Sequence[tuple[Run, Topic]]
) -> SentenceBatch:
    """The rows of every sentence of every passage, computed together.

    Each passage comes as its run of sentences and its article's topic terms (``topic_terms``).
    What a sentence's text alone decides is precomputed (``ArticleSentences``); one matrix
    product gives every cosine, and per sentence only the question's few terms are counted.
    """
    runs = [r for r, _ in passages]
    sizes = [len(r) for r in runs]
    bounds = np.cumsum([0, *sizes])
    n = int(bounds[-1])
    names = list(info.idf)
    idf = np.array([info.idf[t] for t in names], dtype=np.float64)
    if n == 0:
        empty = np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
        return SentenceBatch(empty, bounds, np.zeros((0, len(names)), dtype=bool))
    cos = (np.concatenate([r.article.vectors[r.lo : r.hi] for r in runs if len(r)]) @ q).astype(
        np.float64
    )
    static = np.concatenate([r.article.static[r.lo : r.hi] for r in runs])
    owner = np.repeat(np.arange(len(passages)), sizes)
    asked = info.text.lower()
    # each sentence's count of each question term: its term numbers compared with theirs, summed
    # between sentence bounds
    question_ids = np.array([_VOCABULARY.get(t, -1) for t in names], dtype=np.int32)
    tokens = np.concatenate(
        [a.term_ids[a.term_bounds[r.lo] : a.term_bounds[r.hi]] for r in runs for a in (r.article,)]
    )
    found = np.zeros((len(tokens) + 1, len(names)), dtype=np.int64)
    np.cumsum(tokens[:, None] == question_ids[None, :], axis=0, out=found[1:])
    ends = np.cumsum(static[:, 2]).astype(np.int64)
    tf = (found[ends] - found[ends - static[:, 2].astype(np.int64)]).astype(np.float64)
    # numbers the question does not name (at most 3, over 3): what "how many" and "what share"
    # questions ask for, whatever ``kind`` the wording gave. Every number starts with a digit,
    # so a question without one names none of them: precomputed.
    if _DIGIT.search(asked) is None:
        new_numbers = static[:, 3]
    else:
        new_numbers = np.array(
            [
                _new_numbers(written, asked)
                for r in runs
                for written in r.article.numbers[r.lo : r.hi]
            ],
            dtype=np.float64,
        )
    has_kind = info.kind != "other"
    match = np.zeros(n, dtype=bool)
    kind = _pattern_kind(info.kind)
    if has_kind and kind in _EVIDENCE:
        match[:] = [
            bool(said) and any(t not in asked for t in said)
            for r in runs
            for said in r.article.evidence_of(kind)[r.lo : r.hi]
        ]
    fresh_of: dict[int, list[float]] = {}  # per article topic: passages share their article's
    for _, topic in passages:
        if id(topic) not in fresh_of:
            fresh_of[id(topic)] = [
                0.0 if t in topic.terms else float(w) for t, w in zip(names, idf, strict=True)
            ]
    fresh_idf = np.array([fresh_of[id(topic)] for _, topic in passages], dtype=np.float64).reshape(
        len(passages), len(names)
    )
    n_words = static[:, 2]
    out = np.zeros((n, len(SENTENCE_FEATURES)), dtype=np.float64)
    has = tf > 0
    top = _segment_max(cos, bounds, 0.0)
    first = np.zeros(n, dtype=bool)
    first[bounds[:-1][np.diff(bounds) > 0]] = True
    last = np.zeros(n, dtype=bool)
    last[bounds[1:][np.diff(bounds) > 0] - 1] = True
    out[:, _WANTS_KIND] = match
    out[:, _LACKS_KIND] = has_kind & ~match
    out[:, _COL["caption"]] = static[:, 0]
    out[:, _COL["first"]] = first
    out[:, _COL["new_numbers"]] = new_numbers
    out[:, _COL["headline"]] = static[:, 1]
    before = np.where(first, -np.inf, np.roll(cos, 1))
    after = np.where(last, -np.inf, np.roll(cos, -1))
    around = np.maximum(before, after)
    fresh = fresh_idf[owner]  # the idf of the question terms outside the sentence's topic
    fresh_weight = fresh.sum(axis=1)
    # BM25 of each sentence (term frequency saturated, long sentences discounted), over the
    # question's total idf so that questions are comparable; ``term_cover`` ignores both
    out[:, _COL["length"]] = np.log1p(n_words)
    saturation = _BM25_K1 * (1 - _BM25_B + _BM25_B * n_words / _SENTENCE_TERMS)
    bm25 = (idf * tf * (_BM25_K1 + 1) / (tf + saturation[:, None])).sum(axis=1)
    out[:, _COL["cosine"]] = cos
    out[:, _COL["cosine_gap"]] = cos - top[owner]
    out[:, _COL["neighbour_cosine"]] = np.where(np.isfinite(around), around, cos)
    out[:, _COL["term_cover"]] = has @ idf / info.weight
    out[:, _COL["fresh_cover"]] = np.divide(
        (has * fresh).sum(axis=1), fresh_weight, out=np.zeros(n), where=fresh_weight > 0
    )
    out[:, _COL["bm25"]] = bm25 / info.weight
    return SentenceBatch(out.astype(np.float32), bounds, has)


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

REFERENCE_POOL = 20
"""the first-stage candidates every passage is compared with (its gaps to the best, its
article's other candidates): a fixed pool, so a passage's features, score and confidence are
the same whatever ``top_k`` asked for"""


def passage_features(
    info: QuestionInfo,
    *,
    dense: np.ndarray,
    sentences: SentenceBatch,
    sentence_scores: np.ndarray,
    bm25: np.ndarray,
    articles: Sequence[Article],
    spans: Sequence[Span],
    question_coverage: float,
    pool: int = REFERENCE_POOL,
    titles: Sequence[frozenset[str]] | None = None,
) -> np.ndarray:
    """One row per candidate passage, in first-stage order (``PASSAGE_FEATURES``).

    ``sentence_scores`` are the sentence model's scores of ``sentences.rows``; ``bm25`` each
    passage's BM25 score (0 when outside the lexical list). Whatever compares a passage with the
    others (the gaps to the best, what its article's other candidates hold) compares it with the
    first ``pool`` candidates only, and with itself.
    """
    n = len(dense)
    if n == 0:
        return np.zeros((0, len(PASSAGE_FEATURES)), dtype=np.float32)
    idf = np.array(list(info.idf.values()), dtype=np.float64)
    held = _held(idf, sentences, sentence_scores)
    has, best, score = held.has, held.best, held.score
    dense = dense.astype(np.float64)
    ref = slice(0, min(pool, n))
    top_bm25 = float(bm25[ref].max())
    bm25_norm = bm25 / top_bm25 if top_bm25 > 0 else np.zeros(n)
    # what each article's passages among the first ``pool`` hold together; a deeper hit joins
    # its article's pool passages (alone if none)
    numbered: dict[str, int] = {}
    owner_article = np.array([numbered.setdefault(a.doc_id, len(numbered)) for a in articles])
    pooled = owner_article[ref]
    article_dense = np.full(len(numbered), -np.inf)
    np.maximum.at(article_dense, pooled, dense[ref])
    article_bm25 = np.zeros(len(numbered))
    np.maximum.at(article_bm25, pooled, bm25_norm[ref])
    article_has = np.zeros((len(numbered), len(idf)), dtype=bool)
    np.logical_or.at(article_has, pooled, has[ref])
    d = article_dense[owner_article]
    b = article_bm25[owner_article]
    h = article_has[owner_article]
    c = np.bincount(pooled, minlength=len(numbered))[owner_article]
    deep = slice(ref.stop, n)
    d[deep] = np.maximum(d[deep], dense[deep])
    b[deep] = np.maximum(b[deep], bm25_norm[deep])
    h[deep] |= has[deep]
    c[deep] += 1
    if titles is None:
        titles = [_title_terms(a.title) for a in articles]
    title_cover: dict[frozenset[str], float] = {}
    for title in titles:
        if title not in title_cover:
            title_cover[title] = sum(w for t, w in info.idf.items() if t in title)
    out = np.zeros((n, len(PASSAGE_FEATURES)), dtype=np.float64)
    out[:, _P["article_dense"]] = d
    out[:, _P["article_bm25"]] = b
    out[:, _P["article_term_cover"]] = h @ idf
    out[:, _P["article_candidates"]] = np.log(c)
    out[:, _P["title_cover"]] = [title_cover[title] for title in titles]
    out[:, _P["position"]] = np.array([s.start for s in spans]) / np.maximum(
        [len(a.text) for a in articles], 1
    )
    if info.kind == "author":
        out[:, _P["author_question"]] = [bool(a.author) for a in articles]
    out[:, _P["article_dense"]] -= dense[ref].max()
    out[:, _P["article_term_cover"]] /= info.weight
    out[:, _P["title_cover"]] /= info.weight
    out[:, _P["missing_idf"]] = held.missing
    out[:, _P["dense"]] = dense
    out[:, _P["dense_gap"]] = dense - dense[ref].max()
    out[:, _P["best_sentence"]] = best
    out[:, _P["best_sentence_gap"]] = best - best[ref].max()
    out[:, _P["sentence_score"]] = score
    out[:, _P["sentence_score_gap"]] = score - score[ref].max()
    out[:, _P["bm25"]] = bm25_norm
    out[:, _P["first_stage_rank"]] = np.log1p(np.arange(n))
    out[:, _P["term_cover"]] = has @ idf / info.weight
    out[:, _P["caption_share"]] = held.captions
    out[:, _P["wants_kind"]] = held.answering[:, _WANTS_KIND]
    out[:, _P["lacks_kind"]] = held.answering[:, _LACKS_KIND]
    out[:, _P["question_coverage"]] = question_coverage
    return out.astype(np.float32)


_P = {name: i for i, name in enumerate(PASSAGE_FEATURES)}


def trimmed_features(
    info: QuestionInfo,
    rows: np.ndarray,
    sentences: SentenceBatch,
    sentence_scores: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
) -> np.ndarray:
    """Passage rows recomputed for the runs of their sentences that overlaps left them.

    Row ``i`` of ``rows`` keeps the sentences ``sentences.of(i)`` (their rows, term flags and
    sentence-model scores, none empty); ``starts[i]`` is the run's offset in an article of
    ``lengths[i]`` characters. What its sentences decide is recomputed (best sentence, terms,
    captions, answer kind, position) with the same pool as before; the passage's retrieval scores
    and its article's features stay as they were (the model is not called at question time for
    the shorter text).
    """
    out = rows.astype(np.float64).reshape(-1, len(PASSAGE_FEATURES)).copy()
    if not len(out):
        return out.astype(np.float32)
    idf = np.array(list(info.idf.values()), dtype=np.float64)
    held = _held(idf, sentences, sentence_scores)
    out[:, _P["best_sentence_gap"]] += held.best - out[:, _P["best_sentence"]]
    out[:, _P["best_sentence"]] = held.best
    out[:, _P["sentence_score_gap"]] += held.score - out[:, _P["sentence_score"]]
    out[:, _P["sentence_score"]] = held.score
    out[:, _P["term_cover"]] = held.has @ idf / info.weight
    out[:, _P["missing_idf"]] = held.missing
    out[:, _P["caption_share"]] = held.captions
    out[:, _P["wants_kind"]] = held.answering[:, _WANTS_KIND]
    out[:, _P["lacks_kind"]] = held.answering[:, _LACKS_KIND]
    out[:, _P["position"]] = starts / np.maximum(lengths, 1)
    return out.astype(np.float32)


@dataclass(frozen=True, slots=True)
class _Held:
    """What each passage's sentences decide together (``passage_features`` and
    ``trimmed_features`` alike)."""

    best: np.ndarray
    """the best sentence cosine (0 for a passage without sentences)"""
    score: np.ndarray
    """the best sentence-model score (-10 without sentences)"""
    answering: np.ndarray
    """the row of the sentence the model scores best, the first of equals (zeros without)"""
    has: np.ndarray
    """(passages, question terms): whether any of its sentences holds the term"""
    missing: np.ndarray
    """the idf of the rarest question term it lacks, over the question's largest idf"""
    captions: np.ndarray
    """the share of its sentences that are captions"""


def _held(idf: np.ndarray, sentences: SentenceBatch, sentence_scores: np.ndarray) -> _Held:
    bounds = sentences.bounds
    sizes = np.diff(bounds)
    n = len(sizes)
    owner = np.repeat(np.arange(n), sizes)
    nonempty = sizes > 0
    starts = bounds[:-1][nonempty]
    answering = np.zeros((n, len(SENTENCE_FEATURES)), dtype=np.float64)
    # sorted by passage, then score: each passage's first row is its answering sentence
    answering[nonempty] = sentences.rows[np.lexsort((-sentence_scores, owner))[starts]]
    has = np.zeros((n, len(idf)), dtype=bool)
    if nonempty.any() and len(idf):
        has[nonempty] = np.logical_or.reduceat(sentences.has, starts, axis=0)
    max_idf = float(idf.max(initial=0.0)) or 1.0
    return _Held(
        best=_segment_max(sentences.rows[:, _COL["cosine"]].astype(np.float64), bounds, 0.0),
        score=_segment_max(sentence_scores.astype(np.float64), bounds, -10.0),
        answering=answering,
        has=has,
        missing=np.where((idf > 0) & ~has, idf, 0.0).max(axis=1, initial=0.0) / max_idf,
        captions=np.divide(
            np.bincount(owner, sentences.rows[:, _COL["caption"]], minlength=n),
            sizes,
            out=np.zeros(n),
            where=nonempty,
        ),
    )

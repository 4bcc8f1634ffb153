"""Lexical terms for BM25: lower-cased words of two or more characters, English stop words out,
Snowball-stemmed. The same analysis as the bm25s baseline that scored SciFact nDCG@10 0.687.

SQLite FTS5 stores and scores the terms (``qa/store/db.py``): the text of a passage goes through
``terms`` once at ingest and the stemmed terms, space-separated, are what FTS5 indexes, so FTS5's
own tokenizer only splits on spaces.
"""

from __future__ import annotations

import functools
import re

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

__all__ = ["OPENING_CHARS", "QUESTION_WORDS", "fts_query", "query_terms", "terms", "topic_terms"]

_WORD = re.compile(r"(?u)\b\w\w+\b")
_STOP = frozenset(STOPWORDS_EN)

QUESTION_WORDS = frozenset(
    [
        "who",
        "whom",
        "whose",
        "what",
        "which",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "much",
        "many",
        "about",
        "according",
        "has",
        "have",
        "had",
        "were",
        "been",
        "can",
        "could",
        "would",
        "should",
        "he",
        "she",
        "his",
        "her",
        "its",
        "we",
        "you",
        "your",
        "our",
    ]
)
"""Words that shape a question but say little about its answer. Dropped from questions only
(passages keep them): they are among the archive's commonest terms, so FTS5 spent most of a
query's time scoring their long posting lists."""


@functools.lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _stem(words: list[str]) -> list[str]:
    return list(_stemmer().stemWords(words)) if words else []


def terms(text: str) -> list[str]:
    return _stem(_words(text))


def query_terms(question: str) -> list[str]:
    """``terms`` of a question, without ``QUESTION_WORDS``; all of them if only those are left."""
    words = _words(question)
    return _stem([w for w in words if w not in QUESTION_WORDS] or words)


def fts_query(question_terms: list[str]) -> str | None:
    """An FTS5 MATCH expression: any of the terms. Terms are ``\\w`` runs, safe inside quotes."""
    unique = list(dict.fromkeys(question_terms))
    if not unique:
        return None
    return " OR ".join(f'"{t}"' for t in unique)


OPENING_CHARS = 300
"""how much of an article's start (headline and lead) says what the article is about"""


def topic_terms(title: str, text: str) -> str:
    """Terms of an article's title and opening, what the article is about, as stored in
    ``articles.topic``: the title's terms, a tab, the opening's terms (space-separated).

    The lead restates a question's topic, so it matches most question terms without answering;
    the answer sentence ("Mr Straw said the move would save £6m a year") holds the question's
    *other* terms. Stemmed once at ingest, so questions need not.
    """
    return " ".join(terms(title)) + "\t" + " ".join(terms(text[:OPENING_CHARS]))

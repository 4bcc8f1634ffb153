"""Typed records that flow through the pipeline. Offsets are fields, never metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Article", "Hit", "Passage", "Span"]


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` into one article's text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end

    def of(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Article:
    """One source document; ``text`` is exactly what is served and what offsets index.

    ``source`` is the outlet (BBC News, Reuters...), ``origin`` where the text was read from
    (a file path, ``file.jsonl#L3``), ``None`` for articles written through the API.
    """

    doc_id: str
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published: str | None = None
    """ISO 8601 date (``2024-10-12``) or date-time"""
    author: str | None = None
    origin: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Passage:
    """A run of consecutive sentences of one article, never crossing dropped text."""

    passage_id: int
    doc_id: str
    span: Span
    sentences: tuple[Span, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved passage with the scores that ranked it."""

    passage: Passage
    score: float
    dense: float | None = None
    bm25: float | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A cited, verbatim answer: a passage and the sentence(s) in it that best answer."""

    rank: int
    hit: Hit
    article: Article
    highlight: Span
    highlight_score: float
    confidence: float = 0.0
    """calibrated probability that this passage answers the question"""

    @property
    def highlight_text(self) -> str:
        return self.highlight.of(self.article.text)

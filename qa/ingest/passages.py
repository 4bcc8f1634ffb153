"""Sentence-aware passages with overlap, inside one block of one article."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qa.ingest.clean import kept_blocks
from qa.ingest.sentences import split_sentences
from qa.records import Article, Passage, Span

__all__ = ["CHUNKER_VERSION", "Chunking", "Segmented", "build_passages", "segment", "window_starts"]

# Bump when cleaning, sentence splitting or windowing changes: it is part of the index key, so
# existing indexes are rebuilt instead of serving passages cut by the old rules.
CHUNKER_VERSION = 5
"""2: a line that reads as a sentence ("By Christmas Day, ...") is no longer dropped as a byline;
3: an article's first line of two to four words is its headline, no longer dropped as chrome;
4: but not when it is a date alone ("Monday, 12 March 2024"), a dateline above the headline;
5: nor a credit or time stamp ("Image copyright Reuters", "2 hours ago") or a line without
letters ("* * *"); markup alone on a line is passed over"""


@dataclass(frozen=True, slots=True)
class Chunking:
    """How articles become passages. ``sentences=0`` keeps each block whole."""

    sentences: int = 3
    overlap: int = 1

    def __post_init__(self) -> None:
        if self.sentences < 0 or self.overlap < 0:
            raise ValueError("passage sentences and overlap must be >= 0")
        if self.sentences and self.overlap >= self.sentences:
            raise ValueError(
                f"passage overlap ({self.overlap}) must be smaller than passage size "
                f"({self.sentences} sentences)"
            )


def window_starts(n_sentences: int, size: int, overlap: int) -> range:
    """Start indices of windows of ``size`` with ``overlap``; the last window ends at the end."""
    if n_sentences <= size:
        return range(0, 1 if n_sentences else 0)
    return range(0, n_sentences - overlap, size - overlap)


@dataclass(frozen=True, slots=True)
class Segmented:
    """An article's sentences (each once, in order) and its passages as sentence windows.

    ``windows[i] = (first, count)``: passage ``i`` is sentences ``first .. first+count-1``.
    """

    sentences: list[Span]
    windows: list[tuple[int, int]]

    def passage_span(self, window: tuple[int, int]) -> Span:
        first, count = window
        return Span(self.sentences[first].start, self.sentences[first + count - 1].end)


def segment(text: str, chunking: Chunking) -> Segmented:
    sentences: list[Span] = []
    windows: list[tuple[int, int]] = []
    for block in kept_blocks(text):
        block_sentences = split_sentences(text, block)
        if not block_sentences:
            continue
        base = len(sentences)
        sentences.extend(block_sentences)
        size = chunking.sentences or len(block_sentences)
        for start in window_starts(len(block_sentences), size, chunking.overlap):
            count = min(size, len(block_sentences) - start)
            windows.append((base + start, count))
    return Segmented(sentences, windows)


def build_passages(
    articles: Iterable[Article], chunking: Chunking, first_id: int = 0
) -> list[Passage]:
    passages: list[Passage] = []
    next_id = first_id
    for article in articles:
        text = article.text
        for block in kept_blocks(text):
            sentences = split_sentences(text, block)
            if not sentences:
                continue
            size = chunking.sentences or len(sentences)
            for start in window_starts(len(sentences), size, chunking.overlap):
                window = tuple(sentences[start : start + size])
                span = Span(window[0].start, window[-1].end)
                passages.append(Passage(next_id, article.doc_id, span, window, span.of(text)))
                next_id += 1
    return passages

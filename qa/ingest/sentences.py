"""Sentence boundaries with character offsets, via pysbd (rule-based, handles "Oct. 7", "U.S.")."""

from __future__ import annotations

import functools

import pysbd

from qa.records import Span

__all__ = ["split_sentences"]


@functools.lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str, block: Span) -> list[Span]:
    """Sentences of ``text[block]`` as spans into ``text``, trimmed and in order.

    A line break always ends a sentence: in news files a line is a paragraph, headline or caption.
    """
    spans: list[Span] = []
    pos = block.start
    for line in block.of(text).splitlines(keepends=True):
        spans.extend(_split_line(text, Span(pos, pos + len(line))))
        pos += len(line)
    return spans


def _split_line(text: str, block: Span) -> list[Span]:
    """Sentences of one line.

    pysbd's own ``char_span`` mode re-finds each sentence with a regex and misplaces repeated
    sentences, so offsets are recovered here by scanning forward from the previous sentence.
    """
    chunk = block.of(text)
    spans: list[Span] = []
    cursor = 0
    for segment in _segmenter().segment(chunk):
        piece = segment.strip()
        if not piece:
            continue
        found = chunk.find(piece, cursor)
        if found < 0:  # pysbd altered the text; keep the rest as one sentence rather than guess
            break
        spans.append(Span(block.start + found, block.start + found + len(piece)))
        cursor = found + len(piece)
    rest = chunk[cursor:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        start = block.start + cursor + lead
        spans.append(Span(start, block.start + len(chunk.rstrip())))
    return spans

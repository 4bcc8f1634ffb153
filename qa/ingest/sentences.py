"""Sentence boundaries with character offsets, via pysbd (rule-based, handles "Oct. 7", "U.S.")."""

from __future__ import annotations

import functools
import re

import pysbd

from qa.records import Span

__all__ = ["MAX_SEGMENT_CHARS", "split_sentences"]

MAX_SEGMENT_CHARS = 10_000
"""The longest text pysbd is given at once. Its time grows with the square of a paragraph's
length beyond a few thousand characters (80,000: 2.6 s; a 1 MB one-line article: 5 minutes, the
writer lock held throughout); no line of the BBC, SQuAD or SciFact texts is longer than this."""
# A sentence end a longer line is cut at: ., ! or ? (and closing quotes or brackets), then space.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*\s+")


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
        for piece in _pieces(text, Span(pos, pos + len(line))):
            spans.extend(_split_line(text, piece))
        pos += len(line)
    return spans


def _pieces(text: str, line: Span) -> list[Span]:
    """``line`` cut into pieces of at most ``MAX_SEGMENT_CHARS``: each at the last sentence end
    within it, else at its last white space, else where the limit falls."""
    pieces: list[Span] = []
    start = line.start
    while line.end - start > MAX_SEGMENT_CHARS:
        window = text[start : start + MAX_SEGMENT_CHARS]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window)), default=0)
        if cut == 0:
            cut = max(window.rfind(" "), window.rfind("\t")) + 1 or MAX_SEGMENT_CHARS
        pieces.append(Span(start, start + cut))
        start += cut
    pieces.append(Span(start, line.end))
    return pieces


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

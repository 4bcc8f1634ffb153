"""Sentence boundaries with character offsets, via pysbd (rule-based, handles "Oct. 7", "U.S.")."""

from __future__ import annotations

import functools
import re
import sys
from typing import Any

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
    _compile_once_in_pysbd()
    return pysbd.Segmenter(language="en", clean=False)


class _CompiledOnce:
    """The ``re`` module as pysbd uses it, with each pattern compiled once.

    pysbd builds a pattern per abbreviation and per way it was matched (576 for 300 BBC
    articles), and one of each sentence's own text (5,049 more): far more than ``re``'s own cache
    keeps (512), so it compiled the abbreviation patterns again on every line. Cutting the 300
    articles took 2.5 s, and 2.1 s with this (one pass, fresh processes, 3 runs each). The
    patterns and flags are pysbd's own, so are its sentences (the same on those articles). The
    cache is bounded: beyond ``PATTERNS`` the least recently used are compiled again."""

    PATTERNS = 32_768

    def __init__(self) -> None:
        self.compile = functools.lru_cache(maxsize=self.PATTERNS)(re.compile)

    def __getattr__(self, name: str) -> Any:  # flags, escape, error...: re's own
        return getattr(re, name)

    def sub(self, pattern: Any, repl: Any, string: str, count: int = 0, flags: int = 0) -> str:
        return self.compile(pattern, flags).sub(repl, string, count)  # type: ignore[no-any-return]

    def subn(self, pattern: Any, repl: Any, string: str, count: int = 0, flags: int = 0) -> Any:
        return self.compile(pattern, flags).subn(repl, string, count)

    def findall(self, pattern: Any, string: str, flags: int = 0) -> list[Any]:
        return self.compile(pattern, flags).findall(string)  # type: ignore[no-any-return]

    def finditer(self, pattern: Any, string: str, flags: int = 0) -> Any:
        return self.compile(pattern, flags).finditer(string)

    def search(self, pattern: Any, string: str, flags: int = 0) -> Any:
        return self.compile(pattern, flags).search(string)

    def match(self, pattern: Any, string: str, flags: int = 0) -> Any:
        return self.compile(pattern, flags).match(string)

    def fullmatch(self, pattern: Any, string: str, flags: int = 0) -> Any:
        return self.compile(pattern, flags).fullmatch(string)

    def split(self, pattern: Any, string: str, maxsplit: int = 0, flags: int = 0) -> list[Any]:
        return self.compile(pattern, flags).split(string, maxsplit)  # type: ignore[no-any-return]


# pysbd.segmenter's one use of re is a pattern made of each sentence's own text, never the same
# twice: cached, those would only take memory (about 3.5 KB each).
_OWN_RE = frozenset({"pysbd.segmenter"})


def _compile_once_in_pysbd() -> None:
    """Give every loaded pysbd module that uses ``re`` (but ``_OWN_RE``) a ``_CompiledOnce``."""
    compiled = _CompiledOnce()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "pysbd" or name in _OWN_RE:
            continue
        if getattr(module, "re", None) is re:
            module.re = compiled  # type: ignore[attr-defined]


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

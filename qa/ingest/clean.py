"""Cleaning is choosing spans, never rewriting text.

``kept_blocks`` returns the parts of an article worth indexing as maximal runs of text that contain
no dropped part (site chrome lines, markup such as ``[/caption]``). Passages are built inside one
block, so a passage never spans something that was dropped.
"""

from __future__ import annotations

import re

from qa.records import Span

__all__ = ["derive_title", "is_chrome_line", "kept_blocks", "kept_segments"]

# Whole lines that are site furniture, not article prose.
_CHROME_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^published by\b.{0,60}$",
        r"^(topics?|tags?|related|filed under)\s*:.{0,200}$",
        r"^(tracking|advertisement|share|share this article|read more|sign up)\W*$",
        r"^by [A-Z][\w’'.-]+(?: [A-Z][\w’'.-]+){0,3}(?:,.{0,60})?$",
        r"^.{0,80}/\s*(wikimedia commons|getty images|afp|ap|reuters|shutterstock|efe)\W*$",
    )
]
# Markup left over from the site's HTML export, e.g. WordPress shortcodes: ``[/caption]``.
_MARKUP = re.compile(r"\[/?[a-zA-Z_]+(?:\s[^\]\n]{0,200})?\]")
_SENTENCE_END = (".", "!", "?", '"', "”", "’", "'", ":", ")")
# A line this short without sentence punctuation is a site name, section label or tag.
_BARE_LINE_MAX_WORDS = 4


def is_chrome_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if any(p.match(stripped) for p in _CHROME_PATTERNS):
        return True
    return len(stripped.split()) <= _BARE_LINE_MAX_WORDS and not stripped.endswith(_SENTENCE_END)


def _strip(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def kept_segments(text: str) -> list[tuple[Span, bool]]:
    """Every non-blank segment of ``text`` with whether a dropped part precedes it.

    A segment is a line, or a part of a line between markup tags, trimmed of white space.
    """
    segments: list[tuple[Span, bool]] = []
    dropped_since_last = False
    pos = 0
    for line in text.splitlines(keepends=True):
        line_start, pos = pos, pos + len(line)
        if is_chrome_line(line):
            dropped_since_last = True
            continue
        cursor = line_start
        for m in _MARKUP.finditer(text, line_start, pos):
            span = _strip(text, cursor, m.start())
            if span is not None:
                segments.append((span, dropped_since_last))
                dropped_since_last = False
            dropped_since_last = True
            cursor = m.end()
        span = _strip(text, cursor, pos)
        if span is not None:
            segments.append((span, dropped_since_last))
            dropped_since_last = False
    return segments


def kept_blocks(text: str) -> list[Span]:
    """Maximal runs of kept segments with nothing dropped between them."""
    blocks: list[Span] = []
    for span, after_drop in kept_segments(text):
        if blocks and not after_drop:
            blocks[-1] = Span(blocks[-1].start, span.end)
        else:
            blocks.append(span)
    return blocks


def derive_title(text: str, max_chars: int = 160) -> str:
    """The first kept line of the article (news files open with their headline), cut at a word."""
    for span, _ in kept_segments(text):
        line = span.of(text)
        if len(line) <= max_chars:
            return line
        cut = line[:max_chars].rsplit(" ", 1)[0]
        return cut.rstrip(" ,;:") + "…"
    return ""

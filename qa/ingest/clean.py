"""Cleaning is choosing spans, never rewriting text.

``kept_blocks`` returns the parts of an article worth indexing as maximal runs of text that contain
no dropped part (site chrome lines, markup such as ``[/caption]``). Passages are built inside one
block, so a passage never spans something that was dropped.
"""

from __future__ import annotations

import re

from qa.records import Span

__all__ = [
    "byline_span",
    "derive_title",
    "extract_byline",
    "is_chrome_line",
    "kept_blocks",
    "kept_segments",
]

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

# Bylines: "By Ellie Doughty, Foreign News Reporter", "By Jane Smith and John Doe".
_BYLINE = re.compile(r"by\s+(?P<names>[^,]+?)\s*(?:,\s*(?P<role>.{0,59}[^.!?\s]))?", re.IGNORECASE)
_NAME_JOINER = re.compile(r"\s+(?:and|&)\s+")
_NAME_PARTICLES = frozenset(
    {"al", "bin", "da", "de", "del", "della", "der", "di", "du", "la", "le", "van", "von"}
)
# Words that make a byline an agency or desk credit rather than people ("By Staff Reporter").
_NOT_A_PERSON = frozenset(
    {"agencies", "correspondent", "desk", "editor", "news", "press", "reporter", "staff", "writer"}
)
_MAX_AUTHORS = 4
_BYLINE_MAX_CHARS = 200


def is_chrome_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if any(p.match(stripped) for p in _CHROME_PATTERNS) or _byline_names(stripped) is not None:
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


def _is_person(name: str) -> bool:
    """Two to four capitalised words, particles (van, de, al...) allowed inside: "Jane van Dyke"."""
    words = name.split()
    if not 2 <= len(words) <= 4:
        return False
    for i, word in enumerate(words):
        if word.lower() in _NOT_A_PERSON:
            return False
        if 0 < i < len(words) - 1 and word in _NAME_PARTICLES:
            continue
        letters = word.replace("’", "").replace("'", "").replace(".", "").replace("-", "")
        if not (letters.isalpha() and word[0].isupper()):
            return False
    return True


def _byline_names(line: str) -> str | None:
    """The names of a byline line (the role after the comma left out), or None."""
    line = line.strip()
    if len(line) > _BYLINE_MAX_CHARS or line[:2].lower() != "by":
        return None
    m = _BYLINE.fullmatch(line)
    if m is None:
        return None
    names = m.group("names")
    people = _NAME_JOINER.split(names)
    if len(people) > _MAX_AUTHORS or not all(_is_person(p) for p in people):
        return None
    return names


def extract_byline(text: str) -> str | None:
    """The author name(s) of the first byline line of ``text``: a line that is only a byline.

    The whole text is searched, not just its top: some files hold a story after another's end,
    its byline in the middle (seeds/000_fcec8ea6051c7915.txt, line 26). A byline line is chrome,
    so it never appears in a passage.
    """
    span = byline_span(text)
    return None if span is None else _byline_names(span.of(text))


def byline_span(text: str) -> Span | None:
    """Where the first byline line of ``text`` is (without its line break), or None."""
    start = 0
    for line in text.splitlines(keepends=True):
        if _byline_names(line) is not None:
            body = line.strip()
            begin = start + line.index(body)
            return Span(begin, begin + len(body))
        start += len(line)
    return None

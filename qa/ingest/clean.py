"""Cleaning is choosing spans, never rewriting text.

``kept_blocks`` returns the parts of an article worth indexing as maximal runs of text that contain
no dropped part (site chrome lines, markup such as ``[/caption]``). Passages are built inside one
block, so a passage never spans something that was dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from qa.records import Span

__all__ = [
    "byline_span",
    "derive_title",
    "extract_byline",
    "headline_line",
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
        r"^.{0,80}/\s*(wikimedia commons|getty images|afp|ap|reuters|shutterstock|efe)\W*$",
    )
]
# Credits that name no person are chrome too: "By Reuters", "By Staff Reporter", "By AFP, Paris".
# The capitals are case-sensitive: "By contrast, ..." opens a sentence.
_CREDIT = re.compile(
    r"(?i:by) (?P<names>[A-Z][\w’'.-]+(?: [A-Z][\w’'.-]+){0,3})(?:,(?P<role>.{0,60}))?"
)
# Markup left over from the site's HTML export, e.g. WordPress shortcodes: ``[/caption]``.
_MARKUP = re.compile(r"\[/?[a-zA-Z_]+(?:\s[^\]\n]{0,200})?\]")
_SENTENCE_END = (".", "!", "?", '"', "”", "’", "'", ":", ")")
# A line this short without sentence punctuation is a site name, section label or tag; but an
# article's first line is its headline (BBC News: 420 of 2,225 headlines have at most 4 words).
_BARE_LINE_MAX_WORDS = 4
# A web site's name as written in a masthead: "Voz.us", "bbc.co.uk"
_WEB_ADDRESS = re.compile(r"\w\.[^\W\d_]{2,}\b")
# Words of a credit or a time stamp, never of a short headline: "Image copyright Reuters"
_NOT_HEADLINE_WORDS = frozenset(
    {
        *("copyright", "photo", "photograph", "image", "picture", "pictures", "credit"),
        *("updated", "ago", "advertisement", "sponsored"),
    }
)
# A dateline above the headline: "12 March 2024", "Monday, March 12", "2024-03-12"
_DATE_WORD = re.compile(
    r"(?:\d[\d/.:-]*(?:st|nd|rd|th)?"
    r"|(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\.?),?",
    re.IGNORECASE,
)

# Bylines: "By Ellie Doughty, Foreign News Reporter", "By Jane Smith and John Doe".
_BYLINE = re.compile(r"by\s+(?P<names>[^,]+?)\s*(?:,\s*(?P<role>.{0,59}[^.!?\s]))?", re.IGNORECASE)
_NAME_JOINER = re.compile(r"\s+(?:and|&)\s+")
_NAME_PARTICLES = frozenset(
    {"al", "bin", "da", "de", "del", "della", "der", "di", "du", "la", "le", "van", "von"}
)
# Words that make a byline an agency or desk credit rather than people ("By Staff Reporter").
_NOT_A_PERSON = frozenset(
    {
        *("agencies", "correspondent", "desk", "editor", "news", "press", "reporter", "staff"),
        "writer",
        # function words open phrases, not names: "By The Numbers", "By Order Of The Court",
        # "By Any Means Necessary", "By Then It Was Late" were taken as bylines
        *("all", "an", "and", "any", "at", "for", "from", "in", "of", "on", "or", "the"),
        *("then", "this", "that", "to", "with"),
    }
)
_MAX_AUTHORS = 4
_BYLINE_MAX_CHARS = 200
# A "name" that tells a time opens a sentence, not a byline: "By Christmas Day, the price...",
# "By Monday Evening, rescuers...". Words that are also names count only as the whole name:
# "By May, ..." but "By June Kelly", "By Theresa May", "By Elizabeth Day".
_TIME_WORDS = frozenset(
    {
        *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        *("january", "february", "july", "september", "october", "november", "december"),
        *("christmas", "easter", "halloween", "thanksgiving", "hanukkah", "diwali", "ramadan"),
        *("passover", "hogmanay", "boxing", "year", "weekend", "morning", "afternoon", "evening"),
        *("night", "midnight", "midday", "noon", "lunchtime", "today", "tonight", "tomorrow"),
        "yesterday",
    }
)
_TIME_NAMES = frozenset({"march", "april", "may", "june", "august", "dawn", "day", "eve"})
# A role with this many lower-case words is a clause ("the price of a turkey had doubled"), not
# a job title ("political editor").
_CLAUSE_WORDS = 3


def is_chrome_line(line: str) -> bool:
    """Whether ``line`` is site furniture, not article prose. A short line that is the
    article's headline is told apart by ``kept_segments``, which sees the lines around it
    (``headline_line``)."""
    return _chrome_kind(line) is not None


def _chrome_kind(line: str) -> str | None:
    """``"furniture"`` (a known pattern, a byline, a credit), ``"short"`` (at most four words
    without sentence punctuation: a masthead, a section label, or a short headline), or None
    (prose)."""
    stripped = line.strip()
    if not stripped:
        return None
    if any(p.match(stripped) for p in _CHROME_PATTERNS) or _byline_names(stripped) is not None:
        return "furniture"
    credit = _CREDIT.fullmatch(unicodedata.normalize("NFC", stripped))
    if credit is not None and not _reads_as_sentence(credit["names"], credit["role"]):
        return "furniture"
    if len(stripped.split()) <= _BARE_LINE_MAX_WORDS and not stripped.endswith(_SENTENCE_END):
        return "short"
    return None


def _could_be_headline(visible: str) -> bool:
    """A short line that may be a headline: two words or more, with letters, not a web
    address ("Voz media US Voz.us"), a date alone ("Monday, 12 March 2024") or a credit or
    time stamp ("Image copyright Reuters", "Updated 12 March", "2 hours ago")."""
    words = visible.split()
    if len(words) < 2 or _WEB_ADDRESS.search(visible) or not any(c.isalpha() for c in visible):
        return False
    if all(_DATE_WORD.fullmatch(w) for w in words):
        return False
    return not {w.strip(".,:;!?()[]'\"").lower() for w in words} & _NOT_HEADLINE_WORDS


def headline_line(lines: Sequence[str]) -> int | None:
    """Which of ``lines`` is the article's headline when it is short (at most four words
    without sentence punctuation, which elsewhere is furniture): the first line that could be
    one (``_could_be_headline``) before any prose, furniture, blank lines and markup aside.
    News files open with their headline, under a masthead at most. A masthead of words alone
    ("BBC News") is taken for it; the last plausible short line above the prose would miss
    more (BBC sport/179, a fixture list, gave "2000 GMT"). None if no short line is it."""
    for i, line in enumerate(lines):
        visible = _MARKUP.sub(" ", line).strip()
        if not visible:
            continue
        kind = _chrome_kind(visible)
        if kind == "furniture":
            continue
        if kind == "short":
            if _could_be_headline(visible):
                return i
            continue
        return None
    return None


def _reads_as_sentence(names: str, role: str | None) -> bool:
    """Whether a line that opens as a byline ("By Name, Role") reads as a sentence instead: its
    "name" tells a time or holds a digit, it holds an amount (£40), or a clause follows the comma
    that ends as a sentence does or holds a number ("rescuers had pulled 40 people")."""
    words = [re.sub(r"[’']s$", "", w.lower()).strip(".’'-") for w in names.split()]
    if any(w in _TIME_WORDS for w in words) or (len(words) == 1 and words[0] in _TIME_NAMES):
        return True
    if any(c.isdigit() for c in names) or any(_is_currency(c) for c in names + (role or "")):
        return True
    if role is None or sum(w[0].islower() for w in role.split()) < _CLAUSE_WORDS:
        return False
    ends_a_sentence = role.rstrip().rstrip("\"'”’)").endswith((".", "!", "?"))
    return ends_a_sentence or any(c.isdigit() for c in role)


def _is_currency(char: str) -> bool:
    return unicodedata.category(char) == "Sc"


def _strip(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def kept_segments(text: str, *, headline: bool = True) -> list[tuple[Span, bool]]:
    """Every non-blank segment of ``text`` with whether a dropped part precedes it.

    A segment is a line, or a part of a line between markup tags, trimmed of white space. A
    short headline is kept (``headline_line``); ``headline=False`` drops it as furniture, as
    cleaning did before CHUNKER_VERSION 3 (a re-cut store's titles, ``qa.engine._retitled``).
    """
    segments: list[tuple[Span, bool]] = []
    dropped_since_last = False
    pos = 0
    lines = text.splitlines(keepends=True)
    kept_short = headline_line(lines) if headline else None
    for i, line in enumerate(lines):
        line_start, pos = pos, pos + len(line)
        if i != kept_short and is_chrome_line(line):
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


def derive_title(text: str, max_chars: int = 160, *, headline: bool = True) -> str:
    """The first kept line of the article (news files open with their headline), cut at a word."""
    for span, _ in kept_segments(text, headline=headline):
        line = span.of(text)
        if len(line) <= max_chars:
            return line
        cut = line[:max_chars].rsplit(" ", 1)[0]
        return cut.rstrip(" ,;:") + "…"
    return ""


def _is_person(name: str) -> bool:
    """Two to four capitalised words, particles (van, de, al...) allowed inside: "Jane van Dyke".

    Read in NFC: a name written with combining accents (NFD, "Jose\\u0301") is the same name."""
    words = unicodedata.normalize("NFC", name).split()
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
    if _reads_as_sentence(names, m.group("role")):
        return None
    last = names.split()[-1]
    # the line's full stop ends the line, not the name ("By Jane Smith.", "By Jenny Li..."); an
    # initial's stays ("By John A.")
    return names.rstrip(".") if last.endswith(".") and len(last.rstrip(".")) > 1 else names


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

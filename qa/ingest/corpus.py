"""Reading articles: one .txt/.md file per article, or .jsonl files with one article a line.

Bad input never costs good data: a file (or JSONL line) that cannot be read is skipped with a
reason, logged, and everything else is read. Metadata comes from front matter, a
``NAME.meta.json`` sidecar beside ``NAME.txt``, or the JSONL record; in every case the known keys
(id, title, url, published or date, source, author) fill the Article's fields and every other key
goes into ``metadata``.
"""

from __future__ import annotations

import codecs
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qa.errors import CorpusError
from qa.ingest.clean import derive_title, extract_byline
from qa.ingest.frontmatter import FrontMatter, FrontMatterError, split_front_matter
from qa.records import Article

__all__ = [
    "ARTICLE_SUFFIXES",
    "DOC_ID_MAX_CHARS",
    "DOC_ID_PATTERN",
    "DOT_SEGMENTS",
    "MAX_NESTING",
    "SIDECAR_SUFFIX",
    "CorpusRead",
    "Skipped",
    "article_files",
    "article_hash",
    "check_corpus_file",
    "check_corpus_root",
    "check_doc_id",
    "concerns_read",
    "corpus_hash",
    "doc_id_for",
    "iso_date",
    "keep_first",
    "load_corpus",
    "nesting",
    "new_article",
    "parse_json",
    "read_corpus",
    "read_file",
    "sidecar_path",
    "skip",
    "skip_article",
]

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".jsonl")
"""Article files, matched case-insensitively (``.TXT`` and ``.Md`` are articles too)."""
SIDECAR_SUFFIX = ".meta.json"
_JSONL = ".jsonl"
# A file is read whole (a JSONL feed too): a larger one is skipped as unreadable, its stored
# articles kept, rather than exhausting memory (reading one takes ~3x its size at peak).
MAX_FILE_BYTES = 1 << 30
# Files that ship beside articles (bbc/README.TXT) but are not news.
_NOT_ARTICLES = frozenset({"readme", "license", "licence", "copying"})
_STRING_FIELDS = ("title", "url", "source", "author")
_FIELDS = frozenset({"id", "published", "metadata", *_STRING_FIELDS})
# Front matter fields that are text whatever YAML reads in them (`title: 1984`, `id: 007`).
_TEXT_KEYS = ("id", "published", "date", *_STRING_FIELDS)
_JSONL_LINE = re.compile(r"#L(\d+)$")
# Deeper records are refused: far beyond real metadata, and far enough below Python's recursion
# limit for the store to write them as JSON and the API to send them back (its serializer stops
# at 255 levels); the API refuses the same (api/schemas.py).
MAX_NESTING = 200

DOC_ID_MAX_CHARS = 256
_LINE_BREAKS = r"\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines's
DOC_ID_PATTERN = rf"^\S(?:[^{_LINE_BREAKS}]*\S)?$"
"""Document ids, as the HTTP API takes them (api/schemas.py ``DocId``) and so as the corpus is
read: 1 to 256 characters, no line break of any kind (a URL path cannot hold one; ``.`` alone let
``\r`` and U+2028 through), no white space at either end. An article with another id could be
cited but never read or deleted by ``/documents/{id}``. Python, pydantic's Rust engine and the
JavaScript of OpenAPI clients read this pattern alike."""
_DOC_ID = re.compile(DOC_ID_PATTERN)
DOT_SEGMENTS = frozenset({".", ".."})
"""ids no URL can name: browsers and HTTP clients resolve ``/documents/..`` to ``/``"""
_LINE_BREAK_CHARS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# The parts of a date-time (ISO 8601 extended form, "2024-10-12T08:30:00+01:00") kept as written.
_EXTENDED_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_EXTENDED_TIME = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_EXTENDED_DATE_TIME = re.compile(
    rf"\d{{4}}-\d{{2}}-\d{{2}}[T ]{_EXTENDED_TIME}(?:Z|[+-]{_EXTENDED_TIME})?", re.ASCII
)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file (or ``file.jsonl:LINE``) left out of a read, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class CorpusRead:
    articles: list[Article]
    skipped: list[Skipped]
    unreadable: bool = False
    """the file could not be read at all (permissions, an I/O error): what it says is unknown,
    which is not the same as saying nothing"""


class _Bad(Exception):
    """Internal: this file or line cannot become an article; the message is the reason."""


@dataclass
class _Meta:
    """Fields given by front matter, a sidecar or a JSONL record; None where not given."""

    doc_id: str | None = None
    title: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def updated(self, other: _Meta) -> _Meta:
        """``self`` with what ``other`` gives on top (a sidecar over front matter)."""
        return _Meta(
            doc_id=other.doc_id or self.doc_id,
            title=other.title or self.title,
            url=other.url or self.url,
            published=other.published or self.published,
            source=other.source or self.source,
            author=other.author or self.author,
            metadata={**self.metadata, **other.metadata},
        )


def _origin(path: Path) -> str:
    """The path as users gave it, relative to the working directory where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _relative(path: Path, root: Path) -> Path | None:
    for p, r in ((path, root), (path.resolve(), root.resolve())):
        try:
            rel = p.relative_to(r)
        except ValueError:
            continue
        return rel if rel.parts else None
    return None


def doc_id_for(path: Path, root: Path | None) -> str:
    """``business/001`` for ``root/business/001.txt``; the stem alone without a root."""
    rel = _relative(path, root) if root is not None else None
    return rel.with_suffix("").as_posix() if rel is not None else path.stem


def _decode(data: bytes, *, binary_check: bool = True) -> str:
    """UTF-8 text, a leading BOM dropped; \\r\\n kept: offsets index the file's characters."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _Bad("not UTF-8 text (UTF-16 byte order mark)")
    if binary_check and b"\0" in data:
        raise _Bad("binary file")
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise _Bad(f"not UTF-8 text (byte 0x{byte:02x} at position {exc.start + skip})") from exc


def iso_date(value: str) -> str:
    """``value``, an ISO 8601 date or date-time, as stored: the extended form (``2024-10-12``,
    ``2024-10-12T08:30:00+01:00``) as written, any other form Python reads (``20241012``,
    ``2024-W41-6``, ``20241012T0830``) in the extended form, since date filters compare the first
    ten characters (qa/search/filters.py). Raises ValueError for anything else."""
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return value if _EXTENDED_DATE.fullmatch(value) else date.isoformat()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {value!r}") from None
    return value if _EXTENDED_DATE_TIME.fullmatch(value) else moment.isoformat()


def check_url(value: str) -> str:
    """``value`` if it is an absolute http or https address; else ValueError saying why.

    Citations carry an article's ``url`` to chat front ends as a link (``url_citation``) and
    readers follow it: a ``javascript:`` or ``data:`` address, a relative one, one with white
    space, control or format characters inside or a port that is no number is not a link to the
    article."""
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in value):
        # Cf: a right-to-left override or a zero-width space makes a link read as another
        raise ValueError(f"holds white space or a control or format character: {value!r}")
    try:
        parts = urlsplit(value)
        scheme, host, _ = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535"
        raise ValueError(f"is not a web address ({exc}): {value!r}") from None
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"must be an http:// or https:// address, not {value!r}")
    return value


def is_web_address(value: str | None) -> bool:
    """Whether ``value`` passes ``check_url``."""
    if value is None:
        return False
    try:
        check_url(value)
    except ValueError:
        return False
    return True


def _iso_date(value: str, key: str) -> str:
    value = value.strip()
    try:
        return iso_date(value)
    except ValueError:
        raise _Bad(f"{key!r} is not an ISO date or date-time: {value!r}") from None


def check_doc_id(doc_id: str) -> str:
    """``doc_id`` if it is a document id (``DOC_ID_PATTERN``, not ``DOT_SEGMENTS``); else
    ValueError saying why."""
    if doc_id in DOT_SEGMENTS:
        raise ValueError("is a dot segment, which a URL path cannot name (/documents/.. is /)")
    try:  # a lone surrogate (JSON's "\ud800"): no store or answer can carry it
        doc_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"is not valid text ({exc.reason})") from None
    if len(doc_id) > DOC_ID_MAX_CHARS:
        raise ValueError(f"is {len(doc_id)} characters long (at most {DOC_ID_MAX_CHARS})")
    if _DOC_ID.fullmatch(doc_id) is None:  # fullmatch: "$" alone would allow a final "\n"
        if not doc_id:
            raise ValueError("is empty")
        if any(c in doc_id for c in _LINE_BREAK_CHARS):
            raise ValueError("holds a line break")
        raise ValueError("starts or ends with white space")
    return doc_id


def _id_problem(doc_id: str) -> str | None:
    try:
        check_doc_id(doc_id)
    except ValueError as exc:
        shown = repr(doc_id) if len(doc_id) <= 80 else repr(doc_id[:60]) + "..."
        return f"id {shown} {exc}"
    return None


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``; every way hostile input makes it fail is a ValueError saying why
    in a line (to ``json``, deep nesting is a RecursionError, a 4,300-digit number a bare
    ValueError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise ValueError(f"JSON this reader refuses ({str(exc).split(':')[0]})") from None


def _json(text: str) -> Any:
    """``parse_json``, its reason a _Bad."""
    try:
        return parse_json(text)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _fields(
    record: dict[str, Any],
    where: str,
    *,
    skip: frozenset[str] = frozenset(),
    date_alias: bool = False,
) -> _Meta:
    """Known keys validated into fields; every other key (except ``skip``) into metadata.

    ``date_alias``: ``date`` stands for ``published`` when that is absent (front matter habit).
    A ``url`` that is no web address is dropped with a warning naming ``where``: the article is
    kept (refused whole, an article stored with such a url before urls were checked would be
    deleted by the next read of its file).
    """
    _check_storable(record)
    meta = _Meta()
    doc_id = record.get("id")
    if doc_id is not None:
        if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or not str(doc_id).strip():
            raise _Bad("'id' must be a non-empty string or integer")
        meta.doc_id = str(doc_id).strip()
        problem = _id_problem(meta.doc_id)
        if problem is not None:
            raise _Bad(f"{problem}: the HTTP API could not reach it")
    for key in _STRING_FIELDS:
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise _Bad(f"{key!r} must be a string")
        setattr(meta, key, (value.strip() or None) if value is not None else None)
    if meta.url is not None:
        try:
            check_url(meta.url)
        except ValueError as exc:
            log.warning("%s: its 'url' %s: read without it", _printable(where), exc)
            meta.url = None
    use_date = date_alias and record.get("published") is None and record.get("date") is not None
    date_key = "date" if use_date else "published"
    published = record.get(date_key)
    if published is not None:
        if not isinstance(published, str):
            raise _Bad(f"{date_key!r} must be a string (an ISO date)")
        meta.published = _iso_date(published, date_key)
    metadata = record.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise _Bad("'metadata' must be an object")
    known = _FIELDS | {date_key} | skip
    extra = {k: v for k, v in record.items() if k not in known}
    meta.metadata = {**extra, **metadata}
    return meta


def _check_storable(record: dict[str, Any]) -> None:
    """The store writes fields as UTF-8 JSON: JSON's lone surrogate escapes (``"\\ud800"``) and
    NaN/Infinity parse in Python but cannot be stored or sent back, nor can values nested so
    deep that writing them exceeds Python's recursion limit."""
    if nesting(record) > MAX_NESTING:
        raise _Bad(f"nested more than {MAX_NESTING} levels deep")
    try:
        json.dumps(record, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise _Bad(f"a lone surrogate ({bad!r}) is not Unicode text") from None
    except ValueError:
        raise _Bad("NaN and Infinity are not JSON numbers") from None


def nesting(value: Any) -> int:
    """How many lists and objects deep ``value`` goes, counted without recursion."""
    depth, level = 0, [value]
    while level:
        level = [
            child
            for v in level
            if isinstance(v, dict | list)
            for child in (v.values() if isinstance(v, dict) else v)
        ]
        depth += 1
    return depth - 1


def _article(meta: _Meta, text: str, default_id: str, origin: str, folder: str | None) -> Article:
    if meta.doc_id is None:  # a given id was checked when read; this one comes from the path
        problem = _id_problem(default_id)
        if problem is not None:
            raise _Bad(f"{problem} (from its path): the HTTP API could not reach it, rename it")
    metadata = dict(meta.metadata)
    if folder:
        metadata.setdefault("folder", folder)
    return new_article(
        meta.doc_id or default_id,
        text,
        title=meta.title,
        source=meta.source,
        url=meta.url,
        published=meta.published,
        author=meta.author,
        origin=origin,
        metadata=metadata,
    )


def new_article(
    doc_id: str,
    text: str,
    *,
    title: str | None = None,
    source: str | None = None,
    url: str | None = None,
    published: str | None = None,
    author: str | None = None,
    origin: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Article:
    """An article as a file or an API write gives it: without a title, its first line's; without
    an author, its byline's (``extract_byline``)."""
    return Article(
        doc_id=doc_id,
        title=title or derive_title(text),
        text=text,
        source=source,
        url=url,
        published=published,
        author=author or extract_byline(text),
        origin=origin,
        metadata=dict(metadata or {}),
    )


def sidecar_path(path: Path) -> Path:
    """Where the metadata sidecar of the article file ``path`` would be."""
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def _sidecar(path: Path) -> _Meta | None:
    """The valid sidecar of ``path``, if any; a bad one is logged and left out. One that cannot
    be read (OSError) makes its article unreadable too: read without it, a stored article would
    lose the metadata it had from it."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    try:
        raw = _read_regular(sidecar)
    except OSError as exc:
        where = _printable(_origin(sidecar))
        raise OSError(exc.errno, f"its sidecar {where}: {exc.strerror or exc}") from exc
    try:
        record = _json(_decode(raw))
        if not isinstance(record, dict):
            raise _Bad("not a JSON object")
        # as in front matter: "date" is "published"
        return _fields(record, _origin(sidecar), date_alias=True)
    except _Bad as exc:
        where = _printable(_origin(sidecar))
        log.warning("ignored sidecar %s: %s (its article is read without it)", where, exc)
        return None


def _read_text_file(path: Path, root: Path | None, origin: str) -> Article:
    text = _decode(_read_regular(path))
    if not text.strip():
        raise _Bad("empty file")
    meta, body_start = _Meta(), 0
    try:
        front = split_front_matter(text)
    except FrontMatterError as exc:
        raise _Bad(str(exc)) from exc
    if front is not None:
        try:
            meta = _fields(_as_written(front), origin, date_alias=True)
        except _Bad as exc:
            raise _Bad(f"front matter: {exc}") from exc
        body_start = front.body_start
    sidecar = _sidecar(path)
    if sidecar is not None:
        meta = meta.updated(sidecar)
    body = text[body_start:]  # a prefix cut: the text is still the file's own characters
    if not body.strip():
        raise _Bad("no text after the front matter")
    rel = _relative(path, root) if root is not None else None
    folder = rel.parent.as_posix() if rel is not None and rel.parent != Path(".") else None
    return _article(meta, body, doc_id_for(path, root), origin, folder)


def _as_written(front: FrontMatter) -> dict[str, Any]:
    """The front matter's fields, text fields as written where YAML reads a number or a boolean
    in them (``title: 1984``, ``title: Yes``, ``published: 20241012``); metadata stays typed."""
    fields, written = dict(front.fields), dict(front.written)
    known = {*_TEXT_KEYS, "metadata"}
    for key in list(fields):  # "Title:" and "Published:" are the fields, as "title:" is
        lower = key.lower() if isinstance(key, str) else key
        if lower in known and lower != key and lower not in fields:
            fields[lower] = fields.pop(key)
            if key in written:
                written[lower] = written.pop(key)
    for key in _TEXT_KEYS:
        if isinstance(fields.get(key), bool | int | float) and key in written:
            fields[key] = written[key]
    return fields


def _jsonl_article(raw: bytes, lineno: int, origin: str, folder: str | None) -> Article | None:
    """The article of one JSONL line, None for a blank line."""
    line = _decode(raw, binary_check=False)
    if not line.strip():
        return None
    record = _json(line)
    if not isinstance(record, dict):
        raise _Bad("expected a JSON object")
    text = record.get("text")
    if not isinstance(text, str):
        raise _Bad("needs a string 'text'")
    if not text.strip():
        raise _Bad("'text' is empty")
    if record.get("id") is None:
        raise _Bad("needs a non-empty 'id'")
    meta = _fields(record, f"{origin}:{lineno}", skip=frozenset({"text"}))
    return _article(meta, text, "", f"{origin}#L{lineno}", folder)


def _read_jsonl(path: Path, root: Path | None, origin: str) -> CorpusRead:
    data = _read_regular(path)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\0" in data:
        _decode(data)  # refused whole (UTF-16, binary), not line by line
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data.strip():
        raise _Bad("empty file")
    rel = _relative(path, root) if root is not None else None
    folder = rel.parent.as_posix() if rel is not None and rel.parent != Path(".") else None
    articles, skipped = [], []
    # Split on \n only: str.splitlines would also cut at U+2028, which JSON strings may hold.
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        try:
            article = _jsonl_article(raw, lineno, origin, folder)
        except _Bad as exc:
            skipped.append(skip(f"{origin}:{lineno}", str(exc)))  # the line is in the name
            continue
        if article is not None:
            articles.append(article)
    return CorpusRead(articles, skipped)


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (a link followed), else _Bad saying what it
    is. Checked before it is opened (opening or reading a FIFO waits for a writer for ever,
    /dev/zero never ends) and again on the open file, in case one was swapped in between."""
    _check_regular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # no wait, even if swapped
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(file.fileno())
        _check_regular(status.st_mode)
        if status.st_size > MAX_FILE_BYTES:  # read whole, so never one larger than this
            limit = f"{MAX_FILE_BYTES >> 20:,} MiB"
            raise OSError(errno.EFBIG, f"larger than {limit}: split it into smaller files")
        return file.read()


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    """What a file of this ``st_mode`` is when it is not a regular file ("a FIFO"), else ""."""
    return next((name for test, name in _KINDS if test(mode)), "")


def _check_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        raise _Bad(f"not a regular file ({kind})" if kind else "not a regular file")


def skip(where: str, reason: str) -> Skipped:
    """``where`` (a file, or ``file.jsonl:LINE``) left out for ``reason``: warned about, once."""
    where = _printable(where)
    log.warning("skipped %s: %s", where, reason)
    return Skipped(where, reason)


def skip_article(article: Article, reason: str) -> Skipped:
    """``skip`` for one article, named where it was read (``feed.jsonl:3``, ``a.txt``)."""
    return skip(_JSONL_LINE.sub(r":\1", article.origin or article.doc_id), reason)


def check_corpus_file(path: Path) -> None:
    """A one-file corpus must be an article file; CorpusError saying what it must end in."""
    if not path.name.lower().endswith(ARTICLE_SUFFIXES):
        raise CorpusError(
            f"{path}: corpus files must end in {', '.join(ARTICLE_SUFFIXES)} (in any case)"
        )


def check_corpus_root(root: Path) -> None:
    """A corpus is a folder or one article file (links followed); CorpusError for anything else,
    a FIFO or a device: such a path is never read (a FIFO waits for ever, /dev/zero never ends)
    nor taken as an empty corpus."""
    if root.is_dir():
        return
    if root.is_file():
        check_corpus_file(root)
    elif root.exists():
        kind = _kind(root.stat().st_mode)
        raise CorpusError(f"corpus {root} is not a folder or a regular file ({kind or '?'})")
    else:
        raise CorpusError(f"corpus {root} does not exist")


def _printable(name: str) -> str:
    """``name`` as one line of UTF-8, to be shown and stored: the bytes of a file name that is not
    UTF-8 (which Python reads as lone surrogates) written ``\\xe9``, a line break ``\\n``."""
    try:
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        name = name.encode("utf-8", "backslashreplace").decode("utf-8")
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_NOT_UTF8_NAME = "its name is not valid UTF-8: rename it"
_FOLDER_LINK = "a link to a folder, not followed: move the folder in, or link its files one by one"


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _article_name(name: str) -> bool:
    return not _hidden(name) and name.lower().endswith(ARTICLE_SUFFIXES)


def concerns_read(path: Path, root: Path, *, is_dir: bool) -> bool:
    """Whether a change at ``path`` can change what reading the folder ``root`` finds: not for
    hidden entries or anything inside a hidden folder, nor for files that are neither article
    files nor sidecars (editor leftovers: ``a.txt~``, ``#a.txt#``, vim's ``4913``); a folder, or
    ``root`` itself, always can."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return True  # not under root: say yes, a sync that finds nothing new is cheap
    if any(_hidden(part) for part in rel.parts):
        return False
    return is_dir or not rel.parts or _article_name(rel.name) or rel.name.endswith(SIDECAR_SUFFIX)


def keep_first(read: CorpusRead, seen: dict[str, str]) -> CorpusRead:
    """``read`` without articles whose id ``seen`` (id -> origin) already holds; adds the rest."""
    kept, skipped = [], list(read.skipped)
    for article in read.articles:
        origin = article.origin or article.doc_id
        if article.doc_id in seen:
            first = seen[article.doc_id]
            skipped.append(
                skip_article(article, f"duplicate id {article.doc_id!r} (first in {first})")
            )
            continue
        seen[article.doc_id] = origin
        kept.append(article)
    return CorpusRead(kept, skipped)


def read_file(path: Path, root: Path | None = None) -> CorpusRead:
    """The articles of one file, read as ``read_corpus(root)`` would read it; never raises."""
    origin = _origin(path)
    if not _is_utf8(path.name):  # its path and id could be neither stored nor shown
        return CorpusRead([], [skip(origin, _NOT_UTF8_NAME)])
    if not _is_utf8(str(path.absolute())):
        return CorpusRead([], [skip(origin, "the path of its folder is not valid UTF-8")])
    if not path.name.lower().endswith(ARTICLE_SUFFIXES):
        suffixes = ", ".join(ARTICLE_SUFFIXES)
        return CorpusRead([], [skip(origin, f"not an article file (not {suffixes})")])
    if path.name.split(".")[0].lower() in _NOT_ARTICLES:
        return CorpusRead([], [skip(origin, f"not an article ({path.name.split('.')[0]})")])
    try:
        if path.suffix.lower() == _JSONL:
            read = _read_jsonl(path, root, origin)
        else:
            read = CorpusRead([_read_text_file(path, root, origin)], [])
    except _Bad as exc:
        return CorpusRead([], [skip(origin, str(exc))])
    except OSError as exc:
        return CorpusRead([], [skip(origin, f"cannot read ({exc.strerror or exc})")], True)
    except MemoryError:
        return CorpusRead([], [skip(origin, "cannot read (not enough memory)")], True)
    return keep_first(read, {})


def article_files(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Article files under ``root``, recursive, sorted by relative path, hidden entries ignored;
    files and folders whose names are not UTF-8 are skipped (no id or path could hold them)."""
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise CorpusError(f"cannot read the folder {root}: {exc.strerror or exc}") from exc
    if not _is_utf8(str(root.absolute())):
        shown = _printable(str(root))
        raise CorpusError(f"cannot read the folder {shown}: its path is not valid UTF-8: rename it")
    unreadable: list[Skipped] = []

    def on_error(exc: OSError) -> None:
        where = _origin(Path(exc.filename)) if exc.filename else str(root)
        unreadable.append(skip(where, f"cannot read folder ({exc.strerror or exc})"))

    found = []
    for folder, dirs, files in os.walk(root, onerror=on_error):
        dirs[:] = [d for d in dirs if not _hidden(d)]
        for name in [d for d in dirs if not _is_utf8(d)]:
            dirs.remove(name)
            unreadable.append(skip(_origin(Path(folder) / name) + "/", _NOT_UTF8_NAME))
        for name in [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            # not followed: the folder watcher could not see changes inside it (inotify does not
            # follow links), so its articles would go stale without a word
            dirs.remove(name)
            link = Path(_origin(Path(folder))) / name  # the link named, not where it leads
            unreadable.append(skip(f"{link}/", _FOLDER_LINK))
        for name in files:
            if _article_name(name):
                path = Path(folder) / name
                if not _is_utf8(name):
                    unreadable.append(skip(_origin(path), _NOT_UTF8_NAME))
                    continue
                found.append((path.relative_to(root).parts, path))
    return [path for _, path in sorted(found)], unreadable


def read_corpus(path: Path | str) -> CorpusRead:
    """Every article under ``path`` (a folder, read recursively, or one article file).

    Raises CorpusError only when ``path`` itself cannot be read; bad files are skipped.
    """
    root = Path(path)
    check_corpus_root(root)
    if root.is_dir():
        files, skipped = article_files(root)
        base: Path | None = root
    else:
        try:
            with root.open("rb"):
                pass
        except OSError as exc:
            raise CorpusError(f"cannot read {root}: {exc.strerror or exc}") from exc
        files, skipped, base = [root], [], None
    articles: list[Article] = []
    seen: dict[str, str] = {}
    for file in files:
        read = keep_first(read_file(file, base), seen)
        articles += read.articles
        skipped += read.skipped
    return CorpusRead(articles, skipped)


def load_corpus(path: Path | str) -> list[Article]:
    """The articles of ``read_corpus(path)``; raises CorpusError when there are none."""
    read = read_corpus(path)
    if not read.articles:
        patterns = ", ".join(f"*{s}" for s in ARTICLE_SUFFIXES)
        raise CorpusError(f"no articles ({patterns}) found in {path}")
    return read.articles


def article_hash(article: Article) -> str:
    """Content hash over every stored field but ``origin``: moving a file changes nothing, a new
    url, date or metadata alone does."""
    fields = [
        article.doc_id,
        article.title,
        article.text,
        article.source,
        article.url,
        article.published,
        article.author,
        article.metadata,
    ]
    encoded = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def corpus_hash(articles: list[Article]) -> str:
    """Hash of the articles' hashes in order: equal corpora give equal hashes, in any location."""
    digest = hashlib.sha256()
    for article in articles:
        digest.update(article_hash(article).encode())
        digest.update(b"\0")
    return digest.hexdigest()

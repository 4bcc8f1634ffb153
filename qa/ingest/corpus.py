"""Reading articles: one .txt/.md file per article, or .jsonl files with one article a line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest.clean import derive_title
from qa.records import Article

__all__ = ["corpus_hash", "load_corpus"]

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIX = ".jsonl"


def _source(path: Path) -> str:
    """The path as users gave it, relative to the working directory where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_text(path: Path) -> str:
    try:
        # newline="" keeps \r\n as it is in the file: offsets index the file's own characters.
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text: {exc}") from exc


def _optional_str(record: dict[str, object], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CorpusError(f"{where}: field {key!r} must be a string")
    return value


def _read_jsonl(path: Path) -> list[Article]:
    articles = []
    source = _source(path)
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise CorpusError(f"{where}: expected a JSON object")
        doc_id, text = record.get("id"), record.get("text")
        if not isinstance(doc_id, str | int) or str(doc_id).strip() == "":
            raise CorpusError(f"{where}: needs a non-empty 'id'")
        if not isinstance(text, str):
            raise CorpusError(f"{where}: needs a string 'text'")
        metadata = record.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise CorpusError(f"{where}: 'metadata' must be an object")
        title = _optional_str(record, "title", where) or derive_title(text)
        articles.append(
            Article(
                doc_id=str(doc_id),
                title=title,
                origin=f"{source}#L{lineno}",
                text=text,
                url=_optional_str(record, "url", where),
                published=_optional_str(record, "published", where),
                metadata=metadata,
            )
        )
    return articles


def _read_file(path: Path) -> list[Article]:
    if path.suffix == JSONL_SUFFIX:
        return _read_jsonl(path)
    text = _read_text(path)
    return [Article(doc_id=path.stem, title=derive_title(text), text=text, origin=_source(path))]


def load_corpus(path: Path | str) -> list[Article]:
    """All articles under ``path`` (a folder, or one .txt/.md/.jsonl file), sorted by file name."""
    root = Path(path)
    if root.is_dir():
        files = sorted(
            p for p in root.iterdir() if p.is_file() and p.suffix in (*TEXT_SUFFIXES, JSONL_SUFFIX)
        )
    elif root.is_file():
        if root.suffix not in (*TEXT_SUFFIXES, JSONL_SUFFIX):
            raise CorpusError(f"{root}: corpus files must end in .txt, .md or .jsonl")
        files = [root]
    else:
        raise CorpusError(f"corpus {root} does not exist")
    articles: list[Article] = []
    seen: dict[str, str] = {}
    for file in files:
        for article in _read_file(file):
            if article.doc_id in seen:
                raise CorpusError(
                    f"duplicate doc_id {article.doc_id!r} in {article.source} "
                    f"and {seen[article.doc_id]}"
                )
            seen[article.doc_id] = article.source
            articles.append(article)
    if not articles:
        raise CorpusError(f"no articles (*.txt, *.md, *.jsonl) found in {root}")
    return articles


def corpus_hash(articles: list[Article]) -> str:
    """Content hash over ids, titles and texts: equal corpora give equal hashes, in any location."""
    digest = hashlib.sha256()
    for article in articles:
        for part in (article.doc_id, article.title, article.text):
            digest.update(part.encode())
            digest.update(b"\0")
    return digest.hexdigest()

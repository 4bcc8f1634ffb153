"""One reader for the JSON Lines files evaluation takes (eval sets, BEIR corpora and queries)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.errors import InvalidInputError
from qa.ingest.corpus import parse_json

__all__ = ["json_lines"]


def json_lines(path: Path, bad: str | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of ``path``, read as UTF-8 (a BOM allowed).

    Lines end at ``\\n`` only: ``str.splitlines`` would also cut at U+2028 or U+0085, which a
    JSON string may hold as they are. A line that is not JSON is an InvalidInputError naming
    ``path:line`` (after ``bad``, when given: ``bad eval question (not valid JSON (...))``);
    bytes that are not UTF-8 raise UnicodeDecodeError, for the caller to name its file.
    """
    with path.open(encoding="utf-8-sig", newline="\n") as lines:
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = parse_json(line)
            except ValueError as exc:
                reason = f"{bad} ({exc})" if bad else str(exc)
                raise InvalidInputError(f"{path}:{lineno}: {reason}") from None
            yield lineno, value

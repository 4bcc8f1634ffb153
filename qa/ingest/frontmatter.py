"""Front matter: a ``---`` line, ``key: value`` lines (YAML), a closing ``---`` line.

Only the position where the article body starts is returned, never a rewritten text: the body is
``text[body_start:]``, so offsets still index the file's own characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["FrontMatter", "FrontMatterError", "split_front_matter"]

_OPEN = re.compile(r"---[ \t]*\r?\n")
_CLOSE = re.compile(r"^---[ \t]*(?:\r\n|\n|\r|$)", re.MULTILINE)
# A block whose first line is not ``key:`` is prose between two rules, not front matter.
_KEY_LINE = re.compile(r"[A-Za-z_][\w -]*:(?:\s|$)")


class FrontMatterError(ValueError):
    """The block looks like front matter but cannot be read."""


class _Loader(yaml.SafeLoader):
    """Safe YAML without timestamps: ``published: 2024-10-12`` stays the string written."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class FrontMatter:
    fields: dict[str, Any]
    body_start: int


def split_front_matter(text: str) -> FrontMatter | None:
    """The front matter of ``text`` and where the body starts, or None when there is none."""
    opening = _OPEN.match(text)
    if opening is None:
        return None
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        return None
    block = text[opening.end() : closing.start()]
    first = next((line.strip() for line in block.splitlines() if line.strip()), "")
    looks_like_keys = first == "" or first.startswith("#") or _KEY_LINE.match(first) is not None
    try:
        loaded = yaml.load(block, Loader=_Loader)
    except yaml.YAMLError as exc:
        if not looks_like_keys:
            return None
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontMatterError(f"front matter is not valid YAML ({where}{problem})") from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        if not looks_like_keys:
            return None
        raise FrontMatterError("front matter must be 'key: value' lines")
    try:
        # Plain JSON values only (metadata is stored and hashed as JSON); int keys become strings.
        fields = json.loads(json.dumps(loaded))
    except (TypeError, ValueError) as exc:
        raise FrontMatterError(f"front matter holds something not plain data ({exc})") from exc
    return FrontMatter(fields=fields, body_start=closing.end())

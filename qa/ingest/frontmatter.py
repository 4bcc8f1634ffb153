"""Front matter: a ``---`` line, ``key: value`` lines (YAML), a closing ``---`` line.

Only the position where the article body starts is returned, never a rewritten text: the body is
``text[body_start:]``, so offsets still index the file's own characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["FrontMatter", "FrontMatterError", "split_front_matter"]

# Lines end in \n, \r\n or a lone \r (old Mac files); ``^`` alone only starts a line after \n.
_OPEN = re.compile(r"---[ \t]*(?:\r\n|\n|\r)")
_CLOSE = re.compile(r"(?:^|(?<=\r))---[ \t]*(?:\r\n|\n|\r|$)", re.MULTILINE)
# A block whose first line is not ``key:`` is prose between two rules, not front matter.
_KEY_LINE = re.compile(r"[A-Za-z_][\w -]*:(?:\s|$)")


class FrontMatterError(ValueError):
    """The block looks like front matter but cannot be read."""


class _Loader(yaml.SafeLoader):
    """Safe YAML without timestamps (``published: 2024-10-12`` stays the string written) and
    without aliases: ``*name`` repeats a node by reference, so a few lines of nested aliases
    ("billion laughs") stand for a value exponentially large once stored as JSON."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class FrontMatter:
    fields: dict[str, Any]
    body_start: int
    written: dict[str, str] = field(default_factory=dict)
    """Each top-level scalar as written (``title: 1984`` -> ``"1984"``, where ``fields`` holds the
    number 1984): text fields take a value as written whatever YAML reads in it."""


def _load(block: str) -> tuple[Any, dict[str, str]]:
    """``yaml.load(block)`` and the top-level scalars as written, from one parse."""
    loader = _Loader(block)
    try:
        node = loader.get_single_node()
        loaded = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    written: dict[str, str] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
                written[key.value] = value.value
    return loaded, written


def _first_line(text: str) -> str:
    """The first line of ``text`` that is not blank, stripped ("" if none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def split_front_matter(text: str) -> FrontMatter | None:
    """The front matter of ``text`` and where the body starts, or None when there is none."""
    opening = _OPEN.match(text)
    if opening is None:
        return None
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        # a "---" rule that opens a text is no front matter; one followed by keys is, unclosed
        # (its title, date and author would otherwise be read as the article's first lines)
        if _KEY_LINE.match(_first_line(text[opening.end() :])) is not None:
            raise FrontMatterError("the front matter is not closed: no '---' line ends it")
        return None
    block = text[opening.end() : closing.start()]
    first = _first_line(block)
    looks_like_keys = first == "" or first.startswith("#") or _KEY_LINE.match(first) is not None
    try:
        loaded, written = _load(block)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        # Hostile input fails in more ways than YAMLError: nesting deeper than Python's recursion
        # limit, an integer of more than 4300 digits (ValueError, sys.set_int_max_str_digits).
        if not looks_like_keys:
            return None
        raise FrontMatterError(_problem(exc)) from None
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
    except RecursionError as exc:
        raise FrontMatterError(_problem(exc)) from None
    return FrontMatter(fields=fields, body_start=closing.end(), written=written)


def _problem(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "front matter is nested too deeply"
    if not isinstance(exc, yaml.YAMLError):  # "Exceeds the limit (4300 digits) for integer ..."
        return f"front matter cannot be read ({str(exc).split(':')[0]})"
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 2}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"front matter is not valid YAML ({where}{problem})"

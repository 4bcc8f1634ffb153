"""The eval set: questions with gold evidence spans, and a validator for those spans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.jsonl import json_lines
from qa.errors import InvalidInputError
from qa.records import Article, Span

__all__ = ["EvalQuestion", "GoldSpan", "load_dataset", "validate"]


@dataclass(frozen=True, slots=True)
class GoldSpan:
    doc_id: str
    span: Span
    text: str


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    answer: str | None
    kind: str
    answerable: bool
    gold: tuple[GoldSpan, ...]


def load_dataset(path: Path) -> list[EvalQuestion]:
    """Read the JSONL eval set; a malformed line is an error naming the line."""
    if not path.is_file():
        raise InvalidInputError(f"eval dataset {path} does not exist")
    questions = []
    try:
        for lineno, record in json_lines(path, bad="bad eval question"):
            try:
                questions.append(_question(record))
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{lineno}: bad eval question ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"eval dataset {path} is not UTF-8 ({exc.reason})") from None
    if not any(q.answerable for q in questions):  # nothing to score retrieval on
        raise InvalidInputError(f"eval dataset {path} holds no answerable question")
    return questions


_JSON_TYPES = {str: "a string", int: "an integer", bool: "true or false", list: "a list"}


def _get(record: object, key: str, kind: type, *, where: str = "", optional: bool = False) -> Any:
    """``record[key]`` if its JSON type is exactly ``kind`` (``true`` is not an integer);
    ``where`` names the record inside the line (``gold[1]: ``)."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}{json.dumps(record)[:40]} is not a JSON object")
    value = record.get(key)
    if value is None and optional:
        return None
    if key not in record:
        raise ValueError(f"{where}no {key!r}")
    if type(value) is not kind:
        raise ValueError(
            f"{where}{key!r} must be {_JSON_TYPES[kind]}, not {json.dumps(value)[:40]}"
        )
    return value


def _gold(g: object, where: str) -> GoldSpan:
    start, end = _get(g, "start_char", int, where=where), _get(g, "end_char", int, where=where)
    try:
        span = Span(start, end)
    except ValueError as exc:
        raise ValueError(f"{where}{exc}") from None
    return GoldSpan(_get(g, "doc_id", str, where=where), span, _get(g, "text", str, where=where))


def _question(r: object) -> EvalQuestion:
    """One line's record; a ValueError says which field is missing or of the wrong type."""
    gold = tuple(_gold(g, f"gold[{i}]: ") for i, g in enumerate(_get(r, "gold", list)))
    id_, question = _get(r, "id", str), _get(r, "question", str)
    if not id_.strip() or not question.strip():
        raise ValueError("'id' and 'question' must not be empty")
    return EvalQuestion(
        id_,
        question,
        _get(r, "answer", str, optional=True),
        _get(r, "kind", str),
        _get(r, "answerable", bool),
        gold,
    )


def validate(questions: list[EvalQuestion], articles: dict[str, Article]) -> list[str]:
    """Problems with the eval set: gold text not at its offsets, answers outside the evidence..."""
    problems = []
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            problems.append(f"{q.id}: duplicate id")
        seen.add(q.id)
        if q.answerable != bool(q.gold):
            problems.append(f"{q.id}: answerable questions need gold spans, others none")
        for g in q.gold:
            article = articles.get(g.doc_id)
            if article is None:
                problems.append(f"{q.id}: unknown doc_id {g.doc_id!r}")
            elif g.span.of(article.text) != g.text:
                problems.append(
                    f"{q.id}: {g.doc_id}[{g.span.start}:{g.span.end}] is "
                    f"{g.span.of(article.text)!r}, not {g.text!r}"
                )
        if q.answerable and not any(q.answer and q.answer in g.text for g in q.gold):
            problems.append(f"{q.id}: answer {q.answer!r} is in none of its gold spans")
    return problems

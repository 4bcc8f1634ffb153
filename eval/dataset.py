"""The eval set: questions with gold evidence spans, and a validator for those spans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"eval dataset {path} is not UTF-8 ({exc.reason})") from None
    questions = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            gold = tuple(
                GoldSpan(g["doc_id"], Span(g["start_char"], g["end_char"]), g["text"])
                for g in r["gold"]
            )
            questions.append(
                EvalQuestion(
                    r["id"], r["question"], r.get("answer"), r["kind"], bool(r["answerable"]), gold
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"{path}:{lineno}: bad eval question ({exc})") from exc
    if not any(q.answerable for q in questions):  # nothing to score retrieval on
        raise InvalidInputError(f"eval dataset {path} holds no answerable question")
    return questions


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

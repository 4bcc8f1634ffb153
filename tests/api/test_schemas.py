"""``/ask`` serialises its answers as plain data (``AskResponse.json_of``), not through 50 pydantic
models: these tests hold that output byte-equal to the documented model's own serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from api.schemas import (
    NO_ANSWER,
    NO_MATCH,
    AnswerOut,
    AskResponse,
    DocumentFields,
    DocumentIn,
    FiltersIn,
    Scores,
    TextSpan,
)
from qa.answer.select import Evidence
from qa.engine import AskResult, QAEngine
from qa.ingest.corpus import check_doc_id
from qa.records import Answer, Article, Hit, Passage, Span
from tests.conftest import SEEDS

QUESTIONS = [
    "How many residents were evacuated?",
    "Who wrote the piece?",
    "When did the eruption start?",
    "Who won the 2018 FIFA World Cup?",  # off topic: abstains at the default threshold
    "¿Dónde está el volcán? 火山",
]


def reference(result: AskResult) -> AskResponse:
    """The response built field by field from the models, as ``/ask`` built it before
    ``json_of``: an oracle independent of ``ask_fields``."""
    answers = []
    for a in result.answers:
        hit, article = a.hit, a.article
        answers.append(
            AnswerOut(
                rank=a.rank,
                score=round(hit.score, 6),
                confidence=round(a.confidence, 4),
                doc_id=article.doc_id,
                title=article.title,
                source=article.source,
                url=article.url,
                published=article.published,
                author=article.author,
                origin=article.origin,
                passage=TextSpan(
                    text=hit.passage.text,
                    start_char=hit.passage.span.start,
                    end_char=hit.passage.span.end,
                ),
                highlight=TextSpan(
                    text=a.highlight_text, start_char=a.highlight.start, end_char=a.highlight.end
                ),
                scores=Scores(
                    dense=None if hit.dense is None else round(hit.dense, 6),
                    bm25=None if hit.bm25 is None else round(hit.bm25, 6),
                ),
            )
        )
    abstention = None
    if result.abstained:
        abstention = "no_match" if result.candidates == 0 else "low_confidence"
    return AskResponse(
        question=result.question,
        mode=result.mode,
        abstained=result.abstained,
        abstention=abstention,
        message={"no_match": NO_MATCH, "low_confidence": NO_ANSWER, None: None}[abstention],
        confidence=round(1 - result.confidence if result.abstained else result.confidence, 4),
        min_confidence=result.min_confidence,
        took_ms=round(result.took_ms, 1),
        answers=answers,
    )


def assert_same(result: AskResult) -> None:
    fast = AskResponse.json_of(result)
    assert fast == reference(result).model_dump_json().encode()
    assert fast == AskResponse.of(result).model_dump_json().encode()


@pytest.mark.parametrize("top_k", [1, 5, 50])
def test_json_of_equals_the_model_on_real_answers(real_engine: QAEngine, top_k: int) -> None:
    for question in QUESTIONS:
        for min_confidence in (None, 0.0, 1.0):  # default, never and always abstaining
            result = real_engine.ask(question, top_k, min_confidence=min_confidence)
            assert_same(result)
    assert real_engine.ask(QUESTIONS[0], top_k, min_confidence=1.0).abstained


TEXT = "Lava reached the sea. Residents left."
ARTICLE = Article("a/1", "Lava", TEXT)  # no source, url, date or author
PASSAGE = Passage(1, "a/1", Span(0, len(TEXT)), (Span(0, 21), Span(22, 37)), TEXT)
EVIDENCE = Evidence(dense=0.5, coverage=1.0, bm25=3.25)


def reject(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def test_json_of_writes_missing_fields_nan_and_whole_numbers_as_the_model_does() -> None:
    nan = float("nan")
    answers = [
        Answer(1, Hit(PASSAGE, 0.123456789, 0.5), ARTICLE, Span(0, 21), 0.9, 0.25),
        Answer(2, Hit(PASSAGE, 0.1, dense=None, bm25=3.25), ARTICLE, Span(22, 37), 0.1, 0.125),
        Answer(3, Hit(PASSAGE, float("inf"), dense=nan), ARTICLE, Span(22, 37), 0.0, nan),
    ]
    result = AskResult("lava?", "hybrid", False, answers, EVIDENCE, 2, 0.25, 0.05)
    assert_same(result)
    body = json.loads(AskResponse.json_of(result), parse_constant=reject)  # no NaN, Infinity
    first, second, third = body["answers"]
    assert first["source"] is None and second["scores"]["dense"] is None
    assert first["highlight"]["text"] == "Lava reached the sea."
    assert body["took_ms"] == 2.0 and isinstance(body["took_ms"], float)
    assert (
        third["score"] is None and third["scores"]["dense"] is None and third["confidence"] is None
    )


def test_json_of_says_why_it_abstained() -> None:
    weighed = AskResult("lava?", "hybrid", True, [], EVIDENCE, 1.0, 0.01, 0.05, candidates=12)
    nothing = AskResult("lava?", "hybrid", True, [], EVIDENCE, 1.0, 0.0, 0.05, candidates=0)
    for result, reason, message in (
        (weighed, "low_confidence", NO_ANSWER),
        (nothing, "no_match", NO_MATCH),
    ):
        assert_same(result)
        body = json.loads(AskResponse.json_of(result))
        assert (body["abstention"], body["message"]) == (reason, message)
        assert list(body)[:5] == ["question", "mode", "abstained", "abstention", "message"]


def test_json_of_takes_numpy_numbers() -> None:
    """Numpy scalars (a float32 is not a Python float, an int64 not an int) are written as the
    numbers they hold, rounded as Python floats are."""
    score: float = np.float32(0.123456789)  # type: ignore[assignment]
    start: int = np.int64(22)  # type: ignore[assignment]
    answer = Answer(1, Hit(PASSAGE, score, np.float64(0.5)), ARTICLE, Span(start, 37), 0.9, score)
    abstained: bool = np.bool_(False)  # type: ignore[assignment]
    result = AskResult("lava?", "hybrid", abstained, [answer], EVIDENCE, 1.25, score, 0.05)
    body = AskResponse.model_validate_json(AskResponse.json_of(result))
    assert body.answers[0].score == 0.123457 and body.answers[0].confidence == 0.1235
    assert body.answers[0].highlight.start_char == 22 and body.abstained is False


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2024-10-12", "2024-10-12"),
        ("2024-10-12T08:30:00+01:00", "2024-10-12T08:30:00+01:00"),
        ("20241012", "2024-10-12"),
        ("2024-W41-6", "2024-10-12"),
        ("20241012T083000", "2024-10-12T08:30:00"),
    ],
)
def test_dates_are_taken_in_the_extended_form(written: str, stored: str) -> None:
    """Filters compare the first ten characters: "20241012" was stored as sent, and never fell
    in a date range (nor did a filter bound in that form compare right)."""
    assert DocumentIn(id="a", text="t", published=written).published == stored
    filters = FiltersIn(published_after=written, published_before=written)
    assert (filters.published_after, filters.published_before) == (stored, stored)
    with pytest.raises(ValidationError, match="must be an ISO date"):
        DocumentIn(id="a", text="t", published="12/10/2024")


@pytest.mark.parametrize(
    "doc_id", ["ok", "with space", "a/b", "line\nbreak", "trail\n", " lead", "x" * 257, ""]
)
def test_document_ids_follow_the_corpus_rule(doc_id: str) -> None:
    """One rule for ids sent and ids read from files (qa/ingest/corpus.py): an article read
    from the corpus can always be reached at /documents/{id}."""
    try:
        check_doc_id(doc_id)
    except ValueError:
        with pytest.raises(ValidationError):
            DocumentIn(id=doc_id, text="t")
    else:
        assert DocumentIn(id=doc_id, text="t").id == doc_id


def test_author_from_the_byline_as_for_files() -> None:
    text = (SEEDS / "000_fcec8ea6051c7915.txt").read_text(encoding="utf-8")
    assert DocumentFields(text=text).to_article("x").author == "Ellie Doughty"
    given = DocumentFields(text=text, author="Desk").to_article("x")
    assert given.author == "Desk"  # a given author wins
    assert DocumentFields(text="No byline here.").to_article("y").author is None

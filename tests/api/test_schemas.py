"""``/ask`` serialises its answers as plain data (``AskResponse.json_of``), not through 50 pydantic
models: these tests hold that output byte-equal to the documented model's own serialisation."""

from __future__ import annotations

import numpy as np
import pytest

from api.schemas import AskResponse
from qa.answer.select import Evidence
from qa.engine import AskResult, QAEngine
from qa.records import Answer, Article, Hit, Passage, Span

QUESTIONS = [
    "How many residents were evacuated?",
    "Who wrote the piece?",
    "When did the eruption start?",
    "Who won the 2018 FIFA World Cup?",  # off topic: abstains at the default threshold
    "¿Dónde está el volcán? 火山",
]


def assert_same(result: AskResult) -> None:
    fast = AskResponse.json_of(result)
    assert fast == AskResponse.of(result).model_dump_json().encode()
    assert AskResponse.model_validate_json(fast) == AskResponse.of(result)


@pytest.mark.parametrize("top_k", [1, 5, 50])
def test_json_of_equals_the_model_on_real_answers(real_engine: QAEngine, top_k: int) -> None:
    for question in QUESTIONS:
        for min_confidence in (None, 0.0, 1.0):  # default, never and always abstaining
            result = real_engine.ask(question, top_k, min_confidence=min_confidence)
            assert_same(result)
    assert real_engine.ask(QUESTIONS[0], top_k, min_confidence=1.0).abstained


def test_json_of_coerces_numpy_scores_and_keeps_missing_fields() -> None:
    text = "Lava reached the sea. Residents left."
    article = Article("a/1", "Lava", text)  # no source, url, date or author
    passage = Passage(1, "a/1", Span(0, len(text)), (Span(0, 21), Span(22, 37)), text)
    # scores and confidences as numpy gives them (a float32 is not a Python float)
    score: float = np.float32(0.123456789)  # type: ignore[assignment]
    confidence: float = np.float32(0.25)  # type: ignore[assignment]
    answers = [
        Answer(1, Hit(passage, score, np.float64(0.5)), article, Span(0, 21), 0.9, confidence),
        Answer(2, Hit(passage, 0.1, dense=None, bm25=3.25), article, Span(22, 37), 0.1, 0.125),
    ]
    evidence = Evidence(dense=0.5, coverage=1.0, bm25=3.25)
    result = AskResult("lava?", "hybrid", False, answers, evidence, 1.234, confidence, 0.05)
    assert_same(result)
    body = AskResponse.model_validate_json(AskResponse.json_of(result))
    assert body.answers[0].source is None and body.answers[1].scores.dense is None
    assert body.answers[0].highlight.text == "Lava reached the sea."

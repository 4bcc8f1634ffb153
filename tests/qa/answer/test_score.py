"""The caption rule of qa/answer/score.py, on hand-set scores."""

from __future__ import annotations

import numpy as np

from qa.answer.score import CAPTION_MARGIN, _captions_after_body
from qa.records import Hit, Passage, Span


def _hit(pid: int, doc: str = "a") -> Hit:
    return Hit(Passage(pid, doc, Span(0, 1), (Span(0, 1),), "x"), 0.0)


HITS = [_hit(0), _hit(1), _hit(2, "other")]
CAPTIONS = np.array([1.0, 0.0, 0.0])  # passage 0 is a photo caption


def test_a_caption_goes_just_below_a_body_passage_that_says_the_same_and_answers() -> None:
    scores = np.array([2.0, 0.5, 1.0])
    best = np.array([0.78, 0.78 - CAPTION_MARGIN + 0.01, 0.9])
    out = _captions_after_body(scores, HITS, CAPTIONS, best, 20, np.array([True, True, True]))
    assert out[0] < out[1] and out[1] - out[0] < 0.01
    assert out[2] == 1.0  # another article's passage changes nothing


def test_a_caption_keeps_its_score_when_the_body_would_not_be_answered() -> None:
    """Below a passage that is no answer, the caption's answer would become an abstention."""
    scores = np.array([2.0, -4.0, 1.0])
    best = np.array([0.78, 0.70, 0.9])
    out = _captions_after_body(scores, HITS, CAPTIONS, best, 20, np.array([True, False, True]))
    np.testing.assert_array_equal(out, scores)


def test_a_caption_the_body_does_not_match_keeps_its_score() -> None:
    scores = np.array([2.0, 0.5, 1.0])
    best = np.array([0.78, 0.78 - CAPTION_MARGIN - 0.01, 0.9])
    out = _captions_after_body(scores, HITS, CAPTIONS, best, 20, np.array([True, True, True]))
    np.testing.assert_array_equal(out, scores)

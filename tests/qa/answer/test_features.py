"""The ranker's evidence: question kinds, answer-kind matches, captions, feature rows."""

import numpy as np
import pytest

from qa.answer.features import (
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    Sentence,
    analyse_question,
    is_caption,
    passage_features,
    sentence_features,
    wants,
)
from qa.records import Article, Span


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When were the documents found?", "when"),
        ("In what year did the war end?", "when"),
        ("How many missiles did Iran fire?", "number"),
        ("How much will the closures save each year?", "money"),
        ("How much did the project cost?", "money"),
        ("Who met Ismail Haniyeh in Tehran?", "who"),
        ("Where did police find the car?", "where"),
        ("Which country is the most worrying?", "where"),
        ("Who wrote the piece on the Hamas documents?", "author"),
        ("What did Hamas code name the attack?", "other"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert analyse_question(question, [], {}, 10).kind == kind


def test_idf_weights_rare_terms_more() -> None:
    info = analyse_question("q", ["rare", "common", "absent"], {"rare": 1, "common": 90}, 100)
    assert info.idf["rare"] > info.idf["common"] > 0
    assert info.idf["absent"] == 0.0


@pytest.mark.parametrize(
    ("kind", "text", "question", "expected"),
    [
        ("money", "Mr Straw said the move would save £6m a year.", "How much will it save?", True),
        ("money", "Nine embassies will close.", "How much will it save?", False),
        ("number", "Iran fired 181 missiles.", "How many missiles?", True),
        # the number the question already names is not an answer to it
        ("number", "The 800m was won in Erfurt.", "Who won the 800m?", False),
        ("when", "It was found in January 2024.", "When was it found?", True),
        ("who", "It was presented by Jonathan Ross.", "Who presented the awards?", True),
        ("who", "it was presented at the Awards", "Who presented the Awards?", False),
        ("other", "Anything at all, 1999.", "What?", False),
    ],
)
def test_wants_new_evidence_of_the_kind(
    kind: str, text: str, question: str, expected: bool
) -> None:
    assert wants(kind, text, question) is expected


def test_captions_are_recognised_by_their_markup_or_credit() -> None:
    text = (
        "Sinwar wanted a regional war[/caption] The documents reveal more. Ali / Wikimedia Commons."
    )
    caption = Span(0, text.index("[/caption]"))
    body = Span(text.index("The"), text.index("more.") + 5)
    credit = Span(text.index("Ali"), len(text))
    assert is_caption(text, caption)
    assert not is_caption(text, body)
    assert is_caption(text, credit)


def _sentences(text: str, vectors: list[list[float]]) -> list[Sentence]:
    spans, start = [], 0
    for part in text.split(". "):
        end = start + len(part) + (1 if start + len(part) < len(text) else 0)
        spans.append(Span(start, min(end, len(text))))
        start = end + 1
    return [Sentence(s, np.array(v, dtype=np.float32)) for s, v in zip(spans, vectors, strict=True)]


def test_sentence_rows_mark_the_sentence_with_the_answer_kind() -> None:
    text = "Jack Straw announced the closures. He said they would save £6m a year."
    q = np.array([1.0, 0.0], dtype=np.float32)
    sentences = _sentences(text, [[0.9, 0.1], [0.5, 0.5]])
    info = analyse_question(
        "How much will the closures save?", ["closur", "save"], {"closur": 1, "save": 3}, 50
    )
    rows, terms = sentence_features(info, q, text, sentences)
    assert rows.shape == (2, len(SENTENCE_FEATURES))
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    assert rows[0, col["cosine"]] == pytest.approx(0.9)
    assert rows[1, col["cosine_gap"]] == pytest.approx(-0.4)
    assert rows[1, col["wants_kind"]] == 1.0 and rows[0, col["lacks_kind"]] == 1.0
    assert rows[0, col["first"]] == 1.0 and rows[1, col["first"]] == 0.0
    assert "save" in terms[1] and "closur" in terms[0]


def test_passage_rows_carry_article_context() -> None:
    a = Article("a", "Embassy closures", "x" * 100)
    b = Article("b", "Other", "y" * 100)
    info = analyse_question("q", ["embassi", "save"], {"embassi": 2, "save": 5}, 100)
    rows = passage_features(
        info,
        dense=np.array([0.8, 0.5, 0.3], dtype=np.float32),
        sentence_cosines=[np.array([0.8]), np.array([0.5]), np.array([0.3])],
        sentence_scores=[np.array([1.0]), np.array([0.0]), np.array([-1.0])],
        best_rows=[np.zeros(len(SENTENCE_FEATURES))] * 3,
        passage_terms=[{"embassi"}, {"save"}, set()],
        bm25=np.array([5.0, 0.0, 2.5], dtype=np.float32),
        articles=[a, a, b],
        spans=[Span(0, 10), Span(50, 60), Span(0, 10)],
        captions=[0.0, 0.0, 1.0],
        question_coverage=1.0,
    )
    col = {name: i for i, name in enumerate(PASSAGE_FEATURES)}
    assert rows.shape == (3, len(PASSAGE_FEATURES))
    # the second passage of article a lacks "embassi", but its article has it
    assert rows[1, col["term_cover"]] < rows[1, col["article_term_cover"]] == pytest.approx(1.0)
    assert rows[1, col["article_dense"]] == pytest.approx(0.0)  # a holds the best passage
    assert rows[2, col["article_dense"]] == pytest.approx(0.3 - 0.8)
    assert rows[0, col["bm25"]] == 1.0 and rows[2, col["bm25"]] == 0.5
    assert rows[2, col["caption_share"]] == 1.0
    assert rows[1, col["position"]] == pytest.approx(0.5)
    assert rows[0, col["title_cover"]] > 0

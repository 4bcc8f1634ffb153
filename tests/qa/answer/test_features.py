"""The ranker's evidence: question kinds, answer-kind matches, captions, feature rows."""

import numpy as np
import pytest

from qa.answer.features import (
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    Run,
    Sentence,
    SentenceBatch,
    Topic,
    analyse_question,
    is_caption,
    passage_features,
    sentence_features,
    trimmed_features,
    wants,
)
from qa.records import Article, Span
from qa.store.terms import terms

NO_TOPIC = Topic(frozenset(), frozenset())


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
    batch = sentence_features(info, q, [(Run.of(text, sentences), NO_TOPIC)])
    rows = batch.of(0)
    assert rows.shape == (2, len(SENTENCE_FEATURES))
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    assert rows[0, col["cosine"]] == pytest.approx(0.9)
    assert rows[1, col["cosine_gap"]] == pytest.approx(-0.4)
    assert rows[0, col["neighbour_cosine"]] == pytest.approx(0.5)
    assert rows[1, col["wants_kind"]] == 1.0 and rows[0, col["lacks_kind"]] == 1.0
    assert rows[0, col["first"]] == 1.0 and rows[1, col["first"]] == 0.0
    assert rows[1, col["new_numbers"]] == pytest.approx(1 / 3)  # "6" is not in the question
    names = list(info.idf)
    assert batch.has[1, names.index("save")] and batch.has[0, names.index("closur")]
    assert not batch.has[0, names.index("save")]


def test_stored_sentence_terms_give_the_same_rows_as_stemming_the_text() -> None:
    text = "Jack Straw announced the closures. He said they would save £6m a year."
    q = np.array([1.0, 0.0], dtype=np.float32)
    stemmed = _sentences(text, [[0.9, 0.1], [0.5, 0.5]])
    stored = [Sentence(s.span, s.vector, " ".join(terms(s.span.of(text)))) for s in stemmed]
    info = analyse_question("How much will the closures save?", ["closur", "save"], {}, 50)
    a = sentence_features(info, q, [(Run.of(text, stemmed), NO_TOPIC)])
    b = sentence_features(info, q, [(Run.of(text, stored), NO_TOPIC)])
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.has, b.has)


def test_sentence_rows_of_several_passages_stay_within_their_passage() -> None:
    """cosine_gap, neighbour and ``first`` look at a sentence's own passage only."""
    text = "One thing. Two things. Three things."
    q = np.array([1.0, 0.0], dtype=np.float32)
    s = _sentences(text, [[0.2, 0.9], [0.9, 0.1], [0.5, 0.5]])
    info = analyse_question("q", ["thing"], {"thing": 2}, 10)
    batch = sentence_features(
        info, q, [(Run.of(text, s[:1]), NO_TOPIC), (Run.of(text, s[1:]), NO_TOPIC)]
    )
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    assert list(batch.bounds) == [0, 1, 3]
    # the lone sentence of passage 0 is its passage's best, and has no neighbour
    assert batch.of(0)[0, col["cosine_gap"]] == pytest.approx(0.0)
    assert batch.of(0)[0, col["neighbour_cosine"]] == pytest.approx(0.2)
    assert batch.of(1)[0, col["neighbour_cosine"]] == pytest.approx(0.5)
    assert list(batch.rows[:, col["first"]]) == [1.0, 1.0, 0.0]


def _passage_rows(n_tail: int = 0, pool: int = 20) -> np.ndarray:
    a = Article("a", "Embassy closures", "x" * 100)
    b = Article("b", "Other", "y" * 100)
    text = "x" * 100
    info = analyse_question("q", ["embassi", "save"], {"embassi": 2, "save": 5}, 100)
    vectors = [[0.8, 0.0], [0.5, 0.0], [0.3, 0.0], *([[0.95, 0.0]] * n_tail)]
    passages = [
        (Run.of(text, [Sentence(Span(0, 10), np.array(v, np.float32))]), NO_TOPIC) for v in vectors
    ]
    batch = sentence_features(info, np.array([1.0, 0.0], np.float32), passages)
    batch.has[:] = False
    batch.has[0, 0] = True  # passage 0 holds "embassi"
    batch.has[1, 1] = True  # passage 1 holds "save"
    n = len(vectors)
    return passage_features(
        info,
        dense=np.array([0.8, 0.5, 0.3, *([0.95] * n_tail)], dtype=np.float32),
        sentences=batch,
        sentence_scores=np.array([1.0, 0.0, -1.0, *([2.0] * n_tail)]),
        bm25=np.array([5.0, 0.0, 2.5, *([9.0] * n_tail)]),
        articles=[a, a, b, *([a] * n_tail)],
        spans=[Span(0, 10), Span(50, 60), Span(0, 10), *([Span(20, 30)] * n_tail)],
        question_coverage=1.0,
        pool=pool,
    )[:n]


def test_passage_rows_carry_article_context() -> None:
    rows = _passage_rows()
    col = {name: i for i, name in enumerate(PASSAGE_FEATURES)}
    assert rows.shape == (3, len(PASSAGE_FEATURES))
    # the second passage of article a lacks "embassi", but its article has it
    assert rows[1, col["term_cover"]] < rows[1, col["article_term_cover"]] == pytest.approx(1.0)
    assert rows[1, col["article_dense"]] == pytest.approx(0.0)  # a holds the best passage
    assert rows[2, col["article_dense"]] == pytest.approx(0.3 - 0.8)
    assert rows[0, col["bm25"]] == 1.0 and rows[2, col["bm25"]] == 0.5
    assert rows[1, col["position"]] == pytest.approx(0.5)
    assert rows[0, col["title_cover"]] > 0
    assert rows[1, col["article_candidates"]] == pytest.approx(np.log(2))


def test_deeper_candidates_change_no_feature_of_the_reference_pool() -> None:
    """Hits past the pool (what a larger top_k reads) are compared with the pool, never the
    other way round: the pool's rows, so its scores and confidences, stay the same."""
    alone = _passage_rows(pool=3)
    with_tail = _passage_rows(n_tail=4, pool=3)
    np.testing.assert_array_equal(alone, with_tail[:3])
    col = {name: i for i, name in enumerate(PASSAGE_FEATURES)}
    # a deeper hit is measured against the pool's best and joins its article's pool passages
    assert with_tail[3, col["dense_gap"]] == pytest.approx(0.95 - 0.8)
    assert with_tail[3, col["article_candidates"]] == pytest.approx(np.log(3))
    assert with_tail[3, col["bm25"]] == pytest.approx(9.0 / 5.0)


def test_a_trimmed_passage_is_judged_on_the_sentences_it_keeps() -> None:
    text = "Jack Straw announced the closures. He said they would save £6m a year. Rain fell."
    q = np.array([1.0, 0.0], dtype=np.float32)
    sentences = _sentences(text, [[0.6, 0.8], [0.9, 0.1], [0.1, 0.9]])
    info = analyse_question(
        "How much will the closures save?", ["closur", "save"], {"closur": 1, "save": 3}, 50
    )
    batch = sentence_features(info, q, [(Run.of(text, sentences), NO_TOPIC)])
    scores = np.array([0.0, 2.0, -1.0])
    row = passage_features(
        info,
        dense=np.array([0.7], dtype=np.float32),
        sentences=batch,
        sentence_scores=scores,
        bm25=np.array([1.0]),
        articles=[Article("a", "Closures", text)],
        spans=[Span(0, len(text))],
        question_coverage=1.0,
    )[0]
    col = {name: i for i, name in enumerate(PASSAGE_FEATURES)}
    # the answering sentence (the second) was shown by a better answer: the rest is kept
    keep = [True, False, False]
    kept = SentenceBatch(batch.rows[keep], np.array([0, 1]), batch.has[keep])
    trimmed = trimmed_features(
        info, row[None], kept, scores[keep], np.array([0]), np.array([len(text)])
    )[0]
    assert trimmed[col["best_sentence"]] == pytest.approx(0.6)
    assert trimmed[col["best_sentence_gap"]] == pytest.approx(0.6 - 0.9)
    assert trimmed[col["sentence_score"]] == pytest.approx(0.0)
    assert trimmed[col["term_cover"]] < row[col["term_cover"]]  # "save" is gone
    assert trimmed[col["wants_kind"]] == 0.0 and row[col["wants_kind"]] == 1.0
    for name in ("dense", "bm25", "article_dense", "article_term_cover"):
        assert trimmed[col[name]] == row[col[name]]
    # runs of several passages at once: each judged on its own sentences
    both = SentenceBatch(
        np.concatenate([batch.rows, batch.rows[keep]]),
        np.array([0, 3, 4]),
        np.concatenate([batch.has, batch.has[keep]]),
    )
    rows = trimmed_features(
        info,
        np.stack([row, row]),
        both,
        np.concatenate([scores, scores[keep]]),
        np.array([0, 0]),
        np.array([len(text), len(text)]),
    )
    np.testing.assert_allclose(rows[0], row, rtol=1e-6)  # all its sentences: unchanged
    np.testing.assert_array_equal(rows[1], trimmed)

"""Articles prepared for answering: what the cache holds is what the store holds."""

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer.features import (
    SENTENCE_FEATURES,
    ArticleSentences,
    Run,
    Topic,
    analyse_question,
    sentence_features,
)
from qa.answer.sentences import SentenceCache
from qa.engine import QAEngine
from qa.records import Span

NO_TOPIC = Topic(frozenset(), frozenset())


def test_prepared_passages_are_the_stored_ones(tiny_engine: QAEngine) -> None:
    store = tiny_engine.store
    rows = store.article_rows()
    prepared = tiny_engine.sentences.get(rows)
    assert sorted(prepared) == rows
    stored = store.article_passages(rows, tiny_engine.embedder.dimension)
    sentences = store.article_sentences(rows, tiny_engine.embedder.dimension)
    n_passages = 0
    for row, held in prepared.items():
        text = held.article.text
        assert sorted(held.passages) == [p.passage_id for p in stored[row]]
        for p in stored[row]:
            got = held.passages[p.passage_id]
            n_passages += 1
            assert got.passage.text == text[p.span.start : p.span.end]
            assert got.passage.doc_id == held.article.doc_id
            np.testing.assert_array_equal(got.vector, p.vector)
            first = p.sentence_ids.start - sentences[row].first_id
            assert got.sentences.spans == tuple(
                sentences[row].spans[first : first + len(p.sentence_ids)]
            )
            np.testing.assert_array_equal(
                got.sentences.article.vectors[got.sentences.lo : got.sentences.hi],
                sentences[row].vectors[first : first + len(p.sentence_ids)],
            )
    assert n_passages == tiny_engine.counts()[1]


def test_warming_prepares_the_articles_up_to_its_capacity(tiny_engine: QAEngine) -> None:
    n_articles = tiny_engine.counts()[0]
    full = SentenceCache(tiny_engine.store, tiny_engine.embedder.dimension, capacity=100)
    full.start_warming(wait=True)
    assert len(full) == n_articles and not full.warming
    small = SentenceCache(tiny_engine.store, tiny_engine.embedder.dimension, capacity=1)
    small.start_warming(wait=True)
    assert len(small) == 1
    # a question's articles still come back whole; the least recently used one makes room
    rows = tiny_engine.store.article_rows()
    assert sorted(small.get(rows)) == rows and len(small) == 1


def test_a_replaced_or_deleted_article_is_never_answered_from_memory(
    tiny_engine: QAEngine,
) -> None:
    question = "How many residents were evacuated from the village?"
    first = tiny_engine.ask(question, top_k=3)
    assert first.answers[0].article.doc_id == "volcano"
    old = tiny_engine.document("volcano")
    new_text = old.text.replace("300 residents", "4,500 residents")
    tiny_engine.add([type(old)("volcano", old.title, new_text)], replace=True)
    again = tiny_engine.ask(question, top_k=3)
    top = again.answers[0]
    assert top.article.text == new_text and "4,500" in top.hit.passage.text
    tiny_engine.delete(["volcano"])
    assert all(a.article.doc_id != "volcano" for a in tiny_engine.ask(question, top_k=5).answers)


WORDS = st.sampled_from(["storm", "flood", "rain", "river", "town", "a_b", "x"])


@settings(max_examples=200, deadline=None)
@given(
    sentences=st.lists(st.lists(WORDS, max_size=8), min_size=1, max_size=6),
    question=st.lists(WORDS, min_size=1, max_size=4, unique=True),
    lo=st.integers(0, 5),
)
def test_term_counts_are_each_sentences_own(
    sentences: list[list[str]], question: list[str], lo: int
) -> None:
    """Counted from the numbered terms, a question term's count in a sentence is its plain
    count there: its BM25 and whether it is held match a count of the words."""
    text = " ".join("w" * (len(s) + 1) + "." for s in sentences)
    spans, start = [], 0
    for s in sentences:
        spans.append(Span(start, start + len(s) + 2))
        start += len(s) + 3
    vectors = np.ones((len(sentences), 2), dtype=np.float32)
    held = ArticleSentences.build(text, spans, vectors, [" ".join(s) for s in sentences])
    lo = min(lo, len(sentences) - 1)
    info = analyse_question("q", question, dict.fromkeys(question, 1), 10)
    batch = sentence_features(
        info, np.ones(2, dtype=np.float32), [(Run(held, lo, len(sentences)), NO_TOPIC)]
    )
    names = list(info.idf)
    idf = np.array([info.idf[t] for t in names])
    for k, words in enumerate(sentences[lo:]):
        tf = np.array([Counter(words)[t] for t in names], dtype=np.float64)
        assert list(batch.has[k]) == list(tf > 0)
        saturation = 1.2 * (1 - 0.75 + 0.75 * len(words) / 15.0)
        bm25 = (idf * tf * 2.2 / (tf + saturation)).sum() / info.weight
        assert batch.rows[k, SENTENCE_FEATURES.index("bm25")] == np.float32(bm25)

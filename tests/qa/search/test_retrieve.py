from collections.abc import Sequence

import numpy as np

from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Span
from qa.search.retrieve import SentenceVectors


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(dimension=64)
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        return super().embed(texts, progress=progress)


def test_sentence_vectors_embed_each_sentence_once_and_evict_oldest() -> None:
    embedder = CountingEmbedder()
    vectors = SentenceVectors(embedder, {"d": "One two. Three four. Five six."}, max_size=2)
    first = vectors.get([("d", Span(0, 8)), ("d", Span(9, 20)), ("d", Span(0, 8))])
    assert embedder.calls == [["One two.", "Three four."]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_allclose(first[1], embedder.embed(["Three four."])[0])
    vectors.get([("d", Span(9, 20))])
    assert len(embedder.calls) == 2  # the extra call above; the cache served this one
    vectors.get([("d", Span(21, 30))])  # evicts "One two.", the least recently used
    vectors.get([("d", Span(0, 8))])
    assert embedder.calls[-1] == ["One two."]
    assert vectors.get([]).shape == (0, 64)


def test_abstention_does_not_depend_on_top_k(tiny_engine: QAEngine) -> None:
    for question in [
        "How many residents were evacuated?",
        "Which quarterback threw for 5000 yards?",
    ]:
        results = [tiny_engine.ask(question, top_k=k) for k in (1, 3, 10)]
        assert len({r.abstained for r in results}) == 1
        assert len({r.evidence for r in results}) == 1
        assert all(len(r.answers) <= k for r, k in zip(results, (1, 3, 10), strict=True))


def test_concurrent_questions_stay_verbatim(tiny_engine: QAEngine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import assert_verbatim

    tiny_engine.sentences.max_size = 3  # force evictions while other threads read
    questions = [
        "How many residents were evacuated?",
        "What percent of the vote did the mayor win?",
        "When did scientists warn about magma?",
        "Were flights cancelled?",
    ] * 10
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: tiny_engine.ask(q, top_k=3), questions))
    for result in results:
        assert_verbatim(tiny_engine, result)
    assert {r.answers[0].article.doc_id for r in results[:2]} == {"volcano", "election"}

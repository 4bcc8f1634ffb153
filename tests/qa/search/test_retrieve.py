from collections.abc import Sequence

import numpy as np

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from tests.conftest import open_synced


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(dimension=64)
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        return super().embed(texts, progress=progress)


def test_ask_embeds_only_the_question(tiny_settings: Settings) -> None:
    """Every sentence is embedded once, at ingest: a question costs one model call, for itself."""
    embedder = CountingEmbedder()
    engine = open_synced(tiny_settings, embedder)
    # one batch: the sentences as each passage holds them (a bag of words reads them alone; a
    # sentence two overlapping passages share is read in both), then the passages, each once
    sentences, passages = embedder.calls
    assert "Officials said 300 residents were evacuated by bus." in sentences
    assert "Mayor re-elected in landslide" in sentences  # the headline, kept
    assert len(passages) == len(set(passages)) == engine.counts()[1]
    assert any(len(p) > max(map(len, sentences)) for p in passages)
    embedder.calls.clear()
    for mode in ("hybrid", "dense", "bm25"):
        engine.ask("How many residents were evacuated?", top_k=10, mode=mode)  # type: ignore[arg-type]
    assert embedder.calls == [["How many residents were evacuated?"]]  # cached across modes
    engine.close()


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

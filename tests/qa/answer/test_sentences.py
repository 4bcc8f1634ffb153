"""Articles prepared for answering: what the cache holds is what the store holds."""

import re
import threading
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer import sentences as sentences_module
from qa.answer.features import (
    SENTENCE_FEATURES,
    ArticleSentences,
    Run,
    Topic,
    _term_ids,
    analyse_question,
    sentence_features,
)
from qa.answer.sentences import PreparedArticle, SentenceCache
from qa.engine import QAEngine
from qa.records import Span

NO_TOPIC = Topic(frozenset(), frozenset())


def test_prepared_passages_are_the_stored_ones(tiny_engine: QAEngine) -> None:
    """Checked against plain per-row SQL, not the store helpers the cache is built from."""
    store = tiny_engine.store
    with store.read() as conn:
        rows = [r[0] for r in conn.execute("SELECT id FROM articles")]
        prepared = tiny_engine.sentences.get(rows)
        passages = conn.execute(
            "SELECT id, article, first_sentence, n_sentences, start, end, vector FROM passages"
        ).fetchall()
        sentence = {
            r[0]: r[1:]
            for r in conn.execute("SELECT id, article, start, end, vector FROM sentences")
        }
    assert sorted(prepared) == sorted(rows)
    assert sum(len(p.passages) for p in prepared.values()) == len(passages)
    for pid, row, first, count, start, end, vector in passages:
        held = prepared[row]
        got = held.passages[pid]
        assert got.passage.doc_id == held.article.doc_id
        assert got.passage.span == Span(start, end)
        assert got.passage.text == held.article.text[start:end]
        np.testing.assert_array_equal(got.vector, np.frombuffer(vector, dtype=np.float32))
        assert len(got.sentences) == count
        for k, sid in enumerate(range(first, first + count)):
            owner, s_start, s_end, s_vector = sentence[sid]
            assert owner == row and got.sentences.spans[k] == Span(s_start, s_end)
            np.testing.assert_array_equal(
                got.sentences.article.vectors[got.sentences.lo + k],
                np.frombuffer(s_vector, dtype=np.float32),
            )


def test_warming_prepares_the_newest_articles_up_to_its_capacity(tiny_engine: QAEngine) -> None:
    n_articles = tiny_engine.counts()[0]
    rows = tiny_engine.store.article_rows()
    full = SentenceCache(tiny_engine.store, tiny_engine.embedder.dimension, capacity=100)
    full.start_warming(wait=True)
    assert len(full) == n_articles and not full.warming
    small = SentenceCache(tiny_engine.store, tiny_engine.embedder.dimension, capacity=1)
    small.start_warming(wait=True)
    with tiny_engine.store.read():
        assert list(small.get([])) == [] and len(small) == 1
        assert rows[-1] in small.get([rows[-1]])  # the newest article
        # a question's articles still come back whole; the least recently used one makes room
        assert sorted(small.get(rows)) == rows and len(small) == 1


def test_closing_stops_the_warming_and_empties_the_cache(
    tiny_engine: QAEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warming batch in hand is finished; no later batch is read, nothing stays cached, and
    warming can start again once the engine is used again."""
    monkeypatch.setattr(sentences_module, "WARM_BATCH", 1)
    cache = tiny_engine.sentences
    entered, release = threading.Event(), threading.Event()
    real_get, calls = SentenceCache.get, []

    def held_get(
        self: SentenceCache, rows: Iterable[int], *, eager: bool = False
    ) -> dict[int, PreparedArticle]:
        calls.append(list(rows))
        entered.set()
        release.wait(10)
        return real_get(self, calls[-1], eager=eager)

    monkeypatch.setattr(SentenceCache, "get", held_get)
    cache.start_warming()
    assert entered.wait(10)
    closing = threading.Thread(target=tiny_engine.close)
    closing.start()
    release.set()
    closing.join(10)
    assert not closing.is_alive() and not cache.warming
    assert len(calls) == 1 < tiny_engine.counts()[0]  # the second article was never read
    assert len(cache) == 0
    monkeypatch.setattr(SentenceCache, "get", real_get)
    cache.start_warming(wait=True)
    assert len(cache) == tiny_engine.counts()[0]


def test_new_terms_get_distinct_numbers_from_many_threads() -> None:
    words = [[f"zzterm{t}x{i}" for i in range(300)] + ["zzshared"] for t in range(8)]
    out: list[list[int]] = [[] for _ in words]
    barrier = threading.Barrier(len(words))

    def number(k: int) -> None:
        barrier.wait()
        for w in words[k]:
            out[k] += _term_ids([w, "zzshared"])

    threads = [threading.Thread(target=number, args=(k,)) for k in range(len(words))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    given = {w: i for k, ws in enumerate(words) for w, i in zip(ws, out[k][::2], strict=True)}
    distinct = {w for ws in words for w in ws}
    assert len(given) == len(distinct) and len(set(given.values())) == len(distinct)
    assert len({i for ids in out for i in ids[1::2]}) == 1  # "zzshared": one number everywhere


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


def test_answer_kind_tokens_found_late_are_those_found_at_once() -> None:
    parts = ["On 3 May 2005 Ms Jones paid £6m in London.", "Nothing here.", "Twelve left."]
    text = " ".join(parts)
    spans = [Span(text.index(p), text.index(p) + len(p)) for p in parts]
    vectors = np.ones((3, 2), dtype=np.float32)
    eager = ArticleSentences.build(text, spans, vectors, [None] * 3)
    lazy = ArticleSentences.build(text, spans, vectors, [None] * 3, eager=False)
    assert lazy.evidence == {} and set(eager.evidence) == {
        "when",
        "number",
        "money",
        "who",
        "where",
    }
    for kind, found in eager.evidence.items():
        assert lazy.evidence_of(kind) == found
    assert eager.evidence["when"][0] and eager.evidence["money"][0] == ("£6m",)
    assert eager.evidence["when"][1] == () and eager.evidence["number"][2]


NUMBERISH = st.sampled_from(["12", "3.5", "1,200", "2005", "five", "May", "£6m", "7%", "x"])


@settings(max_examples=200, deadline=None)
@given(
    sentences=st.lists(st.lists(NUMBERISH, min_size=1, max_size=6), min_size=1, max_size=5),
    question=st.lists(NUMBERISH, min_size=1, max_size=4),
)
def test_new_numbers_counts_the_numbers_the_question_does_not_name(
    sentences: list[list[str]], question: list[str]
) -> None:
    """Precomputed for questions without a digit, counted for the others: either way it is
    the share of a sentence's distinct numbers (at most 3) that the question does not contain."""
    parts = [" ".join(words) + "." for words in sentences]
    text = " ".join(parts)
    spans, start = [], 0
    for part in parts:
        spans.append(Span(start, start + len(part)))
        start += len(part) + 1
    held = ArticleSentences.build(
        text, spans, np.ones((len(parts), 2), dtype=np.float32), [None] * len(parts)
    )
    asked = " ".join(question) + "?"
    info = analyse_question(asked, ["q"], {"q": 1}, 10)
    batch = sentence_features(
        info, np.ones(2, dtype=np.float32), [(Run(held, 0, len(parts)), NO_TOPIC)]
    )
    for k, part in enumerate(parts):
        written = {m.rstrip(".,") for m in re.findall(r"\d[\d,.]*", part)}
        new = sum(n not in asked.lower() for n in written)
        expected = min(new, 3) / 3 if written else 0.0
        assert batch.rows[k, SENTENCE_FEATURES.index("new_numbers")] == np.float32(expected)


def test_replaced_and_deleted_articles_leave_the_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Was: every version of an article that was asked about stayed prepared until the cache
    was full (8,192 articles, ~60 KB each): a soak of 28 minutes left 2,511 entries for 656
    articles. A server now drops them at each snapshot (`forget_deleted`)."""
    import time

    from qa.config import Settings
    from qa.embed import HashingEmbedder
    from qa.records import Article
    from qa.service import Service

    settings = Settings(
        corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False, snapshot_seconds=1
    )
    engine = QAEngine.open(settings, HashingEmbedder())
    service = Service(engine, None).start()
    try:
        for version in range(6):
            text = f"Harbour news\nThe harbour reopened after {version} storms, officials said."
            engine.add([Article("harbour", "Harbour news", text)], replace=True)
            engine.add([Article(f"other{version}", "Other", "Other\nA fair came to town.")])
            engine.ask("When did the harbour reopen?", abstain=False)
            engine.ask("What came to town?", abstain=False)
        engine.delete(["other0", "other1"])
        assert len(engine.sentences) > engine.counts()[0]  # old versions, deleted articles
        deadline = time.monotonic() + 30
        while len(engine.sentences) > engine.counts()[0] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(engine.sentences) <= engine.counts()[0] == 5
        (first, *_) = engine.ask("When did the harbour reopen?", abstain=False).answers
        assert "after 5 storms" in first.hit.passage.text  # the current version, prepared again
    finally:
        service.stop()

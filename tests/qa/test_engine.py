from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.answer.features import REFERENCE_POOL
from qa.answer.select import best_highlight
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.errors import IndexStateError, InvalidInputError, NotFoundError
from qa.records import Article, Span
from qa.search.filters import Filters
from tests.conftest import assert_verbatim, open_synced, write_corpus


def test_answers_are_verbatim_cited_and_highlighted(tiny_engine: QAEngine) -> None:
    result = tiny_engine.ask("How many residents were evacuated from the village?", top_k=3)
    assert not result.abstained
    top = result.answers[0]
    assert top.article.doc_id == "volcano"
    assert top.highlight_text == "Officials said 300 residents were evacuated by bus."
    assert top.hit.dense is not None and top.hit.bm25 is not None
    assert_verbatim(tiny_engine, result)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_every_mode_answers_without_overlaps(tiny_engine: QAEngine, mode: str) -> None:
    result = tiny_engine.ask("What percent of the vote did the mayor win?", top_k=10, mode=mode)  # type: ignore[arg-type]
    assert result.answers and result.answers[0].article.doc_id == "election"
    spans = [(a.article.doc_id, a.hit.passage.span) for a in result.answers]
    for i, (doc_a, a) in enumerate(spans):
        for doc_b, b in spans[i + 1 :]:
            assert doc_a != doc_b or not a.overlaps(b)
    assert [a.rank for a in result.answers] == list(range(1, len(result.answers) + 1))
    assert_verbatim(tiny_engine, result)


def test_off_topic_question_abstains(tiny_engine: QAEngine) -> None:
    result = tiny_engine.ask("Which quarterback threw for 5000 yards?")
    assert result.abstained and result.answers == []


@pytest.mark.parametrize(
    ("question", "top_k", "mode", "message"),
    [
        ("  ", 5, "hybrid", "must not be empty"),
        ("x" * 2001, 5, "hybrid", "longer than 2000"),
        ("ok", 0, "hybrid", "top_k must be between 1 and 50"),
        ("ok", 51, "hybrid", "top_k"),
        ("ok", 5, "sparse", "mode must be one of hybrid, dense, bm25"),
    ],
)
def test_bad_input_is_rejected_with_a_message(
    tiny_engine: QAEngine, question: str, top_k: int, mode: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        tiny_engine.ask(question, top_k, mode)  # type: ignore[arg-type]


def test_unknown_document(tiny_engine: QAEngine) -> None:
    with pytest.raises(NotFoundError, match="no document with id 'nope'"):
        tiny_engine.document("nope")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(min_size=1, max_size=80).filter(str.strip),
    st.integers(1, 10),
    st.sampled_from(["hybrid", "dense", "bm25"]),
)
def test_any_question_gives_verbatim_answers(
    tiny_engine: QAEngine, question: str, k: int, mode: str
) -> None:
    result = tiny_engine.ask(question, top_k=k, mode=mode)  # type: ignore[arg-type]
    assert len(result.answers) <= k
    assert_verbatim(tiny_engine, result)


def test_highlight_joins_a_near_tie_neighbour_only() -> None:
    sents = [Span(0, 5), Span(6, 10), Span(11, 20)]
    assert best_highlight(sents, np.array([0.1, 0.8, 0.2])) == (Span(6, 10), pytest.approx(0.8))
    span, _ = best_highlight(sents, np.array([0.1, 0.8, 0.78]))
    assert span == Span(6, 20)


def test_no_candidate_is_an_abstention_whatever_the_threshold(tiny_engine: QAEngine) -> None:
    nothing = Filters(doc_ids=("no-such-article",))
    result = tiny_engine.ask("What was discovered?", filters=nothing, min_confidence=0.0)
    assert result.abstained and result.answers == []


def test_engine_answers_again_after_close(tiny_engine: QAEngine) -> None:
    """A server's shutdown closes the engine it was given; a test or an app that starts again
    with the same engine must still get answers (the BM25 thread pool comes back)."""
    before = tiny_engine.ask("What was discovered?", min_confidence=0.0)
    tiny_engine.close()
    after = tiny_engine.ask("What was discovered?", min_confidence=0.0)
    assert [a.hit.passage.passage_id for a in after.answers] == [
        a.hit.passage.passage_id for a in before.answers
    ]


def test_a_question_that_is_not_valid_text_is_a_clear_error(tiny_engine: QAEngine) -> None:
    # what Python makes of undecodable bytes in a shell argument
    with pytest.raises(InvalidInputError, match="not valid text"):
        tiny_engine.ask("Who found \udcff it?")


def test_the_first_answer_and_its_confidence_do_not_depend_on_top_k(
    tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    """The ranker re-orders a fixed window of first-stage candidates: asking for 50 answers
    reads deeper, but cannot change the first answer or its confidence."""
    sizes = ["small", "large", "green", "blue", "old", "new"]
    files = {
        f"harbour-{i}.txt": (
            f"Harbour report {i}\n"
            + " ".join(
                f"The {sizes[(i + j) % 6]} harbour of Port {i} handled {1000 + i + j} ships in "
                f"year {j}, and its boats landed {50 + j} tonnes of cod."
                for j in range(12)
            )
            + "\n"
        )
        for i in range(12)
    }
    settings = Settings(
        corpus=write_corpus(tmp_path / "corpus", files), index_dir=tmp_path / "index", watch=False
    )
    engine = open_synced(settings, fake_embedder)
    try:
        assert engine.counts()[1] > 2 * REFERENCE_POOL  # deeper than the window
        question = "How many ships did the small harbour handle?"
        results = [engine.ask(question, top_k=k, abstain=False) for k in (1, 5, 20, 50)]
        firsts = {(r.answers[0].hit.passage.passage_id, r.answers[0].confidence) for r in results}
        assert len(firsts) == 1
        assert len(results[-1].answers) > REFERENCE_POOL
        # the window's answers keep their order whatever top_k
        five = [a.hit.passage.passage_id for a in results[1].answers]
        assert [a.hit.passage.passage_id for a in results[-1].answers][:5] == five
        # an answer trimmed by an overlap is judged on what it shows, never above its passage
        whole = {c.hit.passage.passage_id: c for c in engine.candidates(question, 50).scored}
        trimmed = []
        for a in results[-1].answers:
            c = whole[a.hit.passage.passage_id]
            assert a.confidence <= c.confidence
            if a.hit.passage.span != c.hit.passage.span:
                trimmed.append((a.confidence, c.confidence))
        assert trimmed
        assert any(shown < passage for shown, passage in trimmed)
    finally:
        engine.close()


def test_a_store_another_process_re_embedded_is_refused_not_mixed(
    tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    """Was: a `qa ask` with another backend re-embedded the store a server was using; the server
    went on comparing its question vectors with the other model's, and wrote its own into it."""
    corpus = write_corpus(tmp_path / "corpus")
    first = Settings(corpus=corpus, index_dir=tmp_path / "index", watch=False)
    server = open_synced(first, fake_embedder)
    assert server.ask("How many residents were evacuated?", abstain=False).answers
    other = first.model_copy(update={"passage_sentences": 2, "passage_overlap": 0})
    QAEngine.open(other, HashingEmbedder(), rebuild=True).close()  # the other process
    with pytest.raises(IndexStateError, match="another process re-embedded the store .* chunking"):
        server.ask("How many residents were evacuated?")
    with pytest.raises(IndexStateError, match="another process re-embedded"):
        server.add([Article("new", "New", "New\nA story about the harbour.")])
    reopened = QAEngine.open(other, HashingEmbedder())  # with the same settings: answers
    assert reopened.ask("How many residents were evacuated?", abstain=False).answers
    assert "new" not in {d["doc_id"] for d in reopened.documents()}  # the refused write
    reopened.close()
    server.close()


def test_a_store_another_process_is_re_embedding_towards_these_settings_is_still_refused(
    tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    """Until that re-embedding ends, most passages are still cut and embedded the other way."""
    from qa.engine import REEMBEDDING

    corpus = write_corpus(tmp_path / "corpus")
    first = Settings(corpus=corpus, index_dir=tmp_path / "index", watch=False)
    server = open_synced(first, fake_embedder)
    other = first.model_copy(update={"passage_sentences": 2, "passage_overlap": 0})
    QAEngine.open(other, HashingEmbedder(), rebuild=True).close()
    with pytest.raises(IndexStateError):
        server.ask("How many residents were evacuated?")
    with server.store.write() as w:  # a third process starts re-embedding as the server wants
        w.set_meta({REEMBEDDING: server._meta})
        w.delete(server.documents()[0]["doc_id"])  # and writes (the change log moves)
    with pytest.raises(IndexStateError, match="another process re-embedded"):
        server.ask("How many residents were evacuated?")
    server.close()


def test_a_store_built_before_the_model_configuration_was_recorded_is_not_re_embedded(
    tmp_path: Path, fake_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa import engine as engine_module

    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index", watch=False)
    open_synced(settings, fake_embedder).close()  # the hashing embedder records no configuration
    monkeypatch.setattr(type(fake_embedder), "config_sha256", "c" * 64, raising=False)
    reembedded: list[object] = []
    monkeypatch.setattr(QAEngine, "_reembed_all", lambda self, meta, **kw: reembedded.append(meta))
    again = QAEngine.open(settings, fake_embedder)
    assert reembedded == []
    assert again.store.meta()[engine_module.MODEL_CONFIG] == "c" * 64
    again.close()
    monkeypatch.setattr(type(fake_embedder), "config_sha256", "d" * 64, raising=False)
    with pytest.raises(IndexStateError, match="other model_config_sha256"):
        QAEngine.open(settings, fake_embedder)  # a recorded configuration that differs


def test_a_store_is_rebuilt_when_its_sentences_were_embedded_another_way(
    tmp_path: Path, fake_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sentences read in their passages and sentences embedded alone are different vectors: a
    store of one kind never takes articles of the other. An export without token states (an
    older one in a read-only cache) cannot read in context, and is told apart the same way."""
    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index", watch=False)
    built = open_synced(settings, fake_embedder)
    assert built.store.meta()["sentence_vectors"] == "in_passage"  # the default
    built.close()
    alone = settings.model_copy(update={"sentence_vectors": "alone"})
    with pytest.raises(IndexStateError, match=r"other sentence_vectors\): run `qa index`"):
        QAEngine.open(alone, fake_embedder)
    monkeypatch.setattr(type(fake_embedder), "in_context", False)
    with pytest.raises(IndexStateError, match="other sentence_vectors"):
        QAEngine.open(settings, fake_embedder)
    rebuilt = QAEngine.open(settings, fake_embedder, rebuild=True)
    assert rebuilt.store.meta()["sentence_vectors"] == "alone"
    assert rebuilt.ask("How many residents were evacuated?").answers
    rebuilt.close()
    mean = settings.model_copy(update={"passage_vectors": "mean"})
    monkeypatch.setattr(type(fake_embedder), "in_context", True)
    with pytest.raises(IndexStateError, match="other passage_vectors"):
        QAEngine.open(mean, fake_embedder)  # mean passages: sentences alone, as this store's


def test_a_store_recut_by_newer_cleaning_derives_its_titles_again(tmp_path: Path) -> None:
    """Was: a store of CHUNKER_VERSION 2, re-cut by 4, kept the titles 2 had derived (an
    article's first sentence, its short headline dropped), where a store built afresh cites
    the headline; the ranker reads titles too. A given title stays."""
    settings = Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(settings, HashingEmbedder())
    text = "Zoo welcomes baby panda\n\nThe zoo said on Monday that a panda was born."
    engine.add(
        [
            Article("panda", "The zoo said on Monday that a panda was born.", text),  # as 2 did
            Article("given", "Our panda story", text),
        ]
    )
    with engine.store.write() as w:
        w.set_meta({"chunker_version": 2})
    engine.close()
    with pytest.raises(IndexStateError):
        QAEngine.open(settings, HashingEmbedder())
    rebuilt = QAEngine.open(settings, HashingEmbedder(), rebuild=True)
    titles = {d: rebuilt.document(d).title for d in ("panda", "given")}
    assert titles == {"panda": "Zoo welcomes baby panda", "given": "Our panda story"}
    hit = rebuilt.ask("Which zoo welcomes a baby panda?", 1, abstain=False).answers[0]
    assert hit.article.title in ("Zoo welcomes baby panda", "Our panda story")
    rebuilt.close()

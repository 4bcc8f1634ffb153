"""Sentence vectors read in their passages' runs: which spans are pooled, and how they combine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from qa.embed import HashingEmbedder, Spans, embeds_in_context, pool_spans
from qa.ingest.passages import Chunking
from qa.ingest.prepare import cut, prepare
from qa.records import Article

TEXT = "Alpha one. Bravo two. Charlie three. Delta four. Echo five."


class Recording:
    """A context embedder whose pooled means say which passage and span they came from, and
    which never reads spans past ``limit`` characters of a passage (as the model stops at
    ``max_seq_length`` tokens)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.calls: list[tuple[list[str], list[list[tuple[int, int]]]]] = []
        self.alone: list[str] = []
        self.in_context = True

    @property
    def model_id(self) -> str:
        return "recording"

    @property
    def fingerprint(self) -> str:
        return "recording"

    @property
    def dimension(self) -> int:
        return 8

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.alone.extend(texts)
        out = np.zeros((len(texts), 8), np.float32)
        out[:, 7] = 1.0  # "embedded alone"
        return out

    def embed_in_context(
        self, texts: Sequence[str], spans: Spans, *, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.calls.append((list(texts), [list(s) for s in spans]))
        passages = np.zeros((len(texts), 8), np.float32)
        passages[:, 6] = 1.0
        means, counts = [], []
        for p, ranges in enumerate(spans):
            for a, b in ranges:
                row = np.zeros(8, np.float32)
                row[p % 6] = 2.0  # unnormalised, as pooled token states are
                means.append(row)
                counts.append(0 if b > self.limit else b - a)
        return passages, np.array(means, np.float32), np.array(counts, np.int64)


def _article(text: str = TEXT) -> Article:
    return Article("a", "A", text)


def test_each_sentence_is_pooled_from_every_passage_it_is_in() -> None:
    embedder = Recording()
    done = cut([_article()], Chunking(sentences=3, overlap=1))
    (prepared,) = prepare(done, embedder, sentence_vectors="in_passage")
    texts, spans = embedder.calls[0]
    assert texts == [
        "Alpha one. Bravo two. Charlie three.",
        "Charlie three. Delta four. Echo five.",
    ]
    # the spans are the sentences' offsets inside each passage's own text
    assert [[p[a:b] for a, b in s] for p, s in zip(texts, spans, strict=True)] == [
        ["Alpha one.", "Bravo two.", "Charlie three."],
        ["Charlie three.", "Delta four.", "Echo five."],
    ]
    assert embedder.alone == []  # the model ran once, on the passages
    v = prepared.sentence_vectors
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)
    assert v[0].argmax() == 0 and v[4].argmax() == 1  # from the first / the second passage
    half = np.float32(np.sqrt(0.5))  # "Charlie three." is in both: the mean of the two
    np.testing.assert_allclose(v[2], [half, half, 0, 0, 0, 0, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(prepared.passage_vectors[:, 6], [1.0, 1.0])


def test_a_sentence_the_model_never_read_is_embedded_alone() -> None:
    embedder = Recording(limit=30)  # spans ending past 30 characters are not read
    done = cut([_article()], Chunking(sentences=3, overlap=1))
    (prepared,) = prepare(done, embedder, sentence_vectors="in_passage")
    # "Charlie three." ends at 36 in the first passage but at 14 in the second, so it is read
    assert embedder.alone == ["Echo five."]
    assert prepared.sentence_vectors[4].argmax() == 7
    assert prepared.sentence_vectors[2].argmax() == 1


def test_sentences_are_numbered_across_the_articles_of_a_batch() -> None:
    embedder = Recording()
    articles = [_article(), Article("b", "B", "Foxtrot six. Golf seven.")]
    first, second = prepare(
        cut(articles, Chunking(sentences=3, overlap=1)), embedder, sentence_vectors="in_passage"
    )
    assert len(first.sentence_vectors) == 5 and len(second.sentence_vectors) == 2
    assert second.sentence_vectors[0].argmax() == 2  # the batch's third passage


def test_in_passage_needs_embedded_passages_and_a_context_embedder() -> None:
    done = cut([_article()], Chunking())
    with pytest.raises(ValueError, match="only when passages are embedded"):
        prepare(done, Recording(), passage_vectors="mean", sentence_vectors="in_passage")
    old = Recording()
    old.in_context = False  # an older export without token states
    assert not embeds_in_context(old)
    with pytest.raises(ValueError, match="only when passages are embedded"):
        prepare(done, old, sentence_vectors="in_passage")


def test_the_hashing_embedder_reads_a_sentence_alone_in_context() -> None:
    """A bag of words has no context: in_passage gives the vectors alone does, which keeps the
    fast tests' answers the same whichever way a store was built."""
    embedder = HashingEmbedder(64)
    done = cut([_article()], Chunking(sentences=3, overlap=1))
    (alone,) = prepare(done, embedder, sentence_vectors="alone")
    (read,) = prepare(done, embedder, sentence_vectors="in_passage")
    np.testing.assert_allclose(read.sentence_vectors, alone.sentence_vectors, atol=1e-6)
    np.testing.assert_array_equal(read.passage_vectors, alone.passage_vectors)


def test_pool_spans_averages_the_tokens_that_overlap_each_span() -> None:
    states = np.arange(12, dtype=np.float32).reshape(6, 2)
    # [CLS] "ab" "cd" "ef" "gh" [SEP]: special tokens have an empty range
    offsets = np.array([[0, 0], [0, 2], [3, 5], [5, 7], [8, 10], [0, 0]])
    means, counts = pool_spans(states, offsets, [(0, 5), (4, 6), (7, 8), (11, 12)])
    np.testing.assert_array_equal(counts, [2, 2, 0, 0])
    np.testing.assert_allclose(means[0], states[1:3].mean(axis=0))
    np.testing.assert_allclose(means[1], states[2:4].mean(axis=0))  # a token cut by the span
    np.testing.assert_array_equal(means[2:], 0.0)  # between tokens, and past the last
    assert pool_spans(states, offsets, [])[0].shape == (0, 2)

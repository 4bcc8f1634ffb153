"""Sentences scored in parts (the lexical candidates while the dense search runs, the rest
after) and gathered give what scoring them all at once gives."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer.features import Run, Sentence, Topic, analyse_question, sentence_features
from qa.answer.score import _gather, score_sentences
from qa.engine import load_ranker
from qa.records import Span

RANKER = load_ranker()
TEXT = "The council closed two libraries. It will save money. Readers protested. Nobody came. "
SPANS = [Span(0, 33), Span(34, 53), Span(54, 72), Span(73, 85)]


def _passages(cuts: list[tuple[int, int]], seed: int) -> list[tuple[int, Run, Topic]]:
    rng = np.random.default_rng(seed)
    sentences = [Sentence(s, rng.normal(size=4).astype(np.float32)) for s in SPANS]
    topics = [Topic(frozenset({"librari"}), frozenset()), Topic(frozenset(), frozenset())]
    return [
        (100 + i, Run.of(TEXT, sentences[lo:hi]), topics[i % 2]) for i, (lo, hi) in enumerate(cuts)
    ]


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 4)).map(
            lambda t: (min(t), max(t[1], min(t) + 1))
        ),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_parts_gathered_equal_one_batch(
    cuts: list[tuple[int, int]], seed: int, data: st.DataObject
) -> None:
    passages = _passages(cuts, seed)
    info = analyse_question("How much will closing libraries save?", ["librari", "save"], {}, 9)
    q = np.random.default_rng(seed + 1).normal(size=4).astype(np.float32)
    order = data.draw(st.permutations([pid for pid, _, _ in passages]))
    early = data.draw(st.lists(st.sampled_from(passages), unique_by=lambda p: p[0]))
    late = [p for p in passages if p[0] not in {pid for pid, _, _ in early}]
    parts = [score_sentences(info, q, early, RANKER), score_sentences(info, q, late, RANKER)]
    batch, scores = _gather(parts, order)
    by_id = {pid: (run, topic) for pid, run, topic in passages}
    whole = sentence_features(info, q, [by_id[pid] for pid in order])
    np.testing.assert_array_equal(batch.bounds, whole.bounds)
    np.testing.assert_allclose(batch.rows, whole.rows, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(batch.has, whole.has)
    np.testing.assert_allclose(scores, RANKER.sentence_scores(whole.rows), rtol=1e-5, atol=1e-5)

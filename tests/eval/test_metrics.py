import numpy as np
import pytest

from eval.answers import ece_interval, ece_of_a_calibrated_model, expected_calibration_error
from eval.metrics import abstention_scores, label_ranking, ranking_metrics
from qa.records import Span


def test_label_ranking_credits_each_gold_span_once() -> None:
    gold = [("a", Span(10, 20)), ("b", Span(0, 5))]
    returned = [("a", Span(0, 8)), ("a", Span(15, 30)), ("a", Span(12, 18)), ("b", Span(3, 9))]
    assert label_ranking(returned, gold) == ["miss-0", "gold-0", "miss-2", "gold-1"]


def test_ranking_metrics_match_hand_computation() -> None:
    # q1: relevant g0 at rank 2 -> hit@1 0, hit@3 1, recall@3 1, MRR 1/2, nDCG = (1/log2(3)) / 1
    # q2: relevant g0, g1; g1 at rank 1, g0 missing -> hit@1 1, recall@3 1/2, MRR 1,
    #     nDCG@10 = 1 / (1 + 1/log2(3))
    rankings = {"q1": ["miss-0", "gold-0", "miss-2"], "q2": ["gold-1", "miss-1"]}
    relevant = {"q1": ["gold-0"], "q2": ["gold-0", "gold-1"]}
    m = ranking_metrics(
        rankings, relevant, ["hit_rate@1", "hit_rate@3", "recall@3", "mrr@10", "ndcg@10"]
    )
    from math import log2

    assert m["hit_rate@1"] == pytest.approx(0.5)
    assert m["hit_rate@3"] == pytest.approx(1.0)
    assert m["recall@3"] == pytest.approx((1 + 0.5) / 2)
    assert m["mrr@10"] == pytest.approx((0.5 + 1) / 2)
    assert m["ndcg@10"] == pytest.approx((1 / log2(3) + 1 / (1 + 1 / log2(3))) / 2)


def test_a_question_with_nothing_returned_scores_zero() -> None:
    m = ranking_metrics({"q1": []}, {"q1": ["gold-0"]}, ["hit_rate@3", "mrr@10"])
    assert m == {"hit_rate@3": 0.0, "mrr@10": 0.0}


def test_abstention_precision_and_recall() -> None:
    # positives are unanswerable questions: 2 of them; abstained on one of them and one answerable
    scores = abstention_scores(
        abstained=[True, True, False, False], answerable=[False, True, False, True]
    )
    assert scores == {"abstain_precision": 0.5, "abstain_recall": 0.5, "answerable_abstained": 0.5}


def test_a_calibrated_model_shows_an_ece_that_shrinks_with_the_set() -> None:
    """The ECE a perfectly calibrated model shows is sampling noise: large on 50 questions,
    small on 5,000, so a measured ECE is read against it (eval/RESULTS.md)."""
    rng = np.random.default_rng(1)
    small, large = rng.random(50), rng.random(5000)
    small_mean, small_p95 = ece_of_a_calibrated_model(small, draws=300)
    large_mean, _ = ece_of_a_calibrated_model(large, draws=100)
    assert 0.06 < small_mean < small_p95 < 0.25
    assert large_mean < 0.03
    # the measured ECE's interval holds the ECE itself
    labels = rng.random(50) < small
    low, high = ece_interval(small, labels, draws=300)
    assert low <= expected_calibration_error(small, labels) <= high
    # and a model that is off by a lot is outside what calibration noise explains
    off = np.clip(small + 0.4, 0, 1)
    assert ece_interval(off, labels, draws=300)[0] > small_p95

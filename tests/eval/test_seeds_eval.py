"""The quality gate CI runs: the seeds eval set with the real model."""

import pytest

from eval import SEEDS_EVAL
from eval.dataset import load_dataset
from eval.run import evaluate_seeds
from qa.engine import QAEngine

pytestmark = pytest.mark.slow

MIN_HYBRID_HIT_AT_3 = 0.9
MIN_HYBRID_HIT_AT_1 = 0.85


def test_hybrid_hit_at_1_and_abstention_hold(real_engine: QAEngine) -> None:
    (report,) = evaluate_seeds(
        real_engine, load_dataset(SEEDS_EVAL), ["hybrid"], [1, 3, 5, 10], progress=False
    )
    m = report.metrics
    assert m["hit@1"] >= MIN_HYBRID_HIT_AT_1, f"hybrid hit@1 fell to {m['hit@1']:.3f}"
    assert m["hit@3"] >= MIN_HYBRID_HIT_AT_3, f"hybrid hit@3 fell to {m['hit@3']:.3f}"
    assert m["verbatim_share"] == 1.0
    # measured 0.93 hit@1, abstention 1.00 / 0.42 at the ranker's default threshold with no
    # answerable question refused (eval/RESULTS.md); these bounds catch a regression
    assert m["abstain_precision"] >= 0.9 and m["abstain_recall"] >= 0.3, m
    assert m["answerable_abstained"] <= 0.02, m

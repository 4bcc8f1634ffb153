import pytest

from qa.search.fusion import reciprocal_rank_fusion


def test_rrf_matches_hand_computation() -> None:
    # k=60: a = 1/61 + 1/62, b = 1/62 + 1/61 (same), c = 1/63, d = 1/63 (rank 3 of list 2)
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 63)


def test_rrf_orders_best_first_and_weights_lists() -> None:
    fused = reciprocal_rank_fusion([["x", "y"], ["y", "z"]], k=0, weights=[1.0, 3.0])
    # x = 1/1, y = 1/2 + 3/1 = 3.5, z = 3/2 = 1.5
    assert fused == [("y", 3.5), ("z", 1.5), ("x", 1.0)]


def test_rrf_rejects_mismatched_weights() -> None:
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])

"""The ranker's arithmetic and its calibration, on data whose true probabilities are known."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eval.answers import expected_calibration_error
from eval.calibration import fit_calibration
from qa.answer.features import PASSAGE_FEATURES, SENTENCE_FEATURES
from qa.answer.rank import DEFAULT_RANKER, Linear, Ranker


def test_linear_scores_standardised_features() -> None:
    m = Linear(("a", "b"), np.array([1.0, 0.0]), np.array([2.0, 1.0]), np.array([1.0, -1.0]), 0.5)
    assert m.score(np.array([[3.0, 1.0]])) == pytest.approx([(3 - 1) / 2 - 1 + 0.5])
    with pytest.raises(ValueError, match="expected 2 features"):
        m.score(np.zeros((1, 3)))


def test_saved_ranker_loads_back(tmp_path: Path) -> None:
    ranker = Ranker.untrained()
    ranker.save(tmp_path / "r.json")
    loaded = Ranker.load(tmp_path / "r.json")
    x = np.random.default_rng(0).normal(size=(4, len(PASSAGE_FEATURES))).astype(np.float32)
    assert np.allclose(loaded.passage_scores(x), ranker.passage_scores(x), atol=1e-5)
    assert loaded.min_confidence == ranker.min_confidence


def test_a_ranker_for_other_features_is_refused(tmp_path: Path) -> None:
    ranker = Ranker.untrained()
    other = replace(ranker, sentence=replace(ranker.sentence, features=("cosine",)))
    other.save(tmp_path / "r.json")
    with pytest.raises(ValueError, match="retrain"):
        Ranker.load(tmp_path / "r.json")


def test_the_shipped_ranker_matches_this_version() -> None:
    ranker = Ranker.load(DEFAULT_RANKER)
    assert ranker.sentence.features == SENTENCE_FEATURES
    assert ranker.passage.features == PASSAGE_FEATURES
    assert 0.0 <= ranker.min_confidence <= 1.0
    assert np.all(np.diff(ranker.calibration_x) >= 0)
    assert np.all(np.diff(ranker.calibration_y) >= 0)  # more score never means less confidence


def test_isotonic_calibration_recovers_known_probabilities() -> None:
    """Scores whose true probability of being right is sigmoid(score / 2): after calibrating
    on one half, the other half's confidence matches its accuracy (ECE small), and where the
    uncalibrated sigmoid(score) would be off by far."""
    rng = np.random.default_rng(7)
    scores = rng.uniform(-6, 6, size=20_000)
    truth = 1 / (1 + np.exp(-scores / 2))
    labels = rng.random(20_000) < truth
    x, y = fit_calibration(scores[:10_000], labels[:10_000].astype(int))
    ranker = replace(Ranker.untrained(), calibration_x=x, calibration_y=y)
    held_scores, held_labels = scores[10_000:], labels[10_000:]
    confidence = ranker.confidence(held_scores)
    assert expected_calibration_error(confidence, held_labels) < 0.03  # the target is 0.05
    assert np.abs(confidence - truth[10_000:]).mean() < 0.03
    naive = 1 / (1 + np.exp(-held_scores))
    assert expected_calibration_error(naive, held_labels) > 0.05


def test_ece_of_a_perfect_and_a_wrong_forecaster() -> None:
    assert expected_calibration_error([1.0, 1.0, 0.0], [True, True, False]) == 0.0
    assert expected_calibration_error([0.9, 0.9], [False, False]) == pytest.approx(0.9)


def test_confidence_never_claims_certainty() -> None:
    ranker = replace(
        Ranker.untrained(), calibration_x=np.array([-1.0, 1.0]), calibration_y=np.array([0.0, 1.0])
    )
    assert list(ranker.confidence(np.array([-50.0, 0.0, 50.0]))) == pytest.approx(
        [0.001, 0.5, 0.999]
    )


def test_a_saved_threshold_never_rises_above_the_one_chosen(tmp_path: Path) -> None:
    """A confidence equal to the chosen threshold is answered: rounding it up on save once
    refused a whole isotonic plateau that the training rule answers."""
    base = Ranker.untrained()
    chosen = 0.058186738836265225
    path = tmp_path / "r.json"
    replace(base, min_confidence=chosen).save(path)
    loaded = Ranker.load(path)
    assert loaded.min_confidence <= chosen
    assert chosen - loaded.min_confidence < 1e-6

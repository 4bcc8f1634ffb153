"""The learned answer ranker: which sentence answers, which passage answers, and how surely.

Two logistic regressions over the features of ``qa/answer/features.py`` and an isotonic map from
the passage model's score to a calibrated probability. Their weights live in ``ranker.json``
beside this file, written by ``python -m eval.train_ranker`` (the recipe, with the data it was
trained on); scoring is a dot product, a few microseconds a passage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.features import PASSAGE_FEATURES, SENTENCE_FEATURES

__all__ = ["DEFAULT_RANKER", "Linear", "Ranker"]

DEFAULT_RANKER = Path(__file__).with_name("ranker.json")
CONFIDENCE_RANGE = (0.001, 0.999)
CONFIDENCE_DIGITS = 4
"""the places a confidence is computed and reported to"""


@dataclass(frozen=True)
class Linear:
    """A standardised linear score: ``((x - mean) / scale) @ coef + intercept``."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {x.shape[-1]}")
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    @classmethod
    def of(cls, d: dict[str, Any], expected: Sequence[str]) -> Linear:
        if tuple(d["features"]) != tuple(expected):
            raise ValueError(
                f"ranker features {d['features']} do not match this version's {list(expected)}: "
                "retrain with `python -m eval.train_ranker`"
            )
        return cls(
            tuple(d["features"]),
            np.asarray(d["mean"], dtype=np.float32),
            np.asarray(d["scale"], dtype=np.float32),
            np.asarray(d["coef"], dtype=np.float32),
            float(d["intercept"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
        }


@dataclass(frozen=True)
class Ranker:
    sentence: Linear
    passage: Linear
    calibration_x: np.ndarray
    """passage scores, increasing; ``calibration_y`` the probability at each"""
    calibration_y: np.ndarray
    min_confidence: float
    """default abstention threshold on the best answer's confidence"""
    info: dict[str, Any]

    def sentence_scores(self, x: np.ndarray) -> np.ndarray:
        return self.sentence.score(x) if len(x) else np.zeros(0, dtype=np.float32)

    def passage_scores(self, x: np.ndarray) -> np.ndarray:
        return self.passage.score(x) if len(x) else np.zeros(0, dtype=np.float32)

    def confidence(self, scores: np.ndarray) -> np.ndarray:
        """The calibrated probability that a passage with this score answers the question, kept
        within [0.001, 0.999]: isotonic regression's end bins can be all right or all wrong, but
        no finite training sample makes an answer certain. Rounded to the ``CONFIDENCE_DIGITS``
        places it is reported to, so that abstention compares the value a user sees: a
        ``min_confidence`` copied from an answer's confidence answers it."""
        calibrated = np.interp(scores, self.calibration_x, self.calibration_y)
        return np.round(np.clip(calibrated, *CONFIDENCE_RANGE), CONFIDENCE_DIGITS)

    @classmethod
    def load(cls, path: Path = DEFAULT_RANKER) -> Ranker:
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            Linear.of(d["sentence"], SENTENCE_FEATURES),
            Linear.of(d["passage"], PASSAGE_FEATURES),
            np.asarray(d["calibration"]["x"], dtype=np.float64),
            np.asarray(d["calibration"]["y"], dtype=np.float64),
            float(d["min_confidence"]),
            d.get("info", {}),
        )

    def save(self, path: Path) -> None:
        d = {
            "sentence": self.sentence.to_dict(),
            "passage": self.passage.to_dict(),
            "calibration": {
                "x": [round(float(v), 6) for v in self.calibration_x],
                "y": [round(float(v), 6) for v in self.calibration_y],
            },
            # rounded down: a confidence equal to the threshold is answered, and the stored
            # calibration values are rounded to 6 places too (0.0582 here once refused a whole
            # plateau of confidence 0.058187 that the rule answers)
            "min_confidence": math.floor(self.min_confidence * 1e6) / 1e6,
            "info": self.info,
        }
        path.write_text(json.dumps(d, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def untrained(cls) -> Ranker:
        """Cosine-only weights: what a store is ranked by before any training (and in tests)."""

        def only(features: Sequence[str], name: str, weight: float) -> Linear:
            coef = np.array([weight if f == name else 0.0 for f in features], dtype=np.float32)
            n = len(features)
            return Linear(
                tuple(features),
                np.zeros(n, np.float32),
                np.ones(n, np.float32),
                coef,
                0.0,
            )

        return cls(
            only(SENTENCE_FEATURES, "cosine", 10.0),
            only(PASSAGE_FEATURES, "best_sentence", 10.0),
            np.array([0.0, 10.0]),
            np.array([0.0, 1.0]),
            0.25,
            {"untrained": True},
        )

"""From ranker scores to probabilities: isotonic regression, and how to check it."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

__all__ = ["fit_calibration"]


def fit_calibration(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The increasing step map (x, y) from score to probability that isotonic regression fits;
    ``np.interp(score, x, y)`` applies it (``Ranker.confidence``). Fit it on out-of-fold scores,
    never on the scores of the model that was trained on the same rows."""
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(scores, labels, sample_weight=weights)
    return np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(
        iso.y_thresholds_, dtype=np.float64
    )

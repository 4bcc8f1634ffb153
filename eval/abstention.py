"""How well can abstention be tuned to questions it has not seen? Leave-one-out says.

    python -m eval.abstention                       # seeds eval set + held-out set, hybrid mode

The abstention policy decides on three signals per question (``qa.answer.select.Evidence``). Its
thresholds were chosen by looking at the eval questions, so their score on those questions flatters
them. Here each question is predicted by a policy fitted on all the *other* questions, two ways:

- ``grid``: the rule of ``qa.answer.select.should_abstain`` with the thresholds (of a grid) that
  score the best F1 on the others; ties vote.
- ``logistic``: a logistic regression on the three signals (standardised).

If a learned or tuned policy does no better than the fixed one on left-out questions, tuning the
thresholds to reach a target on the eval set would only be fitting its noise.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eval.metrics import abstention_scores
from qa.answer.select import AbstainPolicy, Evidence, should_abstain

__all__ = ["DEFAULT_GRID", "features", "leave_one_out_grid", "leave_one_out_logistic"]

DATASETS = (Path("eval/seeds_eval.jsonl"), Path("eval/seeds_heldout.jsonl"))


def _grid() -> list[AbstainPolicy]:
    return [
        AbstainPolicy(float(d), float(s), float(c), float(b))
        for d, s, c, b in itertools.product(
            np.arange(0.20, 0.451, 0.05),  # min_dense
            np.arange(0.50, 0.751, 0.02),  # strong_dense
            np.arange(0.50, 1.001, 0.05),  # min_coverage
            np.arange(1.0, 3.51, 0.25),  # min_bm25
        )
    ]


DEFAULT_GRID = _grid()


def features(evidence: Sequence[Evidence]) -> np.ndarray:
    return np.array([[e.dense, e.coverage, e.bm25] for e in evidence], dtype=np.float64)


def leave_one_out_grid(
    evidence: Sequence[Evidence], answerable: Sequence[bool], grid: Iterable[AbstainPolicy]
) -> list[bool]:
    """Abstain or not on each question, by the grid policies best on the other questions."""
    unanswerable = ~np.asarray(answerable, dtype=bool)
    decisions = np.array([[should_abstain(e, p) for e in evidence] for p in grid])
    out = []
    for i in range(len(evidence)):
        rest = np.arange(len(evidence)) != i
        d, u = decisions[:, rest], unanswerable[rest]
        tp = (d & u).sum(axis=1)
        errors = (d & ~u).sum(axis=1) + (~d & u).sum(axis=1)
        f1 = 2 * tp / np.maximum(2 * tp + errors, 1)
        best = np.flatnonzero(f1 == f1.max())
        out.append(bool(decisions[best, i].mean() >= 0.5))
    return out


def leave_one_out_logistic(
    evidence: Sequence[Evidence], answerable: Sequence[bool], threshold: float = 0.5
) -> list[bool]:
    """Abstain when a logistic regression fitted on the other questions says unanswerable."""
    x = features(evidence)
    y = ~np.asarray(answerable, dtype=bool)
    out = []
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[rest], y[rest])
        out.append(bool(model.predict_proba(x[i : i + 1])[0, 1] >= threshold))
    return out


def main() -> None:
    from eval.dataset import load_dataset
    from eval.run import evaluate_seeds
    from qa.config import Settings
    from qa.engine import QAEngine
    from qa.store.sync import sync_folder

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, action="append", help="default: both seed sets")
    args = parser.parse_args()
    settings = Settings()
    engine = QAEngine.open(settings, rebuild=True)
    sync_folder(engine, settings.corpus)
    questions = [q for path in args.dataset or DATASETS for q in load_dataset(path)]
    (report,) = evaluate_seeds(engine, questions, ["hybrid"], [3])
    evidence = [e for e, _ in report.evidence]
    answerable = [ok for _, ok in report.evidence]
    policy = settings.abstain_policy()
    rows = {
        "fixed policy (chosen on these questions)": [should_abstain(e, policy) for e in evidence],
        "grid-tuned, leave-one-out": leave_one_out_grid(evidence, answerable, DEFAULT_GRID),
        "logistic regression, leave-one-out": leave_one_out_logistic(evidence, answerable),
    }
    n_un = sum(not ok for ok in answerable)
    print(f"{len(questions)} questions, {n_un} unanswerable; {policy}")
    print(f"{'':42s} precision  recall")
    for name, abstained in rows.items():
        s = abstention_scores(abstained, answerable)
        print(f"{name:42s} {s['abstain_precision']:9.2f} {s['abstain_recall']:7.2f}")


if __name__ == "__main__":
    main()

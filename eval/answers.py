"""Answer-level evaluation: is the first answer right, is its highlight right, is the confidence
honest, and does abstention refuse what the articles do not answer.

A passage *answers* a question when it overlaps a gold span of the same article and, where the
gold span is a short answer (SQuAD), contains it. A highlight is right when it holds the answer
text (the gold span for SQuAD, the ``answer`` string of the eval sets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from eval.dataset import EvalQuestion
from eval.metrics import percentile
from qa.engine import QAEngine
from qa.records import Answer, Span

__all__ = [
    "AnswerReport",
    "ece_interval",
    "ece_of_a_calibrated_model",
    "evaluate_answers",
    "expected_calibration_error",
    "highlight_correct",
    "passage_correct",
    "reliability",
    "verbatim_count",
]


def _short(q: EvalQuestion) -> bool:
    return q.kind == "squad"


def passage_correct(q: EvalQuestion, doc_id: str, span: Span) -> bool:
    for g in q.gold:
        if g.doc_id != doc_id:
            continue
        if span.contains(g.span) if _short(q) else span.overlaps(g.span):
            return True
    return False


def highlight_correct(q: EvalQuestion, doc_id: str, span: Span, text: str) -> bool:
    if not passage_correct(q, doc_id, span):
        return False
    if _short(q):
        return True  # the span contains the answer
    if q.answer and any(q.answer in g.text for g in q.gold):
        return q.answer.lower() in text.lower()
    return True


def expected_calibration_error(
    confidence: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, bins: int = 10
) -> float:
    """Mean |accuracy - confidence| over equal-width bins, weighted by their size."""
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    if len(c) == 0:
        return 0.0
    which = np.minimum((c * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - c[mask].mean())
    return float(total / len(c))


def ece_of_a_calibrated_model(
    confidence: Sequence[float], draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """(mean, 95th percentile) of the ECE that a perfectly calibrated model with these very
    confidences would show on a set this size: each question right with probability equal to
    its confidence. On a few dozen questions it is far from 0, and no ECE measured there can be
    told apart from it."""
    c = np.asarray(confidence, dtype=float)
    rng = np.random.default_rng(seed)
    values = [expected_calibration_error(c, rng.random(len(c)) < c) for _ in range(draws)]
    return float(np.mean(values)), float(np.percentile(values, 95))


def ece_interval(
    confidence: Sequence[float],
    correct: Sequence[bool],
    level: float = 0.9,
    draws: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """A bootstrap interval (questions drawn with replacement) of the measured ECE."""
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=bool)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        pick = rng.integers(0, len(c), len(c))
        values.append(expected_calibration_error(c[pick], y[pick]))
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def reliability(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per non-empty bin: the reliability diagram's points."""
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    which = np.minimum((c * bins).astype(int), bins - 1)
    return [
        (float(c[which == b].mean()), float(y[which == b].mean()), int((which == b).sum()))
        for b in range(bins)
        if (which == b).any()
    ]


@dataclass
class AnswerReport:
    name: str
    metrics: dict[str, float]
    top_confidence: list[float]
    """confidence of each question's first answer (0 when there is none)"""
    top_correct: list[bool]
    answerable: list[bool]

    def sweep(self, thresholds: Sequence[float]) -> list[dict[str, float]]:
        """Abstention at each threshold: recall and precision on unanswerable questions, and the
        share of answerable questions abstained."""
        rows = []
        c = np.asarray(self.top_confidence)
        ok = np.asarray(self.answerable)
        for t in thresholds:
            abstain = c < t
            tp = int((abstain & ~ok).sum())
            rows.append(
                {
                    "threshold": float(t),
                    "recall": tp / max(int((~ok).sum()), 1),
                    "precision": tp / int(abstain.sum()) if abstain.any() else 1.0,
                    "answerable_abstained": int((abstain & ok).sum()) / max(int(ok.sum()), 1),
                }
            )
        return rows


def verbatim_count(engine: QAEngine, answers: Sequence[Answer]) -> int:
    """How many answers are verbatim: the passage and its highlight are the stored article's
    text at their offsets, and the highlight lies inside the passage."""
    good = 0
    for a in answers:
        text = engine.document(a.article.doc_id).text
        p = a.hit.passage
        good += (
            p.span.of(text) == p.text
            and p.span.contains(a.highlight)
            and a.highlight.of(text) == a.highlight_text
        )
    return good


def evaluate_answers(
    engine: QAEngine,
    questions: Sequence[EvalQuestion],
    name: str,
    *,
    top_k: int = 5,
    min_confidence: float | None = None,
    progress: bool = True,
) -> AnswerReport:
    """Ask every question once (abstention off, then applied at ``min_confidence``) and score the
    first answer, its highlight, the confidence and abstention."""
    threshold = engine.ranker.min_confidence if min_confidence is None else min_confidence
    hit1 = hit3 = high1 = abstained_ok = abstained_none = 0
    verbatim = returned = 0
    conf, correct, answerable, latencies = [], [], [], []
    for q in tqdm(questions, desc=f"eval {name}", disable=not progress, unit="q"):
        result = engine.ask(q.question, top_k=top_k, abstain=False)
        latencies.append(result.took_ms)
        answers = result.answers
        verbatim += verbatim_count(engine, answers)
        returned += len(answers)
        first = answers[0] if answers else None
        right = first is not None and passage_correct(
            q, first.article.doc_id, first.hit.passage.span
        )
        conf.append(result.confidence)
        correct.append(right)
        answerable.append(q.answerable)
        abstain = result.confidence < threshold
        if q.answerable:
            hit1 += right
            hit3 += any(
                passage_correct(q, a.article.doc_id, a.hit.passage.span) for a in answers[:3]
            )
            high1 += first is not None and highlight_correct(
                q, first.article.doc_id, first.highlight, first.highlight_text
            )
            abstained_ok += abstain
        else:
            abstained_none += abstain
    n_ok = sum(answerable)
    n_none = len(questions) - n_ok
    n_abstained = abstained_ok + abstained_none
    metrics = {
        "questions": float(len(questions)),
        "answerable": float(n_ok),
        "hit@1": hit1 / n_ok if n_ok else 0.0,
        "hit@3": hit3 / n_ok if n_ok else 0.0,
        "highlight@1": high1 / n_ok if n_ok else 0.0,
        "min_confidence": threshold,
        "answerable_abstained": abstained_ok / n_ok if n_ok else 0.0,
        "abstention_recall": abstained_none / n_none if n_none else float("nan"),
        "abstention_precision": abstained_none / n_abstained if n_abstained else float("nan"),
        "ece": expected_calibration_error(conf, correct),
        "verbatim_share": verbatim / returned if returned else 1.0,
        "latency_p50_ms": percentile(latencies, 50),
    }
    return AnswerReport(name, metrics, conf, correct, answerable)

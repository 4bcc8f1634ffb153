"""`qa eval` on the seeds eval set: retrieval, abstention, citation and latency per mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from eval.answers import verbatim_count
from eval.dataset import EvalQuestion
from eval.metrics import abstention_scores, label_ranking, percentile, ranking_metrics
from qa.config import Mode
from qa.engine import QAEngine

__all__ = ["ModeReport", "evaluate_seeds"]


@dataclass
class ModeReport:
    mode: str
    n_questions: int
    n_answerable: int
    metrics: dict[str, float]
    confidence: list[tuple[float, bool]] = field(repr=False)
    """(first answer's confidence, answerable) per question, to study other thresholds"""


def evaluate_seeds(
    engine: QAEngine,
    questions: Sequence[EvalQuestion],
    modes: Sequence[Mode],
    ks: Sequence[int],
    *,
    progress: bool = True,
) -> list[ModeReport]:
    threshold = engine.min_confidence
    depth = max(*ks, 10)
    reports = []
    for mode in modes:
        # Each mode starts cold: no question is embedded in advance, no sentence vector cached.
        engine.clear_caches()
        rankings: dict[str, list[str]] = {}
        relevant: dict[str, list[str]] = {}
        abstained, answerable, latencies, confidence = [], [], [], []
        answered_hits = 0
        verbatim = total = 0
        for q in tqdm(questions, desc=f"eval {mode}", disable=not progress, unit="q"):
            started = time.perf_counter()
            result = engine.ask(q.question, top_k=depth, mode=mode, abstain=False)
            latencies.append((time.perf_counter() - started) * 1000)
            good, n = verbatim_count(engine, result.answers), len(result.answers)
            verbatim, total = verbatim + good, total + n
            would_abstain = result.confidence < threshold
            abstained.append(would_abstain)
            answerable.append(q.answerable)
            confidence.append((result.confidence, q.answerable))
            if q.answerable:
                gold = [(g.doc_id, g.span) for g in q.gold]
                returned = [(a.article.doc_id, a.hit.passage.span) for a in result.answers]
                rankings[q.id] = label_ranking(returned, gold)
                relevant[q.id] = [f"gold-{j}" for j in range(len(gold))]
                answered_hits += not would_abstain and any(
                    label.startswith("gold-") for label in rankings[q.id][:3]
                )
        names = [f"hit_rate@{k}" for k in ks] + [f"recall@{k}" for k in ks] + ["mrr@10", "ndcg@10"]
        scores = ranking_metrics(rankings, relevant, names)
        metrics = {name.replace("hit_rate", "hit"): value for name, value in scores.items()}
        n_answerable = sum(answerable)
        metrics["answered_hit@3"] = answered_hits / n_answerable if n_answerable else 0.0
        metrics.update(abstention_scores(abstained, answerable))
        metrics["verbatim_share"] = verbatim / total if total else 1.0
        metrics["latency_p50_ms"] = percentile(latencies, 50)
        metrics["latency_p95_ms"] = percentile(latencies, 95)
        reports.append(ModeReport(mode, len(questions), n_answerable, metrics, confidence))
    return reports

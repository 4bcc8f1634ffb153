"""Glue between ranked spans and ranx: which returned passage found which gold span."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ranx import Qrels, Run, evaluate

from qa.records import Span

__all__ = ["abstention_scores", "label_ranking", "percentile", "ranking_metrics"]


def label_ranking(
    returned: Sequence[tuple[str, Span]], gold: Sequence[tuple[str, Span]]
) -> list[str]:
    """Name each returned passage by the first not-yet-found gold span it overlaps.

    Gold spans are the relevant items: a passage covering one counts once, so recall@k is the
    share of gold spans found in the top k and hit@k whether any was.
    """
    found: set[int] = set()
    labels = []
    for rank, (doc_id, span) in enumerate(returned):
        label = f"miss-{rank}"
        for j, (gold_doc, gold_span) in enumerate(gold):
            if j not in found and gold_doc == doc_id and gold_span.overlaps(span):
                found.add(j)
                label = f"gold-{j}"
                break
        labels.append(label)
    return labels


def ranking_metrics(
    rankings: dict[str, list[str]], relevant: dict[str, list[str]], metrics: Sequence[str]
) -> dict[str, float]:
    """Mean of each ranx metric over queries; ``rankings`` best first, ``relevant`` the qrels."""
    judged = {q: docs for q, docs in relevant.items() if docs}
    qrels = Qrels({q: {doc: 1 for doc in docs} for q, docs in judged.items()})
    run_dict = {}
    for q in judged:
        ranked = rankings.get(q) or []
        # ranx needs an entry per query: a never-relevant sentinel stands for "nothing returned"
        run_dict[q] = {doc: float(len(ranked) - i) for i, doc in enumerate(ranked)} or {
            "<none>": 0.0
        }
    scores = evaluate(qrels, Run(run_dict), list(metrics), make_comparable=True)
    if isinstance(scores, float):
        scores = {metrics[0]: scores}
    return {name: float(value) for name, value in scores.items()}


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    """Precision and recall of abstaining, where the positives are the unanswerable questions."""
    tp = sum(a and not ok for a, ok in zip(abstained, answerable, strict=True))
    fp = sum(a and ok for a, ok in zip(abstained, answerable, strict=True))
    fn = sum(not a and not ok for a, ok in zip(abstained, answerable, strict=True))
    n_answerable = sum(answerable)
    return {
        "abstain_precision": tp / (tp + fp) if tp + fp else 1.0,
        "abstain_recall": tp / (tp + fn) if tp + fn else 1.0,
        "answerable_abstained": fp / n_answerable if n_answerable else 0.0,
    }


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0

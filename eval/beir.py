"""Any BEIR-format dataset (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) through our index."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from eval.metrics import percentile, ranking_metrics
from qa.config import Mode
from qa.engine import QAEngine
from qa.errors import InvalidInputError
from qa.records import Article, Hit
from qa.search.retrieve import Retriever

__all__ = [
    "BEIR_METRICS",
    "RECALL_CUTOFFS",
    "BeirData",
    "doc_ranking",
    "load_beir",
    "run_beir",
    "score_retriever",
]

BEIR_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
RECALL_CUTOFFS = (1, 3, 5, 10, 20, 50, 100)


@dataclass(frozen=True)
class BeirData:
    name: str
    articles: list[Article]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist: not a BEIR dataset folder")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_beir(folder: Path, split: str = "test") -> BeirData:
    """Documents are indexed as ``title + " " + text``, as in the published BEIR baselines."""
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InvalidInputError(f"no qrels for split {split!r}: {qrels_path} does not exist")
    articles = []
    for r in _jsonl(folder / "corpus.jsonl"):
        title, text = str(r.get("title") or ""), str(r.get("text") or "")
        body = f"{title} {text}" if title else text
        articles.append(Article(str(r["_id"]), title, body, origin=f"{folder.name}/corpus.jsonl"))
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter="\t")
        next(rows, None)  # header
        for qid, doc_id, score in rows:
            if int(score) > 0:
                qrels.setdefault(qid, {})[doc_id] = int(score)
    queries = {str(r["_id"]): str(r["text"]) for r in _jsonl(folder / "queries.jsonl")}
    queries = {qid: text for qid, text in queries.items() if qid in qrels}
    return BeirData(folder.name, articles, queries, qrels)


def doc_ranking(hits: Sequence[Hit], k: int) -> list[str]:
    """Passages to documents: a document ranks where its best passage ranks (MaxP)."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.passage.doc_id, None)
        if len(seen) == k:
            break
    return list(seen)


def run_beir(
    engine: QAEngine,
    data: BeirData,
    modes: Sequence[Mode],
    *,
    depth: int = 100,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    return {
        mode: score_retriever(
            engine.retriever(mode),
            engine,
            data,
            f"{data.name} {mode}",
            depth=depth,
            progress=progress,
        )
        for mode in modes
    }


def score_retriever(
    retriever: Retriever,
    engine: QAEngine,
    data: BeirData,
    label: str,
    *,
    depth: int = 100,
    progress: bool = True,
) -> dict[str, float]:
    """nDCG@10, recall@10/100 and MRR@10 of one retriever over the dataset's queries."""
    n_documents, n_passages = engine.counts()
    per_doc = max(1.0, n_passages / max(n_documents, 1))
    passage_depth = int(depth * per_doc * 2)  # enough passages to fill `depth` distinct documents
    engine.clear_caches()  # each run embeds its queries afresh: latencies are not cache hits
    rankings: dict[str, list[str]] = {}
    latencies = []
    for qid, text in tqdm(data.queries.items(), desc=label, disable=not progress):
        started = time.perf_counter()
        query = engine.query(text)
        hits = engine.hits(retriever.rank(query, passage_depth))
        latencies.append((time.perf_counter() - started) * 1000)
        rankings[qid] = doc_ranking(hits, depth)
    relevant = {q: list(docs) for q, docs in data.qrels.items() if q in data.queries}
    extra = [f"recall@{k}" for k in RECALL_CUTOFFS if f"recall@{k}" not in BEIR_METRICS]
    scores = ranking_metrics(rankings, relevant, [*BEIR_METRICS, *extra])
    scores["latency_p50_ms"] = percentile(latencies, 50)
    return scores

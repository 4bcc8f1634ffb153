"""Any BEIR-format dataset (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) through our index."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from eval.jsonl import json_lines
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


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, record) per non-blank line; a line that is not a JSON object is an error
    naming it."""
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist: not a BEIR dataset folder")
    try:
        for lineno, record in json_lines(path):
            if not isinstance(record, dict):
                raise InvalidInputError(f"{path}:{lineno}: not a JSON object")
            yield lineno, record
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 ({exc.reason})") from None


def _field(
    path: Path, lineno: int, record: dict[str, object], key: str, *, required: bool = False
) -> str:
    """``record[key]`` as text: ids and query texts must be there, titles and document texts
    may be missing or null."""
    value = record.get(key)
    if isinstance(value, str) and (value or not required):
        return value
    if key == "_id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # the id the qrels name by its digits
    if value is None and not required:
        return ""
    if key not in record:
        raise InvalidInputError(f"{path}:{lineno}: no {key!r} in the record")
    wanted = "a non-empty string" if required else "a string"
    raise InvalidInputError(
        f"{path}:{lineno}: {key!r} must be {wanted}, not {json.dumps(value)[:40]}"
    )


def _articles(folder: Path) -> list[Article]:
    path = folder / "corpus.jsonl"
    articles = []
    first_line: dict[str, int] = {}
    for lineno, r in _jsonl(path):
        doc_id = _field(path, lineno, r, "_id", required=True)
        if doc_id in first_line:
            raise InvalidInputError(
                f"{path}:{lineno}: _id {doc_id!r} is already on line {first_line[doc_id]}"
            )
        first_line[doc_id] = lineno
        title, text = _field(path, lineno, r, "title"), _field(path, lineno, r, "text")
        body = f"{title} {text}" if title else text
        articles.append(Article(doc_id, title, body, origin=f"{folder.name}/corpus.jsonl"))
    if not articles:  # every query would score 0: nothing to measure
        raise InvalidInputError(f"{path} holds no document")
    return articles


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> {document id: grade} for the grades above 0; the first row is the header."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter="\t")
        try:
            next(rows, None)  # header
            for row in rows:
                where = f"{path}:{rows.line_num}"
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != 3:
                    raise InvalidInputError(
                        f"{where}: {len(row)} tab-separated columns, not 3 "
                        "(query-id, corpus-id, score)"
                    )
                qid, doc_id, score = row
                try:
                    grade = int(score)
                except ValueError:
                    raise InvalidInputError(f"{where}: score {score!r} is not an integer") from None
                if grade > 0:
                    qrels.setdefault(qid, {})[doc_id] = grade
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path} is not UTF-8 ({exc.reason})") from None
        except csv.Error as exc:
            raise InvalidInputError(f"{path}:{rows.line_num}: {exc}") from None
    return qrels


def load_beir(folder: Path, split: str = "test") -> BeirData:
    """Documents are indexed as ``title + " " + text``, as in the published BEIR baselines.

    A malformed file is an InvalidInputError naming it (and the line), raised before any
    document is indexed.
    """
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InvalidInputError(f"no qrels for split {split!r}: {qrels_path} does not exist")
    articles = _articles(folder)
    qrels = _qrels(qrels_path)
    if not qrels:
        raise InvalidInputError(f"{qrels_path} judges no document relevant (score above 0)")
    queries_path = folder / "queries.jsonl"
    queries = {}
    for lineno, r in _jsonl(queries_path):
        qid = _field(queries_path, lineno, r, "_id", required=True)
        text = _field(queries_path, lineno, r, "text", required=True)
        if qid in qrels:
            queries[qid] = text
    if not queries:
        first = next(iter(qrels))
        raise InvalidInputError(
            f"no query of {queries_path} is judged in {qrels_path} (its first query-id is "
            f"{first!r}): are they files of the same dataset?"
        )
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

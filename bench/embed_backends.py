"""Embedding backends side by side: sentence throughput on BBC articles, SciFact nDCG@10, load time.

    .venv/bin/python bench/embed_backends.py                 # every backend, ~30 min on 2 cores
    .venv/bin/python bench/embed_backends.py --backends onnx-int8 --skip-quality

Throughput: the sentences of the first ``--articles`` BBC business articles (kept blocks, then
sentences, as the index build splits them), embedded whole ``--repeats`` times; the median run
counts. chars/s is characters embedded per second, tokenization included. torch is also run on
today's 3-sentence passages (overlap 1) at today's batch size 64: "article chars/s" divides the
characters of the sentences (each article character once) by the time, the rate at which a build
gets through the articles whatever the unit embedded.

Quality: SciFact test, dense only and without the project's index code: one vector per document
(``title text``), exact inner-product search (faiss.IndexFlatIP) to depth 100, nDCG@10 with ranx
as eval/beir.py scores it. "mean of sentences" replaces each document vector with the normalised
mean of its sentence vectors: whether passage vectors could be derived from stored sentence vectors.

Load time is measured in a fresh interpreter with the ONNX exports already cached.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.embed import BACKENDS, Backend, SentenceTransformerEmbedder, default_onnx_cache
from qa.ingest.clean import kept_blocks
from qa.ingest.sentences import split_sentences
from qa.records import Span

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
# today's index build: 3-sentence passages overlapping by 1, embedded 64 at a time
PASSAGE_SENTENCES, PASSAGE_OVERLAP, TODAY_BATCH = 3, 1, 64


@dataclass
class Row:
    backend: str
    sentence_chars_per_s: float | None = None
    runs_chars_per_s: list[float] = field(default_factory=list)
    others_cpu_share: float = 0.0
    cosine_to_torch_min: float | None = None
    cosine_to_torch_mean: float | None = None
    ndcg10_whole: float | None = None
    ndcg10_mean_of_sentences: float | None = None
    load_s: float | None = None
    export_s: float | None = None


def bbc_texts(folder: Path, n_articles: int) -> tuple[list[str], list[str]]:
    """Sentences and today's passages of the first ``n_articles`` files, in file order."""
    files = sorted(folder.glob("*.txt"))[:n_articles]
    if not files:
        raise SystemExit(f"no .txt articles in {folder}")
    sentences: list[str] = []
    passages: list[str] = []
    for file in files:
        with file.open(encoding="utf-8", newline="") as fh:
            text = fh.read()
        for block in kept_blocks(text):
            spans = split_sentences(text, block)
            sentences.extend(span.of(text) for span in spans)
            # the windows of qa/ingest/passages.py window_starts, restated: that module is moving
            size, step = PASSAGE_SENTENCES, PASSAGE_SENTENCES - PASSAGE_OVERLAP
            starts = range(0, len(spans) - PASSAGE_OVERLAP, step) if len(spans) > size else [0]
            for start in starts if spans else []:
                window = spans[start : start + size]
                passages.append(text[window[0].start : window[-1].end])
    return sentences, passages


def _cpu_ticks() -> tuple[int, int, int]:
    """Busy and total ticks of the machine, and ticks of this process (Linux; zeros elsewhere)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0, 0
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values), int(own[11]) + int(own[12])  # utime + stime


def others_share(before: tuple[int, int, int], after: tuple[int, int, int]) -> float:
    """Share of the machine's CPU that other processes used in between: they skew the timing."""
    busy, total, own = (a - b for a, b in zip(after, before, strict=True))
    return max(0.0, (busy - own) / total) if total else 0.0


def chars_per_second(
    embedder: SentenceTransformerEmbedder, texts: Sequence[str], repeats: int, label: str
) -> tuple[list[float], float, np.ndarray]:
    """chars/s of each run, the largest CPU share other processes took, the last run's vectors."""
    chars = sum(map(len, texts))
    embedder.embed(list(texts[:64]))  # warm-up: first-call allocations are not throughput
    rates, others, vectors = [], 0.0, np.zeros((0, embedder.dimension), np.float32)
    for _ in tqdm(range(repeats), desc=f"{label} throughput", unit="run"):
        ticks = _cpu_ticks()
        started = time.perf_counter()
        vectors = embedder.embed(texts)
        rates.append(chars / (time.perf_counter() - started))
        others = max(others, others_share(ticks, _cpu_ticks()))
    if others > 0.05:
        tqdm.write(f"warning: other processes took {others:.0%} of the CPU during {label} runs")
    return rates, others, vectors


def scifact_ndcg(
    embedder: SentenceTransformerEmbedder, folder: Path, label: str
) -> tuple[float, float]:
    """nDCG@10 with whole-document vectors, and with mean-of-sentence vectors."""
    import faiss

    from eval.metrics import ranking_metrics

    doc_ids, texts, queries_text, qrels = load_scifact(folder)
    qids = list(queries_text)
    # one at a time, as the service embeds questions: int8 vectors depend on the batch they are in
    queries = np.vstack([embedder.embed([queries_text[q]]) for q in qids])
    relevant = {q: list(docs) for q, docs in qrels.items() if q in queries_text}

    def ndcg(doc_vectors: np.ndarray) -> float:
        index = faiss.IndexFlatIP(doc_vectors.shape[1])
        index.add(np.ascontiguousarray(doc_vectors, dtype=np.float32))
        _, rows = index.search(queries, 100)
        rankings = {
            q: [doc_ids[r] for r in row if r >= 0] for q, row in zip(qids, rows, strict=True)
        }
        return ranking_metrics(rankings, relevant, ["ndcg@10"])["ndcg@10"]

    tqdm.write(f"{label}: embedding {len(texts)} SciFact documents")
    whole = ndcg(embedder.embed(texts, progress=True))

    owners: list[int] = []
    sentences: list[str] = []
    for row, text in enumerate(texts):
        spans = split_sentences(text, Span(0, len(text))) or [Span(0, len(text))]
        sentences.extend(span.of(text) for span in spans)
        owners.extend([row] * len(spans))
    tqdm.write(f"{label}: embedding {len(sentences)} SciFact sentences")
    sentence_vectors = embedder.embed(sentences, progress=True)
    means = np.zeros((len(texts), sentence_vectors.shape[1]), np.float64)
    np.add.at(means, np.asarray(owners), sentence_vectors)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    return whole, ndcg(means.astype(np.float32))


def load_scifact(
    folder: Path,
) -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    """Document ids and texts, queries and qrels of the test split, via eval.beir.load_beir.

    eval.beir imports the engine, which is being rewritten; while that does not import, the
    files are read here the same way (``title + " " + text``, qrels with a positive score).
    """
    try:
        from eval.beir import load_beir
    except ImportError as exc:
        tqdm.write(f"eval.beir does not import ({exc}); reading {folder} the same way here")
    else:
        data = load_beir(folder, "test")
        texts = [a.text for a in data.articles]
        return [a.doc_id for a in data.articles], texts, data.queries, data.qrels
    doc_ids, texts = [], []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in filter(str.strip, fh):
            record = json.loads(line)
            title, text = str(record.get("title") or ""), str(record.get("text") or "")
            doc_ids.append(str(record["_id"]))
            texts.append(f"{title} {text}" if title else text)
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        for qid, doc_id, score in (line.rstrip("\n").split("\t") for line in list(fh)[1:]):
            if int(score) > 0:
                qrels.setdefault(qid, {})[doc_id] = int(score)
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = {str(r["_id"]): str(r["text"]) for r in map(json.loads, filter(str.strip, fh))}
    return doc_ids, texts, {q: t for q, t in queries.items() if q in qrels}, qrels


def load_seconds(backend: Backend, cache_dir: Path) -> float:
    """Import and construct in a fresh interpreter: what a service or CLI start-up pays."""
    out = subprocess.run(
        [sys.executable, __file__, "--load-time", backend, "--cache-dir", str(cache_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _measure_load(backend: Backend, cache_dir: Path) -> None:
    started = time.perf_counter()
    SentenceTransformerEmbedder(backend=backend, cache_dir=cache_dir)
    print(time.perf_counter() - started)


def measure_throughput(
    row: Row, embedder: SentenceTransformerEmbedder, sentences: list[str], repeats: int
) -> np.ndarray:
    row.runs_chars_per_s, row.others_cpu_share, vectors = chars_per_second(
        embedder, sentences, repeats, row.backend
    )
    row.sentence_chars_per_s = statistics.median(row.runs_chars_per_s)
    return vectors


def today_build_rate(sentences: list[str], passages: list[str], repeats: int) -> float:
    """Article chars/s of today's build: torch, 3-sentence passages, batch 64."""
    embedder = SentenceTransformerEmbedder(batch_size=TODAY_BATCH)
    runs, _, _ = chars_per_second(embedder, passages, repeats, "torch passages (today)")
    embedded = statistics.median(runs)
    rate = sum(map(len, sentences)) / (sum(map(len, passages)) / embedded)
    tqdm.write(
        f"torch, passages, batch {TODAY_BATCH} (today's build): "
        f"{embedded:,.0f} chars/s embedded, {rate:,.0f} article chars/s"
    )
    return rate


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--bbc", type=Path, default=BENCHMARKS / "bbc-news/bbc/business")
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--scifact", type=Path, default=BENCHMARKS / "scifact")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the embedder's")
    parser.add_argument("--cache-dir", type=Path, default=default_onnx_cache())
    parser.add_argument("--skip-quality", action="store_true", help="throughput and load only")
    parser.add_argument("--skip-throughput", action="store_true", help="SciFact and load only")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--load-time", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_time:
        _measure_load(args.load_time, args.cache_dir)
        return

    sentences, passages = bbc_texts(args.bbc, args.articles)
    article_chars = sum(map(len, sentences))
    print(
        f"{args.articles} BBC business articles: {len(sentences)} sentences "
        f"({article_chars} chars, {article_chars / len(sentences):.0f} per sentence), "
        f"{len(passages)} passages ({sum(map(len, passages))} chars)"
    )
    sizing = {"batch_size": args.batch_size} if args.batch_size else {}
    rows: list[Row] = []
    reference: np.ndarray | None = None
    today: float | None = None
    for backend in args.backends:
        row = Row(backend)
        started = time.perf_counter()
        embedder = SentenceTransformerEmbedder(backend=backend, cache_dir=args.cache_dir, **sizing)
        if backend != "torch":
            # construction = export when the cache was cold; load_s below is with a warm cache
            row.export_s = time.perf_counter() - started
        if not args.skip_throughput:
            vectors = measure_throughput(row, embedder, sentences, args.repeats)
            if backend == "torch":
                reference = vectors
                today = today_build_rate(sentences, passages, args.repeats)
            elif reference is not None:
                cosines = (vectors * reference).sum(axis=1)
                row.cosine_to_torch_min = float(cosines.min())
                row.cosine_to_torch_mean = float(cosines.mean())
        if not args.skip_quality:
            row.ndcg10_whole, row.ndcg10_mean_of_sentences = scifact_ndcg(
                embedder, args.scifact, backend
            )
        del embedder
        row.load_s = load_seconds(backend, args.cache_dir)
        rows.append(row)
        tqdm.write(json.dumps(asdict(row)))
    print_table(rows, today)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n", "utf-8")


def print_table(rows: list[Row], today: float | None) -> None:
    def fmt(value: float | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    torch_rate = next((r.sentence_chars_per_s for r in rows if r.backend == "torch"), None)
    rate = {r.backend: r.sentence_chars_per_s for r in rows}
    print()
    print(
        "| backend | chars/s sentences | × torch sentences | × today's build "
        "| cos to torch min / mean | nDCG@10 whole doc | nDCG@10 mean of sentences | load s "
        "| others' CPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        own = rate[r.backend]
        ratio = own / torch_rate if own and torch_rate else None
        vs_today = own / today if own and today else None
        cosine = (
            "—"
            if r.cosine_to_torch_min is None
            else f"{r.cosine_to_torch_min:.4f} / {r.cosine_to_torch_mean:.4f}"
        )
        print(
            f"| {r.backend} | {fmt(own, ',.0f')} | {fmt(ratio, '.2f')} "
            f"| {fmt(vs_today, '.2f')} | {cosine} | {fmt(r.ndcg10_whole, '.4f')} "
            f"| {fmt(r.ndcg10_mean_of_sentences, '.4f')} | {fmt(r.load_s, '.2f')} "
            f"| {fmt(r.others_cpu_share if own else None, '.0%')} |"
        )
    if today:
        print(
            f"\ntoday's build (torch, 3-sentence passages, batch 64): {today:,.0f} article chars/s"
        )


if __name__ == "__main__":
    main()

"""The dense index at scale, on synthetic vectors shaped like MiniLM passage embeddings.

    .venv/bin/python bench/dense_scale.py --n 1000000 --dim 384 --queries 200 --nprobe 8,16,32,64
    .venv/bin/python bench/dense_scale.py --n 100000 --kind ivf   # IVF below EXACT_LIMIT, vs flat
    .venv/bin/python bench/dense_scale.py --calibrate REAL [REAL ...]  # synthetic vs real vectors

No model and no corpus: ``n`` L2-normalised float32 vectors are drawn from a mixture with
cluster structure, in chunks (one copy of the vectors in memory, bounded temporaries). Each point
is ``normalise(m·e + topic + subtopic + noise)``: ``--centres`` subtopic centres in groups of
``--per-topic`` around topic centres, lognormal subtopic sizes, a shared direction ``e`` giving
random pairs a cosine of ``--mean-cos``, and every offset drawn from a gaussian whose variance
decays as ``i^-alpha`` over the dimensions (real MiniLM vectors are not isotropic: their
covariance has a participation ratio near 65 of 384). Queries are drawn the same way and are never
copies of indexed points: question-like ones with offsets ``--spread`` times longer (their top-10
cosines fall in 0.5-0.8, as MiniLM questions against passages do) and, for a second recall
figure, passage-like ones. ``--calibrate`` checks the shape against real vectors at their own
size: IVF recall@10 for nprobe 1-32 at the same nlist rule, top cosines, spectrum.

Measured: ``DenseIndex.build`` (train and add timed apart), RSS and size on disk; exact search
(``faiss.IndexFlatIP``: the ground truth, and the exact alternative); for each nprobe,
one-query-at-a-time latency through ``DenseIndex.search`` and recall@10 against exact, unfiltered
and with ``allowed`` = 1% of the ids; in-place removal and addition. FAISS runs on ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.store.dense import EXACT_LIMIT, DenseIndex, IVFParams  # noqa: E402

K = 10  # recall@10
CHUNK = 65_536  # vectors drawn at a time: temporaries of 100 MB at dim 384
say = tqdm.write


# -- synthetic embeddings ---------------------------------------------------------------------
def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def fitted_centres(n: int) -> int:
    """Subtopics for ``n`` vectors: IVF recall@10 by nprobe (8-32) matched real MiniLM passages
    with about 2,300 at 5,043 (SciFact) and 3,500 at 15,522 (BBC); extrapolated as n^0.37."""
    return max(100, round(3500 * (n / 15_522) ** 0.37))


class Synthetic:
    """Topic → subtopic → point; see the module docstring."""

    def __init__(self, args: argparse.Namespace, dim: int, n: int) -> None:
        rng = np.random.default_rng(args.seed)
        centres = args.centres or fitted_centres(n)
        sd = np.arange(1, dim + 1, dtype=np.float64) ** (-args.alpha / 2)
        self.sd = (sd / np.linalg.norm(sd)).astype(np.float32)  # a draw has norm ≈ 1
        spread = args.topic**2 + args.subtopic**2 + args.noise**2
        shared = math.sqrt(args.mean_cos * spread / (1 - args.mean_cos))
        direction = unit(rng.standard_normal((1, dim), dtype=np.float32))[0]
        topics = args.topic * self.offsets(max(1, centres // args.per_topic), rng)
        topic_of = rng.integers(0, len(topics), size=centres)
        self.centres = shared * direction + topics[topic_of]
        self.centres += args.subtopic * self.offsets(centres, rng)
        weights = rng.lognormal(0.0, 1.0, size=centres)
        self.weights = weights / weights.sum()
        self.noise = (args.noise * rng.uniform(0.8, 1.2, size=centres)).astype(np.float32)
        self.dim = dim

    def offsets(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, len(self.sd)), dtype=np.float32) * self.sd

    def draw(self, n: int, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
        """``spread`` > 1 draws question-like points, further from their subtopic."""
        label = rng.choice(len(self.centres), size=n, p=self.weights)
        x = self.offsets(n, rng) * (spread * self.noise[label, None])
        x += self.centres[label]
        return unit(x)

    def fill(self, n: int, seed: int, desc: str = "vectors") -> np.ndarray:
        out = np.empty((n, self.dim), dtype=np.float32)
        for i, start in enumerate(tqdm(range(0, n, CHUNK), desc=desc, unit="chunk")):
            stop = min(n, start + CHUNK)
            out[start:stop] = self.draw(stop - start, np.random.default_rng((seed, i)))
        return out


# -- measurements -----------------------------------------------------------------------------
def rss_mb() -> dict[str, int]:
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024)
    return {"rss_mb": found["VmRSS"], "peak_rss_mb": found["VmHWM"]}


def ms_stats(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 3) for q in (50, 95)}


def recall(found: list[np.ndarray] | np.ndarray, truth: np.ndarray) -> float:
    hits = [
        len(set(f[:K].tolist()) & set(t[:K].tolist())) for f, t in zip(found, truth, strict=True)
    ]
    return round(float(np.mean(hits)) / K, 4)


Search = Callable[[np.ndarray], np.ndarray]


def timed(search: Search, queries: np.ndarray, desc: str) -> tuple[list[np.ndarray], list[float]]:
    """One query at a time, as a server answers them."""
    for q in queries[:5]:  # warm caches and the thread pool
        search(q)
    found, times = [], []
    for q in tqdm(queries, desc=desc, unit="q", leave=False):
        t0 = time.perf_counter()
        found.append(search(q))
        times.append(time.perf_counter() - t0)
    return found, times


@contextmanager
def omp_threads(n: int | None) -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n or before)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def p50_with_threads(search: Search, queries: np.ndarray, threads: int | None) -> dict:
    """The same searches' p50 on ``--also-threads`` threads, if asked."""
    if not threads:
        return {}
    with omp_threads(threads):
        _, times = timed(search, queries, f"{threads} thread(s)")
    return {f"p50_ms_{threads}t": ms_stats(times)["p50_ms"]}


class TimedIndex(DenseIndex):
    """``DenseIndex.build`` itself, with its training and its first add timed apart."""

    timings: dict[str, float] = {}  # noqa: RUF012 - one build at a time

    @classmethod
    def ivf(cls, training: np.ndarray, params: IVFParams | None = None) -> DenseIndex:
        t0 = time.perf_counter()
        index = super().ivf(training, params)
        cls.timings.update(train_s=time.perf_counter() - t0, train_points=len(training))
        return index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        t0 = time.perf_counter()
        super().add(ids, vectors)
        self.timings.setdefault("add_s", time.perf_counter() - t0)


def build(
    ids: np.ndarray, vectors: np.ndarray, kind: str, nlist: int | None
) -> tuple[DenseIndex, dict]:
    TimedIndex.timings = {}
    t0 = time.perf_counter()
    if nlist or (kind == "ivf" and len(ids) <= EXACT_LIMIT):
        # build()'s IVF branch (same training sample), below its threshold for the flat-vs-IVF
        # comparison, or with another nlist than its rule gives
        sample = np.random.default_rng(0).choice(
            len(ids), size=min(len(ids), 256 * 1024), replace=False
        )
        params = IVFParams(nlist=nlist, nprobe=max(8, nlist // 32)) if nlist else None
        index = TimedIndex.ivf(vectors[np.sort(sample)], params)
        index.add(ids, vectors)
    else:
        index = TimedIndex.build(ids, vectors, vectors.shape[1])
    out: dict = {"kind": index.kind, "build_s": round(time.perf_counter() - t0, 2)}
    out.update({k: round(v, 2) for k, v in TimedIndex.timings.items()})
    if index.kind == "ivf":
        out.update(nlist=int(index._index.nlist), rule_nprobe=int(index._index.nprobe))
    return index, out


def set_nprobe(index: DenseIndex, nprobe: int) -> None:
    index._index.nprobe = nprobe
    index.nprobe = nprobe


def disk_size(index: DenseIndex) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="dense-scale-"))
    try:
        t0 = time.perf_counter()
        path = index.save(folder, 1)
        return {
            "save_s": round(time.perf_counter() - t0, 2),
            "disk_mb": round(path.stat().st_size / 2**20, 1),
        }
    finally:
        shutil.rmtree(folder)


def cosines(scores: np.ndarray) -> dict:
    return {
        "top1_mean": round(float(scores[:, 0].mean()), 3),
        "top10_mean": round(float(scores[:, K - 1].mean()), 3),
        "top10_p5_p95": [round(float(np.percentile(scores[:, K - 1], p)), 3) for p in (5, 95)],
    }


def exact_baseline(
    vectors: np.ndarray,
    queries: np.ndarray,
    allowed: np.ndarray,
    passage_queries: np.ndarray,
    also_threads: int | None,
) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """Ground truths (questions, questions filtered, passages) and the exact index's latency."""
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    scores, truth = exact.search(queries, K)
    passage_scores, passage_truth = exact.search(passage_queries, K)
    out: dict = {
        "question_cosines": cosines(scores),
        "passage_cosines": cosines(passage_scores),
        "random_pair_cosine": round(float((queries @ vectors[:1000].T).mean()), 3),
    }
    say(f"cosines: {out}")
    search: Search = lambda q: exact.search(q[None], K)[1][0]  # noqa: E731
    _, times = timed(search, queries, "exact")
    out["exact"] = {**ms_stats(times), **p50_with_threads(search, queries, also_threads)}
    sims = queries @ vectors[allowed].T  # 1% of one copy
    truth_filtered = allowed[np.argsort(-sims, axis=1)[:, :K]]
    params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
    _, times = timed(
        lambda q: exact.search(q[None], K, params=params)[1][0], queries, "exact filtered"
    )
    out["exact_filtered"] = ms_stats(times)
    return out, truth, truth_filtered, passage_truth


def search_row(
    index: DenseIndex,
    queries: np.ndarray,
    allowed: np.ndarray,
    truth: np.ndarray,
    truth_filtered: np.ndarray,
    name: str,
    also_threads: int | None,
) -> dict:
    search: Search = lambda q: index.search(q, K)[1]  # noqa: E731
    found, times = timed(search, queries, name)
    found_f, times_f = timed(lambda q: index.search(q, K, allowed)[1], queries, f"{name} filtered")
    assert all(np.isin(f, allowed).all() for f in found_f), "a filtered search left its filter"
    filtered = ms_stats(times_f)
    return {
        "recall@10": recall(found, truth),
        **ms_stats(times),
        **p50_with_threads(search, queries, also_threads),
        "filtered_recall@10": recall(found_f, truth_filtered),
        "filtered_p50_ms": filtered["p50_ms"],
        "filtered_p95_ms": filtered["p95_ms"],
    }


def article_updates(index: DenseIndex, ids: np.ndarray, vectors: np.ndarray) -> dict[str, float]:
    """Remove and re-add one article (10 passages) at a time, as the live store applies its
    change log: p50 of 20 of each."""
    removals, additions = [], []
    for i in range(min(20, len(ids) // 10)):
        part = slice(i * 10, (i + 1) * 10)
        t0 = time.perf_counter()
        index.remove(ids[part])
        removals.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.add(ids[part], vectors[part])
        additions.append(time.perf_counter() - t0)
    return {"remove_10": ms_stats(removals)["p50_ms"], "add_10": ms_stats(additions)["p50_ms"]}


def updates(
    index: DenseIndex, synthetic: Synthetic, n: int, count: int, seed: int, also: int | None
) -> dict:
    rng = np.random.default_rng(seed)
    gone = rng.choice(n, size=count, replace=False)
    fresh = synthetic.draw(count, rng)
    fresh_ids = np.arange(n, n + count, dtype=np.int64)
    t0 = time.perf_counter()
    removed = index.remove(gone)
    remove_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(fresh_ids, fresh)
    add_s = time.perf_counter() - t0
    assert removed == count and index.ntotal == n
    articles = {f"{k}_p50_ms": v for k, v in article_updates(index, fresh_ids, fresh).items()}
    if also:
        with omp_threads(also):
            alt = article_updates(index, fresh_ids, fresh)
        articles.update({f"{k}_p50_ms_{also}t": v for k, v in alt.items()})
    leaked = sum(int(np.isin(index.search(q, K)[1], gone).sum()) for q in fresh[:50])
    assert leaked == 0, f"{leaked} removed ids returned"
    return {
        f"remove_{count}_ms": round(remove_s * 1000, 1),
        f"add_{count}_ms": round(add_s * 1000, 1),
        **articles,
    }


def measure(args: argparse.Namespace) -> dict:
    n, dim = args.n, args.dim
    res: dict = {
        "args": vars(args),
        "faiss": faiss.__version__,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    say(f"{n:,} x {dim} float32 = {n * dim * 4 / 2**30:.2f} GiB a copy: vectors, index, exact")
    synthetic = Synthetic(args, dim, n)
    res["centres"] = len(synthetic.centres)
    vectors = synthetic.fill(n, seed=args.seed + 1)
    queries = synthetic.draw(args.queries, np.random.default_rng((args.seed + 2, 0)), args.spread)
    passage_queries = synthetic.draw(args.queries, np.random.default_rng((args.seed + 2, 1)))
    ids = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(args.seed + 3)
    allowed = np.sort(rng.choice(n, size=max(K, int(n * args.filter_share)), replace=False))
    res["rss_before_build"] = rss_mb()

    say("DenseIndex.build: train, then add ...")
    index, res["build"] = build(ids, vectors, args.kind, args.nlist)
    res["rss_after_build"] = rss_mb()
    res["index_rss_mb"] = res["rss_after_build"]["rss_mb"] - res["rss_before_build"]["rss_mb"]
    res.update(disk_size(index))
    say(f"built {res['build']}, RSS {res['rss_after_build']}, disk {res['disk_mb']} MB")

    say("exact ground truth (faiss.IndexFlatIP) ...")
    baseline, truth, truth_filtered, passage_truth = exact_baseline(
        vectors, queries, allowed, passage_queries, args.also_threads
    )
    res.update(baseline)
    res["rss_with_exact"] = rss_mb()
    del vectors  # the index and the exact index hold their own copies

    rows = []
    if index.kind == "ivf":
        rule = res["build"]["rule_nprobe"]
        for p in tqdm(sorted({int(p) for p in args.nprobe.split(",")} | {rule}), desc="nprobe"):
            set_nprobe(index, p)
            rows.append(
                {
                    "nprobe": p,
                    "rule": p == rule,
                    **search_row(
                        index,
                        queries,
                        allowed,
                        truth,
                        truth_filtered,
                        f"nprobe {p}",
                        args.also_threads,
                    ),
                    "passage_recall@10": recall(
                        [index.search(q, K)[1] for q in passage_queries], passage_truth
                    ),
                }
            )
            say(json.dumps(rows[-1]))
        good = [r["nprobe"] for r in rows if r["recall@10"] >= args.target]
        res["recommended_nprobe"] = good[0] if good else None
        set_nprobe(index, good[0] if good else rule)
    else:
        rows.append(
            {
                "nprobe": None,
                "rule": True,
                **search_row(
                    index, queries, allowed, truth, truth_filtered, "flat", args.also_threads
                ),
                "passage_recall@10": recall(
                    [index.search(q, K)[1] for q in passage_queries], passage_truth
                ),
            }
        )
    res["search"] = rows

    say("in-place updates ...")
    res["updates"] = updates(index, synthetic, n, args.updates, args.seed + 4, args.also_threads)
    res["loadavg_end"] = os.getloadavg()
    return res


def report(res: dict) -> None:
    a, b = res["args"], res["build"]
    print(
        f"\nn={a['n']:,} dim={a['dim']} queries={a['queries']} threads={a['threads']} "
        f"faiss {res['faiss']}, {res['cpus']} cpus, load {res['loadavg_start'][0]:.1f} -> "
        f"{res['loadavg_end'][0]:.1f}, {res['centres']:,} subtopics\n"
        f"top cosines: questions {res['question_cosines']}, passages {res['passage_cosines']}, "
        f"random pairs {res['random_pair_cosine']}"
    )
    line = f"build ({b['kind']}): {b['build_s']} s"
    if b["kind"] == "ivf":
        line += (
            f" = train {b['train_s']} s on {b['train_points']:,} points + add {b['add_s']} s; "
            f"nlist {b['nlist']}, rule nprobe {b['rule_nprobe']}"
        )
    print(line)
    print(
        f"RSS {res['rss_before_build']['rss_mb']:,} MB before build (vectors) -> "
        f"{res['rss_after_build']['rss_mb']:,} MB after (index +{res['index_rss_mb']:,} MB); "
        f"peak {res['rss_with_exact']['peak_rss_mb']:,} MB with the exact index; "
        f"disk {res['disk_mb']:,} MB (save {res['save_s']} s)\n"
    )
    alt = a["also_threads"]
    head = ["search", "recall@10 questions", "recall@10 passages", "p50 ms", "p95 ms"]
    head += [f"p50 ms {alt} thread(s)"] if alt else []
    head += ["1% filter recall@10", "1% filter p50 ms"]
    e, ef = res["exact"], res["exact_filtered"]
    rows = [["exact IndexFlatIP", 1.0, 1.0, e["p50_ms"], e["p95_ms"]]]
    rows[0] += [e[f"p50_ms_{alt}t"]] if alt else []
    rows[0] += [1.0, ef["p50_ms"]]
    for r in res["search"]:
        name = "DenseIndex flat" if r["nprobe"] is None else f"IVF nprobe {r['nprobe']}"
        if r["rule"] and r["nprobe"] is not None:
            name += " (current rule)"
        row = [name, r["recall@10"], r["passage_recall@10"], r["p50_ms"], r["p95_ms"]]
        row += [r[f"p50_ms_{alt}t"]] if alt else []
        rows.append([*row, r["filtered_recall@10"], r["filtered_p50_ms"]])
    for row in [head, ["---"] * len(head), *rows]:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print(f"\nupdates: {res['updates']}")
    if "recommended_nprobe" in res:
        print(
            f"smallest nprobe with question recall@10 >= {a['target']}: "
            f"{res['recommended_nprobe']} "
            f"(current rule: {b['rule_nprobe']})"
        )


# -- calibration against real vectors ---------------------------------------------------------
def load_real(path: Path) -> np.ndarray:
    """Real vectors: a .npy matrix, a flat .faiss index, a folder of articles to embed (3-sentence
    passages) or a BEIR queries .jsonl to embed."""
    if path.suffix == ".npy":
        return np.load(path).astype(np.float32)
    if path.suffix == ".faiss":
        index = faiss.read_index(str(path))
        return index.reconstruct_n(0, index.ntotal)
    from qa.embed import SentenceTransformerEmbedder

    if path.suffix == ".jsonl":
        texts = [json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()]
        return SentenceTransformerEmbedder().embed(texts)
    from qa.errors import CorpusError
    from qa.ingest.corpus import load_corpus
    from qa.ingest.passages import Chunking, build_passages

    texts = []
    for folder in [path, *sorted(p for p in path.rglob("*") if p.is_dir())]:
        if not any(folder.glob("*.txt")):
            continue
        try:
            texts += [p.text for p in build_passages(load_corpus(folder), Chunking())]
        except CorpusError as exc:
            say(f"skipped {folder}: {exc}")
    say(f"{path}: embedding {len(texts):,} passages (3 sentences, overlap 1)")
    return SentenceTransformerEmbedder().embed(texts, progress=True)


def shape(base: np.ndarray, queries: np.ndarray) -> dict:
    """Cosines, spectrum and IVF recall by nprobe at the nlist rule, for one vector set."""
    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(base)
    scores, truth = exact.search(queries, K)
    centred = base - base.mean(axis=0)
    eig = np.linalg.eigvalsh(centred.T @ centred / len(base))
    params = IVFParams.for_size(len(base))
    index = DenseIndex.ivf(base, params)
    index.add(np.arange(len(base)), base)
    curve = {}
    for p in (1, 2, 4, 8, 16, 32):
        index._index.nprobe = p
        curve[p] = recall(index._index.search(queries, K)[1], truth)
    return {
        "n": len(base),
        "nlist": params.nlist,
        "top1": round(float(scores[:, 0].mean()), 3),
        "top10": round(float(scores[:, K - 1].mean()), 3),
        "random_pair": round(float((queries @ base[:1000].T).mean()), 3),
        "participation_ratio": round(float(eig.sum() ** 2 / (eig**2).sum()), 1),
        "recall@10_by_nprobe": curve,
    }


def calibrate(args: argparse.Namespace) -> list[dict]:
    rows = []
    for path in args.calibrate:
        real = load_real(path)
        if path.is_dir() and args.cache:
            np.save(args.cache / f"{path.name}.npy", real)
        held = np.random.default_rng(0).permutation(len(real))
        base, queries = real[held[500:]], real[held[:500]]  # held-out passages as queries
        synthetic = Synthetic(args, real.shape[1], len(base))
        rng = np.random.default_rng((args.seed, 9))
        for name, b, q in [
            (f"real {path.name}", base, queries),
            ("synthetic", synthetic.draw(len(base), rng), synthetic.draw(500, rng)),
        ]:
            rows.append({"set": name, "queries": "held-out passages", **shape(b, q)})
            print(json.dumps(rows[-1]))
        if args.real_queries and path == args.calibrate[0]:
            questions = load_real(args.real_queries)
            synthetic = Synthetic(args, real.shape[1], len(real))
            for name, b, q in [
                (f"real {path.name}", real, questions),
                (
                    "synthetic",
                    synthetic.draw(len(real), rng),
                    synthetic.draw(len(questions), rng, args.spread),
                ),
            ]:
                rows.append({"set": name, "queries": "questions", **shape(b, q)})
                print(json.dumps(rows[-1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--nprobe", default="8,16,32,64", help="comma-separated; the current rule's is added"
    )
    parser.add_argument(
        "--kind",
        choices=["auto", "ivf"],
        default="auto",
        help="auto: what DenseIndex.build picks; ivf: IVF even below EXACT_LIMIT",
    )
    parser.add_argument(
        "--nlist", type=int, help="IVF with this many lists instead of what build() picks"
    )
    parser.add_argument("--filter-share", type=float, default=0.01, help="share of ids allowed")
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument(
        "--target", type=float, default=0.95, help="recall@10 for the default nprobe"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--also-threads", type=int, help="also time searches on this many threads")
    parser.add_argument("--seed", type=int, default=0)
    shape_ = parser.add_argument_group(
        "synthetic vectors (defaults fitted to MiniLM on SciFact and BBC)"
    )
    shape_.add_argument("--centres", type=int, default=0, help="subtopics (0: fitted to n)")
    shape_.add_argument("--per-topic", type=int, default=15, help="subtopics per topic")
    shape_.add_argument("--topic", type=float, default=1.0, help="spread of topic centres")
    shape_.add_argument(
        "--subtopic", type=float, default=1.5, help="spread of subtopics in a topic"
    )
    shape_.add_argument("--noise", type=float, default=1.0, help="spread of points in a subtopic")
    shape_.add_argument(
        "--alpha", type=float, default=0.8, help="variance decay i^-alpha (0: isotropic)"
    )
    shape_.add_argument("--mean-cos", type=float, default=0.125, help="cosine of random pairs")
    shape_.add_argument(
        "--spread", type=float, default=2.0, help="question queries: offset x this (passages: 1)"
    )
    parser.add_argument(
        "--calibrate",
        type=Path,
        nargs="+",
        help="compare with real passage vectors (.npy, flat .faiss, folder of articles) instead",
    )
    parser.add_argument(
        "--real-queries",
        type=Path,
        help="--calibrate: real questions (.npy, or BEIR queries .jsonl) for the first set",
    )
    parser.add_argument(
        "--cache", type=Path, help="--calibrate: save embedded folders here as .npy"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)

    if args.calibrate:
        out: object = calibrate(args)
    else:
        res = measure(args)
        report(res)
        out = res
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()

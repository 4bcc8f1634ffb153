"""A filter clustered away from the question on an IVF index: how many of k come back, and at
what cost, against exact search under the same filter.

    .venv/bin/python bench/ivf_filter.py                 # 110,000 vectors, ~1 min
    .venv/bin/python bench/ivf_filter.py --n 400000

Synthetic vectors in two groups of topics, as news is: 90 % "politics" (36 topics round one
centre), 10 % "sport" (4 topics round another). ``DenseIndex.build`` picks IVF above
``EXACT_LIMIT``. A politics question filtered to the sport passages finds none of them in the
lists nearest it: ``DenseIndex.search`` then probes every list. Printed per k: ids returned,
p50 latency of ``DenseIndex.search`` (IVF, then exact over the same vectors), and of the same
question unfiltered, over ``--queries`` questions.
"""

from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

from qa.store.dense import DenseIndex


def vectors(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors, their "sport" flags, and the 40 topic centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, d)).astype(np.float32)
    topics = np.concatenate(
        [centres[0] + 0.7 * rng.normal(size=(36, d)), centres[1] + 0.7 * rng.normal(size=(4, d))]
    ).astype(np.float32)
    sport = rng.random(n) < 0.10
    labels = np.where(sport, rng.integers(36, 40, size=n), rng.integers(0, 36, size=n))
    x = topics[labels] + 0.7 * rng.normal(size=(n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, sport, topics


def p50_ms(index: DenseIndex, queries: np.ndarray, k: int, allowed: np.ndarray | None) -> float:
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q, k, allowed)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=110_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    d = 384
    x, sport, topics = vectors(args.n, d, 0)
    ids = np.arange(1, args.n + 1, dtype=np.int64)
    started = time.perf_counter()
    ivf = DenseIndex.build(ids, x, d)
    print(f"{args.n:,} vectors: {ivf.kind} built in {time.perf_counter() - started:.1f} s")
    exact = DenseIndex.exact(d)
    exact.add(ids, x)
    rng = np.random.default_rng(1)
    politics = topics[rng.integers(0, 36, size=args.queries)]
    politics = politics + 0.3 * rng.normal(size=politics.shape).astype(np.float32)
    politics /= np.linalg.norm(politics, axis=1, keepdims=True)
    allowed = ids[sport]
    print(f"filter: the {len(allowed):,} sport passages; {args.queries} politics questions")
    for k in (5, 20, 100):
        got = [len(ivf.search(q, k, allowed)[1]) for q in politics]
        print(
            f"k={k}: IVF returned {min(got)}-{max(got)} of {k}; p50 filtered IVF "
            f"{p50_ms(ivf, politics, k, allowed):.2f} ms, filtered exact "
            f"{p50_ms(exact, politics, k, allowed):.2f} ms; unfiltered IVF "
            f"{p50_ms(ivf, politics, k, None):.2f} ms, "
            f"exact {p50_ms(exact, politics, k, None):.2f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()

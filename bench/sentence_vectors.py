"""The model stage of an ingest, sentences embedded alone against sentences read in their passages.

    .venv/bin/python bench/sentence_vectors.py                 # 300 BBC articles, 3 rounds, ~1 min
    .venv/bin/python bench/sentence_vectors.py --articles 100 --rounds 5

``qa.ingest.prepare.prepare`` on the same cut articles (the first ``--articles`` of the BBC
archive in the corpus reader's order), with the default int8 embedder, once each way per round in
alternating order. ``alone`` embeds every passage and every sentence; ``in_passage`` embeds every
passage and pools its sentences from the same run (qa/ingest/prepare.py). Printed: each round's
seconds, the ratio of summed times, the largest difference between the two ways' passage vectors
(the same batches, so it should be 0) and how close the two kinds of sentence vectors are.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from qa.embed import SentenceTransformerEmbedder
from qa.ingest.corpus import load_corpus
from qa.ingest.passages import Chunking
from qa.ingest.prepare import cut, prepare

BBC = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "bbc-news"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the archive's two skipped files
    articles = load_corpus(BBC)[: args.articles]
    done = cut(articles, Chunking())
    embedder = SentenceTransformerEmbedder(backend="onnx-int8")
    chars = sum(len(a.text) for a in articles)
    print(
        f"{len(articles)} articles, {chars:,} chars: {len(done.sentence_texts):,} sentences, "
        f"{len(done.passage_texts):,} passages"
    )
    seconds: dict[str, list[float]] = {"alone": [], "in_passage": []}
    last = {}
    for r in range(args.rounds):
        ways = ("alone", "in_passage") if r % 2 == 0 else ("in_passage", "alone")
        for way in ways:
            start = time.perf_counter()
            last[way] = prepare(done, embedder, sentence_vectors=way)  # type: ignore[arg-type]
            seconds[way].append(time.perf_counter() - start)
        print(
            f"round {r + 1}: alone {seconds['alone'][-1]:.2f} s, "
            f"in_passage {seconds['in_passage'][-1]:.2f} s"
        )
    total = {way: sum(s) for way, s in seconds.items()}
    print(
        f"in_passage is {total['alone'] / total['in_passage']:.2f}x as fast "
        f"({chars * args.rounds / total['in_passage']:,.0f} against "
        f"{chars * args.rounds / total['alone']:,.0f} chars/s)"
    )
    a, b = last["alone"], last["in_passage"]
    pairs = list(zip(a, b, strict=True))
    passages = max(float(np.abs(x.passage_vectors - y.passage_vectors).max()) for x, y in pairs)
    cosines = np.concatenate([(x.sentence_vectors * y.sentence_vectors).sum(1) for x, y in pairs])
    print(
        f"passage vectors: largest difference {passages:g}; sentence vectors alone vs in passage: "
        f"cosine mean {cosines.mean():.3f}, 5th percentile {np.percentile(cosines, 5):.3f}"
    )


if __name__ == "__main__":
    main()

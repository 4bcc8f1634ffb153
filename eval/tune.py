"""Grid search of the fusion settings on a BEIR split (tune on train, report on test).

    python -m eval.tune ../shared/benchmarks/scifact --split train

Reuses the index `qa eval --beir` builds (same chunking flags), so only queries are embedded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eval.beir import load_beir, score_retriever
from qa.config import Settings
from qa.engine import QAEngine
from qa.search.retrieve import HybridRetriever


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("beir", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--passage-sentences", type=int, default=0)
    parser.add_argument("--passage-overlap", type=int, default=0)
    parser.add_argument("--rrf-k", default="5,10,20,30,60,100")
    parser.add_argument("--dense-weight", default="0.5,0.75,1.0,1.25,1.5")
    args = parser.parse_args()

    settings = Settings(
        index_dir=args.index_dir or Path(".qa-beir") / args.beir.resolve().name,
        passage_sentences=args.passage_sentences,
        passage_overlap=args.passage_overlap,
    )
    data = load_beir(args.beir, args.split)
    engine = QAEngine.open(settings, rebuild=True)
    engine.add(data.articles, replace=True, progress=True)
    engine.live.start_lexical(wait=True)
    rows = []
    for rrf_k in (float(v) for v in args.rrf_k.split(",")):
        for weight in (float(v) for v in args.dense_weight.split(",")):
            retriever = HybridRetriever(engine.live, rrf_k=rrf_k, dense_weight=weight)
            label = f"rrf_k={rrf_k:g} dense_weight={weight:g}"
            scores = score_retriever(retriever, engine, data, label, progress=False)
            rows.append({"rrf_k": rrf_k, "dense_weight": weight, **scores})
            print(json.dumps(rows[-1]), flush=True)
    best = max(rows, key=lambda r: r["ndcg@10"])
    print("best:", json.dumps(best))


if __name__ == "__main__":
    main()

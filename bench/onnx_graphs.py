"""Two ONNX exports of the packaged model side by side, differing in one choice of the recipe.

``--compare attention`` (EXPORT_FORMAT 2): attention traced from transformers' SDPA
implementation against its eager one, both with padding masked as traced. ``--compare mask``
(EXPORT_FORMAT 3): the eager graph with padded keys' scores lowered by float32's minimum (as
traced) against ``MASK_BIAS``.

    .venv/bin/python bench/onnx_graphs.py                    # attention: int8 and fp32, ~6 min
    .venv/bin/python bench/onnx_graphs.py --kinds int8 --threads 1
    .venv/bin/python bench/onnx_graphs.py --compare mask     # the mask bias

Both graphs are exported and quantized here, into a temporary folder, with the project's own
export and quantization code; only the compared choice differs. Texts: the sentences
and 3-sentence passages of the first ``--articles`` BBC business articles (what an index build
embeds). Each round embeds them with each graph, in alternating order, through the project's
ONNX runner (length-sorted batches of 16, one single-threaded session per core); the ratio is
of summed times. Also printed: how far the two graphs' vectors are apart, and one question's
embedding time (p50 of 60).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_backends import BENCHMARKS, bbc_texts

from qa.embed import (
    MASK_BIAS,
    ONNX_FILE,
    TOKENIZER_FILE,
    _export_fp32,
    _OnnxRunner,
    _quantize,
    default_model_path,
    file_sha256,
    int8_target,
)

QUESTIONS = (
    "Who won the election in Wales?",
    "How much did the company pay for the rights to the film?",
    "What did the minister say about tuition fees",
)


# name: (before, after), each (label, attention, mask bias)
COMPARISONS = {
    "attention": (("sdpa", "sdpa", None), ("eager", "eager", None)),
    "mask": (("min", "eager", None), ("bias", "eager", MASK_BIAS)),
}


def export(root: Path, name: str, attention: str, mask_bias: float | None) -> dict[str, Path]:
    """The fp32 and int8 folders of one recipe."""
    fp32, int8 = root / f"{name}-fp32", root / f"{name}-int8"
    fp32.mkdir()
    int8.mkdir()
    _export_fp32(default_model_path(), fp32, attention=attention, mask_bias=mask_bias)
    _quantize(fp32 / ONNX_FILE, int8 / ONNX_FILE, int8_target())
    (int8 / TOKENIZER_FILE).write_bytes((fp32 / TOKENIZER_FILE).read_bytes())
    return {"fp32": fp32, "int8": int8}


def runner(folder: Path, threads: int | None) -> _OnnxRunner:
    manifest = {
        "model_file": ONNX_FILE,
        "onnx_sha256": file_sha256(folder / ONNX_FILE),
        "max_seq_length": 256,
        "dimension": 384,
    }
    return _OnnxRunner(folder, manifest, 16, threads)


def question_ms(run: _OnnxRunner) -> float:
    times = []
    for i in range(60):  # trailing spaces: a new text each time, the same tokens
        started = time.perf_counter()
        run.encode([QUESTIONS[i % 3] + " " * (i // 3)], False)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bbc", type=Path, default=BENCHMARKS / "bbc-news/bbc/business")
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", choices=("int8", "fp32"), default=["int8", "fp32"])
    parser.add_argument("--threads", type=int, default=None, help="sessions (default: cores)")
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="attention")
    args = parser.parse_args()
    sentences, passages = bbc_texts(args.bbc, args.articles)
    texts = sentences + passages
    chars = sum(map(len, texts))
    print(f"{len(sentences)} sentences + {len(passages)} passages, {chars:,} chars")
    with tempfile.TemporaryDirectory() as tmp:
        (a, *_), (b, *_) = recipes = COMPARISONS[args.compare]
        graphs = {name: export(Path(tmp), name, att, bias) for name, att, bias in recipes}
        for kind in args.kinds:
            runs = {name: runner(graphs[name][kind], args.threads) for name in graphs}
            vectors = {name: runs[name].encode(texts, False) for name in runs}
            cosine = (vectors[a] * vectors[b]).sum(axis=1)
            diff = np.abs(vectors[a] - vectors[b]).max()
            print(
                f"[{kind}] {b} vs {a} vectors: cosine min {cosine.min():.6f}, "
                f"mean {cosine.mean():.7f}, largest difference {diff:.2e}"
            )
            total = dict.fromkeys(runs, 0.0)
            for i in range(args.rounds):
                for name in list(runs) if i % 2 == 0 else list(runs)[::-1]:
                    started = time.perf_counter()
                    runs[name].encode(texts, False)
                    total[name] += time.perf_counter() - started
                print(
                    f"[{kind}] round {i + 1}: {a} {total[a]:.2f} s, {b} {total[b]:.2f} s: "
                    f"{b} is {total[a] / total[b]:.3f}x as fast "
                    f"({chars * (i + 1) / total[b]:,.0f} chars/s)",
                    flush=True,
                )
            asked = {name: question_ms(runs[name]) for name in runs}
            print(f"[{kind}] one question p50: {a} {asked[a]:.2f} ms, {b} {asked[b]:.2f} ms")


if __name__ == "__main__":
    main()

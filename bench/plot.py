"""Plot the live-archive benchmark: /ask p50 against its floor, ingest against the previous release.

    .venv/bin/python bench/plot.py [bench/out/live_archive.json] [bench/live_archive.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/live_archive.json")
    target = Path(sys.argv[2] if len(sys.argv) > 2 else "bench/live_archive.png")
    r = json.loads(source.read_text())
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = ["top_k 5", "top_k 50"]
    floor = [r["ask"][f"top_k_{k}"]["floor_p50_ms"] for k in (5, 50)]
    ask = [r["ask"][f"top_k_{k}"]["ask_p50_ms"] for k in (5, 50)]
    xs = range(len(names))
    left.bar([x - 0.2 for x in xs], floor, 0.4, label="floor: embed question + FAISS")
    left.bar([x + 0.2 for x in xs], ask, 0.4, label="/ask over HTTP")
    left.plot([-0.5, 1.5], [2 * floor[0]] * 2, "k:", label="2x floor (top_k 5)")
    left.set_xticks(list(xs), names)
    left.set_ylabel("p50 ms")
    left.set_title("/ask on 2,224 BBC articles")
    left.legend(fontsize=8)
    if "ingest" in r:
        sub = r["ingest"]["subset"]
        right.bar(
            ["previous release", "this release"],
            [sub["baseline_chars_per_s"], sub["new_chars_per_s"]],
            color=["grey", "tab:green"],
        )
        right.set_ylabel("characters / s")
        right.set_title(f"qa index, same {sub['articles']} articles ({sub['speedup']}x)")
    fig.tight_layout()
    fig.savefig(target, dpi=90)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()

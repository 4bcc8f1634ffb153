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
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    passes = [
        (f"top_k {k}\n{label}", r["ask"][key])
        for k in (5, 50)
        for label, key in (("cold", f"top_k_{k}_cold"), ("warm", f"top_k_{k}"))
        if key in r["ask"]
    ]
    rtt = r["ask"].get("health_p50_ms", 0.0)
    xs = list(range(len(passes)))
    bars = [
        ("floor: embed + FAISS", "floor_p50_ms", "grey"),
        ("QAEngine.ask", "in_process_p50_ms", "tab:blue"),
        ("/ask over HTTP, lean client", "lean_client_p50_ms", "tab:red"),
        ("/ask over HTTP, httpx", "ask_p50_ms", "tab:orange"),
    ]
    bars = [b for b in bars if all(b[1] in row for _, row in passes)]  # older runs: no lean
    width = 0.8 / len(bars)
    for j, (label, key, color) in enumerate(bars):
        left.bar(
            [x + (j - (len(bars) - 1) / 2) * width for x in xs],
            [row[key] for _, row in passes],
            width,
            label=label,
            color=color,
        )
    for x, (_, row) in zip(xs, passes, strict=True):
        left.plot([x - 0.4, x + 0.4], [2 * row["floor_p50_ms"]] * 2, "k:")
        left.plot([x - 0.4, x + 0.4], [2 * (row["floor_p50_ms"] + rtt)] * 2, "k--")
    left.plot([], [], "k:", label="2x floor")
    left.plot([], [], "k--", label="2x (floor + HTTP round trip)")
    left.set_xticks(xs, [name for name, _ in passes])
    left.set_ylabel("p50 ms")
    left.set_title("/ask on 2,224 BBC articles")
    top = max(max(2 * (row["floor_p50_ms"] + rtt), row["ask_p50_ms"]) for _, row in passes)
    left.set_ylim(0, top * 1.45)  # room for the legend above the bars
    left.legend(fontsize=7, loc="upper left", ncol=2)
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

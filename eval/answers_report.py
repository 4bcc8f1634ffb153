"""Every answer-level figure of eval/RESULTS.md in one run: each set's train and test parts.

    python -m eval.answers_report            # ~3 min; writes eval/out/answers.json and the plots

Prints a Markdown table (test parts first) and writes the reliability diagram and the
abstention curves of the test parts to ``eval/answers_reliability.png`` and
``eval/answers_abstention.png``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from eval.answers import (
    AnswerReport,
    ece_interval,
    ece_of_a_calibrated_model,
    evaluate_answers,
    reliability,
)
from eval.plot import plot_reliability
from eval.sets import eval_set

COLUMNS = (
    "hit@1",
    "hit@3",
    "highlight@1",
    "answerable_abstained",
    "abstention_recall",
    "abstention_precision",
    "ece",
    "verbatim_share",
)


def _cell(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def table(reports: list[AnswerReport]) -> str:
    head = "| set | questions (answerable) | " + " | ".join(COLUMNS) + " |"
    rule = "|---|---|" + "---|" * len(COLUMNS)
    rows = [
        f"| {r.name} | {int(r.metrics['questions'])} ({int(r.metrics['answerable'])}) | "
        + " | ".join(_cell(r.metrics[c]) for c in COLUMNS)
        + " |"
        for r in reports
    ]
    return "\n".join([head, rule, *rows])


def plot_abstention_curves(reports: list[AnswerReport], chosen: float, path: Path) -> None:
    """Abstention recall against the share of answerable questions refused, per set, as the
    threshold moves: the whole precision/recall trade-off in one picture."""
    steps = [i / 200 for i in range(0, 201)]
    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=120)
    for r in reports:
        rows = r.sweep(steps)
        ax.plot(
            [row["answerable_abstained"] for row in rows],
            [row["recall"] for row in rows],
            label=r.name,
        )
        at = r.sweep([chosen])[0]
        ax.scatter([at["answerable_abstained"]], [at["recall"]], marker="o")
    ax.axvline(0.05, color="grey", linestyle=":", label="5% of answerable refused")
    ax.set_xlabel("answerable questions refused")
    ax.set_ylabel("unanswerable questions refused (abstention recall)")
    ax.set_title(f"Abstention as min_confidence moves (dots: default {chosen:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def best_recall_within(r: AnswerReport, max_refused: float) -> dict[str, float] | None:
    """The threshold refusing most unanswerable questions while refusing at most
    ``max_refused`` of the answerable ones (None without unanswerable questions)."""
    if all(r.answerable):
        return None
    steps = sorted({0.0, *r.top_confidence, 1.0})
    rows = [row for row in r.sweep(steps) if row["answerable_abstained"] <= max_refused]
    return max(rows, key=lambda row: (row["recall"], -row["threshold"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("eval/out/answers.json"))
    parser.add_argument("--plots", type=Path, default=Path("eval"))
    args = parser.parse_args()
    reports: dict[str, AnswerReport] = {}
    chosen = 0.0
    for part in ("test", "train"):
        for name in ("seeds", "news", "squad"):
            data, engine = eval_set(name, part)
            report = evaluate_answers(engine, data.questions, data.name)
            reports[data.name] = report
            chosen = engine.min_confidence
            engine.close()
    ordered = list(reports.values())
    print(table(ordered))
    out: dict[str, dict[str, object]] = {r.name: dict(r.metrics) for r in ordered}
    for r in ordered:  # the operating point: most refused with <= 5 % answerable refused
        best = best_recall_within(r, 0.05)
        if best is not None:
            out[r.name] = {**out[r.name], "abstention_recall_at_5pct": best}
            print(
                f"{r.name}: abstention recall {best['recall']:.3f} at min_confidence "
                f"{best['threshold']:.3f} "
                f"({best['answerable_abstained']:.3f} of answerable refused)"
            )
    for r in ordered:  # how much of an ECE is the set's size (eval/RESULTS.md, calibration)
        low, high = ece_interval(r.top_confidence, r.top_correct)
        floor, floor_p95 = ece_of_a_calibrated_model(r.top_confidence)
        out[r.name] = {
            **out[r.name],
            "ece_interval_90": [low, high],
            "ece_if_calibrated": {"mean": floor, "p95": floor_p95},
        }
        print(
            f"{r.name}: ECE {r.metrics['ece']:.3f} (90 % bootstrap interval {low:.3f}-{high:.3f}); "
            f"a perfectly calibrated model with these confidences: {floor:.3f} on average, "
            f"{floor_p95:.3f} at the 95th percentile"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    tests = [r for r in ordered if r.name.endswith("-test")]
    plot_reliability(
        {
            f"{r.name} (ECE {r.metrics['ece']:.3f})": reliability(r.top_confidence, r.top_correct)
            for r in tests
        },
        args.plots / "answers_reliability.png",
        "Reliability of the first answer's confidence (test parts)",
    )
    plot_abstention_curves(tests, chosen, args.plots / "answers_abstention.png")


if __name__ == "__main__":
    main()

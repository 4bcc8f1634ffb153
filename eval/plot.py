"""Recall@k per mode as a PNG, for eval/RESULTS.md."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plot_recall", "plot_thresholds"]


def plot_recall(
    series: dict[str, dict[int, float]], path: Path, title: str, ylabel: str = "recall@k"
) -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for mode, points in series.items():
        ks = sorted(points)
        ax.plot(ks, [points[k] for k in ks], marker="o", label=mode)
    ax.set_xscale("log")
    all_ks = sorted({k for pts in series.values() for k in pts})
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.set_xlabel("k")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_thresholds(
    rows: Sequence[dict[str, float]],
    chosen: float,
    path: Path,
    baseline: Sequence[dict[str, float]] | None = None,
) -> None:
    """Abstention quality against the dense threshold; dashed: without the lexical rule."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ts = [r["threshold"] for r in rows]
    for key, label, color in (
        ("abstain_precision", "abstention precision", "tab:blue"),
        ("abstain_recall", "abstention recall", "tab:orange"),
        ("answerable_kept", "answerable questions answered", "tab:green"),
    ):
        ax.plot(ts, [r[key] for r in rows], label=label, color=color)
        if baseline is not None:
            ax.plot(ts, [r[key] for r in baseline], color=color, linestyle=":", alpha=0.7)
    ax.axvline(chosen, color="grey", linestyle="--", label=f"threshold {chosen}")
    ax.set_xlabel("dense threshold (cosine of best highlighted sentence)")
    if baseline is not None:
        ax.set_title("solid: with the lexical-support rule; dotted: dense threshold alone")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

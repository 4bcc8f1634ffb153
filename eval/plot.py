"""Recall@k per mode as a PNG, for eval/RESULTS.md."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.backend_bases import FigureCanvasBase

from qa.errors import InvalidInputError

__all__ = ["check_plot_path", "plot_abstention", "plot_formats", "plot_recall", "plot_reliability"]


def plot_formats() -> set[str]:
    """File suffixes ``savefig`` can write here (pgf only with the TeX it runs)."""
    formats = set(FigureCanvasBase.get_supported_filetypes())
    if shutil.which(matplotlib.rcParams["pgf.texsystem"]) is None:
        formats.discard("pgf")
    return formats


def check_plot_path(path: Path) -> None:
    """Refuse a path no plot can be written to, before the evaluation it would show is run.

    Without a suffix matplotlib writes ``path.png``, as it always has.
    """
    suffix, formats = path.suffix.lower().removeprefix("."), plot_formats()
    if suffix and suffix not in formats:
        known = ", ".join(f".{s}" for s in sorted(formats))
        raise InvalidInputError(f"{path}: matplotlib cannot write .{suffix} files, only {known}")
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; name a file in it")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InvalidInputError(f"{path}: folder {folder} {what}")
    if not os.access(folder, os.W_OK):
        raise InvalidInputError(f"{path}: folder {folder} is not writable")


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


def plot_abstention(
    rows: Sequence[dict[str, float]], chosen: float, path: Path, title: str
) -> None:
    """Abstention recall and precision, and answerable questions refused, against the
    confidence threshold (rows from ``AnswerReport.sweep``)."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ts = [r["threshold"] for r in rows]
    for key, label, color in (
        ("precision", "abstention precision", "tab:blue"),
        ("recall", "abstention recall (unanswerable refused)", "tab:orange"),
        ("answerable_abstained", "answerable questions refused", "tab:red"),
    ):
        ax.plot(ts, [r[key] for r in rows], label=label, color=color)
    ax.axvline(chosen, color="grey", linestyle="--", label=f"default {chosen:.3f}")
    ax.set_xlabel("min_confidence (abstain when the first answer's confidence is below)")
    ax.set_title(title)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_reliability(
    series: dict[str, Sequence[tuple[float, float, int]]], path: Path, title: str
) -> None:
    """Reliability diagram: accuracy against mean confidence per bin (points sized by count)."""
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for name, points in series.items():
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        sizes = [10 + 200 * p[2] / max(sum(q[2] for q in points), 1) for p in points]
        ax.plot(xs, ys, marker="o", label=name)
        ax.scatter(xs, ys, s=sizes, alpha=0.3)
    ax.set_xlabel("confidence of the first answer (bin mean)")
    ax.set_ylabel("share of first answers that answer")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

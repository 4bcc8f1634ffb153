"""Scoring retrieval quality: the seeds eval set, standard metrics (ranx) and BEIR datasets."""

from pathlib import Path

SEEDS_EVAL = Path(__file__).resolve().parent / "seeds_eval.jsonl"

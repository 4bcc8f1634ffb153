"""The evaluation sets of the answer ranker, each with the archive it is asked of.

| set | archive | train part | test part |
|---|---|---|---|
| seeds | ``seeds/`` | ``eval/seeds_eval.jsonl`` | ``eval/seeds_heldout.jsonl`` |
| news | ``bbc-news/bbc`` (shared) | ``eval/news_dev.jsonl`` | ``eval/news_test.jsonl`` |
| squad | ``../shared/benchmarks/squad2-dev-part`` | 5 articles | ``TEST_ARTICLES`` (3) |

Indexes are cached under ``.qa-beir/`` and brought up to date (only changes are embedded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from eval.dataset import EvalQuestion, load_dataset
from eval.squad import load_squad, split_of
from qa.config import Settings
from qa.engine import QAEngine
from qa.store.sync import sync_folder

__all__ = ["ROOT", "SHARED", "EvalSet", "eval_set", "training_sets"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "benchmarks"
CACHE = ROOT / ".qa-beir"
WEIGHTS = {"seeds": 10.0, "news": 10.0, "squad": 1.0}
"""per-question training weight: the news-like sets are small beside SQuAD"""


@dataclass
class EvalSet:
    name: str
    questions: list[EvalQuestion]
    weight: float
    group: Callable[[EvalQuestion], str]
    """the cross-validation group of a question (its article or topic)"""


def _folder_engine(corpus: Path, index_dir: Path) -> QAEngine:
    settings = Settings(corpus=corpus, index_dir=index_dir, watch=False)
    engine = QAEngine.open(settings, rebuild=True)
    sync_folder(engine, corpus, progress=True)
    engine.live.start_lexical(wait=True)  # rank as a server does
    return engine


def _topic(q: EvalQuestion) -> str:
    doc = q.gold[0].doc_id if q.gold else q.id.removeprefix("news-")
    return "news/" + doc.split("/")[0].split("-")[0]


def eval_set(name: str, part: str, cache: Path = CACHE) -> tuple[EvalSet, QAEngine]:
    """``name`` in seeds, news, squad; ``part`` train or test. The set's archive is indexed in
    ``cache``/seeds, bbc or squad2-part (kept, and brought up to date on the next run)."""
    if name == "seeds":
        path = ROOT / "eval" / ("seeds_eval.jsonl" if part == "train" else "seeds_heldout.jsonl")
        engine = _folder_engine(ROOT / "seeds", cache / "seeds")
        return EvalSet(
            f"seeds-{part}", load_dataset(path), WEIGHTS["seeds"], lambda q: "seeds"
        ), engine
    if name == "news":
        path = ROOT / "eval" / ("news_dev.jsonl" if part == "train" else "news_test.jsonl")
        engine = _folder_engine(SHARED / "bbc-news" / "bbc", cache / "bbc")
        return EvalSet(f"news-{part}", load_dataset(path), WEIGHTS["news"], _topic), engine
    if name == "squad":
        articles, questions, paragraph_of = load_squad(
            SHARED / "squad2-dev-part" / "dev-v2.0-part.json"
        )
        settings = Settings(index_dir=cache / "squad2-part", watch=False)
        engine = QAEngine.open(settings, rebuild=True)
        engine.add(articles, replace=True, progress=True)
        engine.live.start_lexical(wait=True)
        chosen = [q for q in questions if split_of(paragraph_of[q.id]) == part]
        return (
            EvalSet(
                f"squad-{part}",
                chosen,
                WEIGHTS["squad"],
                lambda q: paragraph_of[q.id].split("/")[0],
            ),
            engine,
        )
    raise ValueError(f"unknown eval set {name!r}")


def off_topic(
    data: EvalSet, engine: QAEngine, archive: str, limit: int
) -> tuple[EvalSet, QAEngine]:
    """``data``'s questions asked of another archive: none of them is answered there.

    Every SQuAD question is about its own archive, so without these the ranker would never see
    a question nothing in the archive is about ("Who won the 2018 World Cup?" of the seeds).
    """
    questions = [
        replace(q, id=f"{q.id}@{archive}", answerable=False, gold=(), answer=None)
        for q in data.questions[:limit]
    ]
    return EvalSet(
        f"off-topic:{data.name}@{archive}", questions, data.weight, lambda q: f"off@{archive}"
    ), engine


def training_sets() -> list[tuple[EvalSet, QAEngine]]:
    sets = [eval_set(name, "train") for name in ("seeds", "news", "squad")]
    (seeds, seeds_engine), (news, news_engine), (squad, squad_engine) = sets
    return [
        *sets,
        off_topic(squad, news_engine, "bbc", 300),
        off_topic(squad, seeds_engine, "seeds", 300),
        off_topic(news, squad_engine, "squad", 38),
        off_topic(seeds, squad_engine, "squad", 66),
    ]

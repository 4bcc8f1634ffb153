"""SQuAD 2.0 (the part in ``../shared/benchmarks/squad2-dev-part``) as articles and questions.

Every paragraph is an article (``French_and_Indian_War/007``); every question is asked of the
whole collection. The split is by Wikipedia article, never by question: ``TEST_ARTICLES`` were
fixed before any tuning (the three whose names' sha256 sort first) and nothing is tuned on them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from eval.dataset import EvalQuestion, GoldSpan
from qa.records import Article, Span

__all__ = ["TEST_ARTICLES", "load_squad", "split_of"]


def _sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


TITLES = (
    "1973_oil_crisis",
    "European_Union_law",
    "French_and_Indian_War",
    "Huguenot",
    "Imperialism",
    "Normans",
    "Scottish_Parliament",
    "Warsaw",
)
TEST_ARTICLES = frozenset(sorted(TITLES, key=_sha)[:3])


def split_of(doc_id: str) -> str:
    return "test" if doc_id.split("/", 1)[0] in TEST_ARTICLES else "train"


def load_squad(path: Path) -> tuple[list[Article], list[EvalQuestion], dict[str, str]]:
    """The paragraphs as articles, and every question with its gold answer spans.

    An answerable question's gold spans are its answers' character ranges in the paragraph
    (deduplicated); ``answer`` is the first answer's text. Impossible questions have none.
    The mapping gives each question's paragraph (its article), answerable or not.
    """
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    paragraph_of: dict[str, str] = {}
    for entry in data:
        title = entry["title"]
        for i, paragraph in enumerate(entry["paragraphs"]):
            doc_id = f"{title}/{i:03d}"
            text = paragraph["context"]
            articles.append(
                Article(doc_id, title.replace("_", " "), text, source="Wikipedia (SQuAD 2.0)")
            )
            for qa in paragraph["qas"]:
                spans = {
                    (a["answer_start"], a["answer_start"] + len(a["text"]))
                    for a in qa.get("answers", [])
                }
                gold = tuple(GoldSpan(doc_id, Span(s, e), text[s:e]) for s, e in sorted(spans))
                answerable = not qa.get("is_impossible", False) and bool(gold)
                paragraph_of[qa["id"]] = doc_id
                questions.append(
                    EvalQuestion(
                        qa["id"],
                        qa["question"],
                        gold[0].text if answerable else None,
                        "squad",
                        answerable,
                        gold if answerable else (),
                    )
                )
    return articles, questions, paragraph_of

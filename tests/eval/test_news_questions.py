"""The BBC news question sets: gold spans verified against the archive, split by article."""

from pathlib import Path

import pytest

from eval.check_gold import check_file, gold_doc_ids
from tests.conftest import ROOT

BBC = ROOT.parent / "shared" / "benchmarks" / "bbc-news" / "bbc"
DEV = ROOT / "eval" / "news_dev.jsonl"
TEST = ROOT / "eval" / "news_test.jsonl"
TOPICS = {"business", "entertainment", "politics", "sport", "tech"}

pytestmark = pytest.mark.skipif(
    not BBC.is_dir(), reason="../shared/benchmarks/bbc-news is not beside this checkout"
)


@pytest.mark.parametrize(
    ("path", "min_answerable", "min_unanswerable"), [(DEV, 30, 6), (TEST, 40, 8)]
)
def test_news_questions_are_valid_and_cover_every_topic(
    path: Path, min_answerable: int, min_unanswerable: int
) -> None:
    questions, problems = check_file(path, BBC)
    assert problems == []
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= min_answerable
    assert len(questions) - len(answerable) >= min_unanswerable
    assert {d.split("/")[0] for d in gold_doc_ids(questions)} == TOPICS
    per_article: dict[str, int] = {}
    for q in answerable:
        for doc_id in {g.doc_id for g in q.gold}:
            per_article[doc_id] = per_article.get(doc_id, 0) + 1
    assert max(per_article.values()) <= 2, "at most 2 questions per article"
    paraphrases = sum(q.kind == "paraphrase" for q in answerable)
    assert paraphrases * 3 >= len(answerable), "at least a third should be paraphrases"


def test_dev_and_test_cite_disjoint_articles() -> None:
    dev, dev_problems = check_file(DEV, BBC)
    test, test_problems = check_file(TEST, BBC)
    assert dev_problems == test_problems == []
    assert gold_doc_ids(dev).isdisjoint(gold_doc_ids(test))
    assert {q.id for q in dev}.isdisjoint({q.id for q in test})

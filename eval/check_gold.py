"""Check eval question files against the articles they cite, read as the service reads them.

    python -m eval.check_gold eval/news_dev.jsonl eval/news_test.jsonl \\
        --corpus ../shared/benchmarks/bbc-news/bbc

Each file is loaded with ``eval.dataset.load_dataset``; every cited article is read with the
project's own reader (``qa.ingest.corpus.read_file``, so ids, text and offsets are exactly what the
service stores) and ``eval.dataset.validate`` checks that each gold span's text is at its offsets,
that each answer string lies inside its gold text, that answerable questions (only) have gold
spans and that ids are unique. Every problem is printed as ``FILE:LINE: ID: problem``; the exit
status is 1 if there is any, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from eval.dataset import EvalQuestion, load_dataset, validate
from qa.errors import InvalidInputError
from qa.ingest.corpus import article_files, doc_id_for, read_file
from qa.records import Article

__all__ = ["check_file", "gold_doc_ids", "load_articles", "main"]


def gold_doc_ids(questions: Iterable[EvalQuestion]) -> set[str]:
    """The ids of every article cited as gold evidence by ``questions``."""
    return {g.doc_id for q in questions for g in q.gold}


def load_articles(corpus: Path, doc_ids: Iterable[str]) -> dict[str, Article]:
    """The articles of ``corpus`` whose ids are in ``doc_ids``, read with the service's reader.

    An id with no readable file (absent, or skipped by the reader) is simply not in the result,
    so the validator reports it as an unknown doc_id.
    """
    wanted = set(doc_ids)
    files, _ = article_files(corpus)
    articles: dict[str, Article] = {}
    for path in files:
        if doc_id_for(path, corpus) not in wanted:
            continue
        for article in read_file(path, root=corpus).articles:
            if article.doc_id in wanted:
                articles.setdefault(article.doc_id, article)
    return articles


def _line_of_ids(path: Path) -> dict[str, int]:
    """Line number of each question id in ``path`` (the first, if an id repeats)."""
    lines: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            lines.setdefault(str(json.loads(line)["id"]), lineno)
    return lines


def check_file(path: Path, corpus: Path) -> tuple[list[EvalQuestion], list[str]]:
    """The questions of ``path`` and its problems, each as ``FILE:LINE: ID: problem``."""
    try:
        questions = load_dataset(path)
    except InvalidInputError as exc:
        return [], [str(exc)]
    articles = load_articles(corpus, gold_doc_ids(questions))
    lines = _line_of_ids(path)
    problems = []
    for problem in validate(questions, articles):
        qid = problem.split(":", 1)[0]
        problems.append(f"{path}:{lines.get(qid, 0)}: {problem}")
    return questions, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="eval question files (JSONL)")
    parser.add_argument(
        "--corpus", type=Path, required=True, help="folder of the articles the gold spans cite"
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus {args.corpus} is not a folder", file=sys.stderr)
        return 2
    failed = False
    for path in args.files:
        questions, problems = check_file(path, args.corpus)
        for problem in problems:
            print(problem)
        if problems:
            failed = True
            print(f"FAIL {path}: {len(problems)} problem(s)")
            continue
        answerable = sum(q.answerable for q in questions)
        spans = sum(len(q.gold) for q in questions)
        print(
            f"OK {path}: {len(questions)} questions ({answerable} answerable, "
            f"{len(questions) - answerable} unanswerable), {spans} gold spans verified "
            f"in {len(gold_doc_ids(questions))} articles"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

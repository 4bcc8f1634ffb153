from pathlib import Path

import pytest

from eval import SEEDS_EVAL
from eval.dataset import load_dataset, validate
from qa.errors import InvalidInputError
from qa.ingest.corpus import load_corpus
from tests.conftest import SEEDS


def test_seed_eval_set_is_valid_and_covers_what_it_should() -> None:
    questions = load_dataset(SEEDS_EVAL)
    articles = {a.doc_id: a for a in load_corpus(SEEDS)}
    assert validate(questions, articles) == []
    answerable = [q for q in questions if q.answerable]
    assert len(questions) >= 50 and len(questions) - len(answerable) >= 10
    kinds = {q.kind for q in questions}
    assert {"who", "where", "when", "number", "quote", "paraphrase", "off-topic", "absent"} <= kinds
    docs_per_question = [{g.doc_id for g in q.gold} for q in answerable]
    assert any(d == {"000_fcec8ea6051c7915"} for d in docs_per_question)
    assert any(d == {"004_e9619e141d084609"} for d in docs_per_question)
    assert any(len(d) == 2 for d in docs_per_question)


def test_validator_reports_moved_spans_and_unknown_docs(tmp_path: Path) -> None:
    articles = {a.doc_id: a for a in load_corpus(SEEDS)}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "x", "question": "q?", "answer": "SECRET", "kind": "fact", "answerable": true, '
        '"gold": [{"doc_id": "000_fcec8ea6051c7915", "start_char": 1, "end_char": 7, "text": "SECRET"}]}\n'
        '{"id": "y", "question": "q?", "answer": "a", "kind": "fact", "answerable": true, '
        '"gold": [{"doc_id": "nope", "start_char": 0, "end_char": 1, "text": "a"}]}\n',
        encoding="utf-8",
    )
    problems = validate(load_dataset(bad), articles)
    assert problems[0].startswith("x: 000_fcec8ea6051c7915[1:7] is 'ECRET ', not 'SECRET'")
    assert "y: unknown doc_id 'nope'" in problems


def test_malformed_dataset_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"bad.jsonl:1: bad eval question"):
        load_dataset(bad)

import json
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


SPAN = {"doc_id": "d", "start_char": 0, "end_char": 1, "text": "a"}
GOOD = {
    "id": "q1",
    "question": "Who?",
    "answer": "a",
    "kind": "who",
    "answerable": True,
    "gold": [SPAN],
}


def _with_gold(**fields: object) -> dict[str, object]:
    return {**GOOD, "gold": [{**SPAN, **fields}]}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**GOOD, "question": 5}, r"'question' must be a string, not 5\)"),
        ({**GOOD, "id": ["q1"]}, r"'id' must be a string, not \[\"q1\"\]\)"),
        ({**GOOD, "answer": 3}, r"'answer' must be a string, not 3\)"),
        ({**GOOD, "kind": None}, r"'kind' must be a string, not null\)"),
        ({**GOOD, "answerable": "false"}, r"'answerable' must be true or false, not \"false\"\)"),
        ({**GOOD, "gold": {}}, r"'gold' must be a list, not \{\}\)"),
        ({**GOOD, "gold": ["d"]}, r"gold\[0\]: \"d\" is not a JSON object\)"),
        (_with_gold(doc_id=7), r"gold\[0\]: 'doc_id' must be a string, not 7\)"),
        (_with_gold(start_char="0"), r"gold\[0\]: 'start_char' must be an integer, not \"0\"\)"),
        (_with_gold(end_char=True), r"gold\[0\]: 'end_char' must be an integer, not true\)"),
        (_with_gold(start_char=2), r"gold\[0\]: bad span \[2, 1\)\)"),
        (_with_gold(text=None), r"gold\[0\]: 'text' must be a string, not null\)"),
        ({**GOOD, "question": " "}, r"'id' and 'question' must not be empty\)"),
        (["q1"], r"\[\"q1\"\] is not a JSON object\)"),
    ],
)
def test_dataset_fields_of_the_wrong_type_are_named(
    record: object, message: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"bad.jsonl:2: bad eval question \(" + message):
        load_dataset(bad)


def test_a_missing_or_null_answer_is_none(tmp_path: Path) -> None:
    ok = tmp_path / "ok.jsonl"
    rows = [
        GOOD,
        {**GOOD, "id": "q2", "answer": None},
        {k: v for k, v in GOOD.items() if k != "answer"},
    ]
    ok.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert [q.answer for q in load_dataset(ok)] == ["a", None, None]


def test_a_question_may_hold_line_separators(tmp_path: Path) -> None:
    """U+2028 and U+0085 are text inside a JSON string, not line ends (str.splitlines cut there)."""
    ok = tmp_path / "ok.jsonl"
    question = "Who\u2028said\x85it?"
    ok.write_text(json.dumps({**GOOD, "question": question}, ensure_ascii=False) + "\n", "utf-8")
    assert [q.question for q in load_dataset(ok)] == [question]


@pytest.mark.parametrize(
    ("line", "message"),
    [("[" * 100_000, "nested too deeply"), ("9" * 5000, "Exceeds the limit")],
)
def test_hostile_json_is_a_named_line(line: str, message: str, tmp_path: Path) -> None:
    """Deep nesting (a RecursionError to json) and huge numbers were tracebacks."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"bad.jsonl:2: bad eval question \(JSON "):
        load_dataset(bad)
    with pytest.raises(InvalidInputError, match=message):
        load_dataset(bad)

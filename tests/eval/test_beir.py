import json
from pathlib import Path

import pytest

from eval.beir import load_beir
from qa.errors import InvalidInputError

CORPUS = (
    '{"_id": "d1", "title": "Frogs", "text": "A new frog species was found in Peru."}\n'
    '{"_id": 2, "text": "Leeds approved a new bridge."}\n'
)
QUERIES = (
    '{"_id": "q1", "text": "Where was the frog found?"}\n'
    '{"_id": "q2", "text": "Which city approved a bridge?"}\n'
    '{"_id": "q3", "text": "Never judged"}\n'
)
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\t2\t2\nq2\td1\t0\n"


def beir_folder(
    folder: Path, corpus: str = CORPUS, queries: str = QUERIES, qrels: str | bytes = QRELS
) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (folder / "queries.jsonl").write_text(queries, encoding="utf-8")
    tsv = folder / "qrels" / "test.tsv"
    if isinstance(qrels, bytes):
        tsv.write_bytes(qrels)
    else:
        tsv.write_text(qrels, encoding="utf-8")
    return folder


def test_load_beir_keeps_judged_queries_and_positive_grades(tmp_path: Path) -> None:
    data = load_beir(beir_folder(tmp_path / "tiny", qrels=QRELS + "\n"))  # a blank last row
    assert [(a.doc_id, a.title, a.text) for a in data.articles] == [
        ("d1", "Frogs", "Frogs A new frog species was found in Peru."),
        ("2", "", "Leeds approved a new bridge."),  # a numeric id is read as its digits
    ]
    assert data.queries == {
        "q1": "Where was the frog found?",
        "q2": "Which city approved a bridge?",
    }
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"2": 2}}


def _record(**fields: object) -> str:
    return json.dumps(fields) + "\n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"corpus": CORPUS + '{"_id": "d3", "title": \n'}, r"corpus.jsonl:3: not valid JSON \("),
        ({"corpus": CORPUS + "\n" + '["d3"]\n'}, r"corpus.jsonl:4: not a JSON object"),
        (
            {"corpus": CORPUS + "[" * 100_000 + "\n"},
            r"corpus.jsonl:3: JSON nested too deeply",
        ),
        (
            {"corpus": CORPUS + "9" * 5000 + "\n"},
            r"corpus.jsonl:3: JSON this reader refuses \(Exceeds",
        ),
        ({"corpus": CORPUS + _record(title="x", text="y")}, r"corpus.jsonl:3: no '_id'"),
        ({"corpus": "\n"}, r"corpus.jsonl holds no document"),
        (
            {"corpus": _record(_id="d1", title=["Frogs"])},
            r"corpus.jsonl:1: 'title' must be a string, not \[\"Frogs\"\]",
        ),
        ({"corpus": CORPUS + _record(_id="d1")}, r"corpus.jsonl:3: _id 'd1' is already on line 1"),
        ({"queries": _record(_id="q1")}, r"queries.jsonl:1: no 'text'"),
        ({"queries": _record(_id="q1", text=5)}, r"queries.jsonl:1: 'text' must be a non-empty"),
        ({"queries": _record(_id="", text="x")}, r"'_id' must be a non-empty string, not \"\""),
        ({"qrels": QRELS + "q1\td1\n"}, r"test.tsv:5: 2 tab-separated columns, not 3"),
        ({"qrels": QRELS + "q1\td1\thigh\n"}, r"test.tsv:5: score 'high' is not an integer"),
        ({"qrels": "query-id\tcorpus-id\tscore\nq1\td1\t0\n"}, r"test.tsv judges no document"),
        (
            {"qrels": "query-id\tcorpus-id\tscore\nq9\td1\t1\n"},
            r"no query of .*queries.jsonl is judged in .*test.tsv \(its first query-id is 'q9'\)",
        ),
        ({"qrels": b"query-id\tcorpus-id\tscore\nq1\td1\t1\xff\n"}, r"test.tsv is not UTF-8"),
    ],
)
def test_malformed_beir_files_are_named_with_the_line(
    files: dict[str, str], message: str, tmp_path: Path
) -> None:
    folder = beir_folder(tmp_path / "bad", **files)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=message):
        load_beir(folder)

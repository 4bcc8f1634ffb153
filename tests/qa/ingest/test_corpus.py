import json
from pathlib import Path

import pytest

from qa.ingest.corpus import corpus_hash, load_corpus
from qa.errors import CorpusError
from tests.conftest import SEEDS


def test_seed_files_load_unchanged_with_derived_titles() -> None:
    articles = load_corpus(SEEDS)
    assert [a.doc_id for a in articles] == ["000_fcec8ea6051c7915", "004_e9619e141d084609"]
    for a in articles:
        assert a.text == (SEEDS / f"{a.doc_id}.txt").read_text(encoding="utf-8")
    assert articles[1].title.startswith("Iran refused to formally enter the war")
    assert articles[0].source == "seeds/000_fcec8ea6051c7915.txt"


def test_jsonl_articles(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [
        {
            "id": "a1",
            "text": "Body one.",
            "title": "T1",
            "url": "https://x.test/1",
            "metadata": {"k": 1},
        },
        {"id": 7, "text": "The second headline has six words\nBody two."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    a, b = load_corpus(path)
    assert (a.doc_id, a.title, a.url, a.metadata) == ("a1", "T1", "https://x.test/1", {"k": 1})
    assert (b.doc_id, b.title) == ("7", "The second headline has six words")
    assert b.source.endswith("c.jsonl#L2")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"text": "x"}', "non-empty 'id'"),
        ('{"id": "a"}', "string 'text'"),
        ("[1, 2]", "JSON object"),
        ('{"id": "a", "text": "x", "title": 3}', "'title' must be a string"),
    ],
)
def test_bad_jsonl_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=rf"bad.jsonl:1: .*{message}"):
        load_corpus(path)


def test_missing_empty_and_duplicate_corpora(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no articles"):
        load_corpus(tmp_path)
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    (tmp_path / "a.md").write_text("y", encoding="utf-8")
    with pytest.raises(CorpusError, match="duplicate doc_id 'a'"):
        load_corpus(tmp_path)


def test_crlf_is_kept_so_offsets_index_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"Line one.\r\nLine two.\r\n")
    (article,) = load_corpus(tmp_path)
    assert article.text == "Line one.\r\nLine two.\r\n"


def test_corpus_hash_follows_content_not_location(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Same text.", encoding="utf-8")
    first = corpus_hash(load_corpus(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("Same text.", encoding="utf-8")
    assert corpus_hash(load_corpus(other)) == first
    (other / "a.txt").write_text("Changed text.", encoding="utf-8")
    assert corpus_hash(load_corpus(other)) != first

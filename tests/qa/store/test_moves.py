"""An article whose content is unchanged but which is read from elsewhere (a file renamed, a JSON
Lines line that moved, the same text written through the API) keeps its vectors and passages and
gets its new ``origin``: in the store, and in the citations of answers, whatever was cached."""

from __future__ import annotations

import json
import os
from pathlib import Path

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Article
from qa.store.sync import sync_folder

QUESTION = "When did the lighthouse keeper retire?"
LINE = {
    "id": "keeper",
    "title": "Lighthouse keeper retires",
    "text": "The old lighthouse keeper retired in 1999 after forty years on the island.",
}


def passage_ids(engine: QAEngine) -> list[int]:
    return [h.passage.passage_id for h in engine.search("lighthouse keeper", 5, mode="bm25")]


def cited_origin(engine: QAEngine) -> str | None:
    answers = engine.ask(QUESTION, 1, abstain=False).answers
    assert answers and answers[0].article.doc_id == "keeper"
    return answers[0].article.origin


def synced_feed(engine: QAEngine, tmp_path: Path, name: str) -> Path:
    """A corpus folder holding LINE in the JSON Lines file ``name``, synced."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text(json.dumps(LINE) + "\n", encoding="utf-8")
    sync_folder(engine, corpus)
    return corpus


def test_a_moved_line_gets_its_new_origin_without_being_written_again(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = synced_feed(engine, tmp_path, "monday.jsonl")
    before = passage_ids(engine)
    assert cited_origin(engine) == f"{corpus / 'monday.jsonl'}#L1"  # now in the answer cache

    other = {"id": "other", "text": "A second line now comes first in the feed."}
    (corpus / "tuesday.jsonl").write_text(
        json.dumps(other) + "\n" + json.dumps(LINE) + "\n", encoding="utf-8"
    )
    (corpus / "monday.jsonl").unlink()
    report = sync_folder(engine, corpus)

    assert report.added == ["other"] and report.deleted == [] and report.replaced == []
    moved = f"{corpus / 'tuesday.jsonl'}#L2"
    assert engine.document("keeper").origin == moved
    assert cited_origin(engine) == moved
    assert passage_ids(engine) == before  # the same rows: nothing embedded again
    assert engine.live.problems() == []


def test_a_renamed_file_is_cited_at_its_new_path(engine: QAEngine, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "---\nid: keeper\n---\n" + LINE["title"] + "\n" + LINE["text"] + "\n"
    (corpus / "draft.md").write_text(text, encoding="utf-8")
    sync_folder(engine, corpus)
    assert cited_origin(engine) == str(corpus / "draft.md")
    os.rename(corpus / "draft.md", corpus / "final.md")
    assert sync_folder(engine, corpus).unchanged == 1
    assert cited_origin(engine) == str(corpus / "final.md")


def test_the_same_text_written_through_the_api_is_no_longer_cited_as_a_file(
    engine: QAEngine, tmp_path: Path
) -> None:
    synced_feed(engine, tmp_path, "feed.jsonl")
    assert cited_origin(engine) is not None
    article = Article(doc_id="keeper", title=LINE["title"], text=LINE["text"])
    assert engine.add([article], replace=True).unchanged == ["keeper"]
    assert engine.document("keeper").origin is None
    assert cited_origin(engine) is None


def test_a_move_made_by_another_process_reaches_a_serving_engines_answers(
    tmp_path: Path,
) -> None:
    """The server's cache of prepared articles does not keep the origin a `qa index` run in
    another process has since changed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(json.dumps(LINE) + "\n", encoding="utf-8")
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index", watch=False)
    serving = QAEngine.open(settings, HashingEmbedder())
    try:
        sync_folder(serving, corpus)
        assert cited_origin(serving) == f"{corpus / 'a.jsonl'}#L1"
        os.rename(corpus / "a.jsonl", corpus / "b.jsonl")
        indexing = QAEngine.open(settings, HashingEmbedder())
        try:
            assert sync_folder(indexing, corpus).unchanged == 1
        finally:
            indexing.close()
        assert cited_origin(serving) == f"{corpus / 'b.jsonl'}#L1"
    finally:
        serving.close()

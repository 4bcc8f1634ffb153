"""An article deleted directly stays deleted whichever files hold its id: a file that lost the id
to another file (a duplicate, read again at each sync) does not bring it back until it changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from qa.engine import QAEngine
from qa.store.sync import sync_folder
from tests.conftest import write_corpus
from tests.qa.store.conftest import stored

QUAKE = "Earthquake shakes coastal town\nA quake of magnitude 5 shook Porto Vale at dawn.\n"
HARVEST = "Record grape harvest\nVineyards in the valley picked a record crop this year.\n"
FOREST = "Forest fire contained\nCrews contained a forest fire north of the valley overnight.\n"


def touch_later(path: Path) -> None:
    """A new modification time, whatever the file system's clock resolution."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def feed(*rows: tuple[str, str]) -> str:
    return "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows)


def two_holders(tmp_path: Path) -> Path:
    """A corpus where a.jsonl and b.jsonl both hold the id ``story``: a.jsonl wins it."""
    files = {"a.jsonl": feed(("story", QUAKE)), "b.jsonl": feed(("story", HARVEST))}
    return write_corpus(tmp_path / "corpus", files)


def test_a_deleted_id_is_not_brought_back_by_the_duplicate_that_lost_it(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = two_holders(tmp_path)
    report = sync_folder(engine, corpus)
    assert "duplicate id 'story' (first in a.jsonl)" in report.skipped[0].reason
    engine.delete(["story"])  # DELETE /documents/story
    (corpus / "forest.txt").write_text(FOREST, encoding="utf-8")  # an unrelated file
    assert sync_folder(engine, corpus).added == ["forest"]
    assert sync_folder(engine, corpus, force=True).added == []  # --force agrees
    assert stored(engine) == {"forest"}
    assert sync_folder(engine, corpus).files_read == 0  # the clash is over: nothing read again
    touch_later(corpus / "b.jsonl")  # the file that holds it changed: its article is back
    assert sync_folder(engine, corpus).added == ["story"]
    assert engine.document("story").text == HARVEST
    assert engine.live.problems() == []


def test_a_duplicate_still_takes_the_id_when_its_holder_goes(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = two_holders(tmp_path)
    sync_folder(engine, corpus)
    (corpus / "forest.txt").write_text(FOREST, encoding="utf-8")
    sync_folder(engine, corpus)  # b.jsonl, read again unchanged, still waits for the id
    (corpus / "a.jsonl").unlink()
    sync_folder(engine, corpus)
    assert engine.document("story").text == HARVEST
    assert sync_folder(engine, corpus).files_read == 0


def test_a_file_article_written_directly_is_not_taken_by_its_duplicate_once_deleted(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = two_holders(tmp_path)
    sync_folder(engine, corpus)
    story = engine.document("story")
    engine.add([story], replace=True)  # a PUT of the same article: the writer's now
    engine.delete(["story"])
    sync_folder(engine, corpus)
    assert stored(engine) == set()

"""Who owns an article: the corpus file that holds its id, or whoever wrote it directly (HTTP,
``qa add``). The folder sync never replaces or deletes a directly written article, a deleted one
stays deleted until its file changes, and of two files holding one id the same one wins however
many files a sync reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa.engine import QAEngine
from qa.errors import CorpusError
from qa.ingest.corpus import read_corpus
from qa.records import Article
from qa.store.db import PENDING
from qa.store.sync import sync_folder
from tests.conftest import write_corpus
from tests.qa.store.conftest import stored

QUAKE = "Earthquake shakes coastal town\nA quake of magnitude 5 shook Porto Vale at dawn.\n"
HARVEST = "Record grape harvest\nVineyards in the valley picked a record crop this year.\n"
API_TEXT = "Ferry strike ends\nFerry crews returned to work on Monday after a pay deal.\n"


def text_of(engine: QAEngine, doc_id: str) -> str:
    return engine.document(doc_id).text


def touch_later(path: Path) -> None:
    """A new modification time, whatever the file system's clock resolution."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def feed(*rows: tuple[str, str]) -> str:
    return "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows)


def test_a_file_never_replaces_or_deletes_an_article_written_through_the_api(
    engine: QAEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE})
    sync_folder(engine, corpus)
    engine.add([Article(doc_id="ferry", title="Ferry", text=API_TEXT)], replace=True)  # PUT
    (corpus / "ferry.txt").write_text(HARVEST, encoding="utf-8")
    report = sync_folder(engine, corpus)
    assert text_of(engine, "ferry") == API_TEXT  # the file was skipped, with a warning
    assert [s.reason for s in report.skipped] == [
        "id 'ferry' belongs to an article written through the API or `qa add`: delete that "
        "one, or give this one another id"
    ]
    (corpus / "ferry.txt").unlink()
    sync_folder(engine, corpus)
    assert stored(engine) == {"quake", "ferry"}  # it was never the file's to delete
    assert text_of(engine, "ferry") == API_TEXT
    (corpus / "ferry.txt").write_text(HARVEST, encoding="utf-8")
    sync_folder(engine, corpus)
    engine.delete(["ferry"])  # the API's article deleted: the file's takes the id at next sync
    assert sync_folder(engine, corpus).added == ["ferry"]
    assert text_of(engine, "ferry") == HARVEST


def test_a_put_over_a_file_article_makes_it_the_writers(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE, "harvest.txt": HARVEST})
    sync_folder(engine, corpus)
    engine.add([Article(doc_id="harvest", title="Harvest", text=API_TEXT)], replace=True)
    (corpus / "harvest.txt").write_text(HARVEST + "More rain is due.\n", encoding="utf-8")
    sync_folder(engine, corpus)
    assert text_of(engine, "harvest") == API_TEXT
    (corpus / "harvest.txt").unlink()
    sync_folder(engine, corpus)
    assert text_of(engine, "harvest") == API_TEXT
    assert engine.live.problems() == []


def test_a_file_takes_over_the_same_article_added_with_qa_add(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE})
    sync_folder(engine, corpus)
    outside = write_corpus(tmp_path / "outside", {"harvest.txt": HARVEST})
    engine.add(read_corpus(outside / "harvest.txt").articles, replace=True)  # `qa add`
    (corpus / "harvest.txt").write_text(HARVEST, encoding="utf-8")
    report = sync_folder(engine, corpus)  # the same article: the file holds it from now on
    assert report.skipped == [] and report.added == [] and report.unchanged == 1
    (corpus / "harvest.txt").unlink()
    assert sync_folder(engine, corpus).deleted == ["harvest"]


def test_a_file_in_a_subfolder_takes_over_the_same_article_added_with_qa_add(
    engine: QAEngine, tmp_path: Path
) -> None:
    """`qa add corpus/sub/feed.jsonl` reads it without the ``metadata.folder`` the folder gives
    it: the folder still takes it over (it was skipped as another writer's article, and the
    feed was read again at every sync)."""
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE})
    write_corpus(corpus / "sub", {"feed.jsonl": feed(("story", HARVEST))})
    engine.add(read_corpus(corpus / "sub" / "feed.jsonl").articles, replace=True)  # `qa add`
    report = sync_folder(engine, corpus)
    assert report.skipped == [] and report.replaced == ["story"]
    assert engine.document("story").metadata == {"folder": "sub"}
    assert not any(stamp.startswith(PENDING) for stamp, _ in engine.store.files().values())
    assert sync_folder(engine, corpus).files_read == 0
    (corpus / "sub" / "feed.jsonl").unlink()
    assert sync_folder(engine, corpus).deleted == ["story"]


def test_of_two_files_holding_one_id_the_one_that_held_it_first_keeps_it(
    engine: QAEngine, tmp_path: Path
) -> None:
    # z.jsonl holds "story" first; a.jsonl, first in path order, gets the same id later
    corpus = write_corpus(tmp_path / "corpus", {"z.jsonl": feed(("story", QUAKE))})
    sync_folder(engine, corpus)
    (corpus / "a.jsonl").write_text(feed(("story", HARVEST), ("other", API_TEXT)), "utf-8")
    report = sync_folder(engine, corpus)
    assert text_of(engine, "story") == QUAKE
    assert [s.path.rsplit("/", 1)[-1] for s in report.skipped] == ["a.jsonl:1"]
    assert "duplicate id 'story' (first in z.jsonl)" in report.skipped[0].reason
    assert sync_folder(engine, corpus, force=True).added == []
    assert text_of(engine, "story") == QUAKE  # --force reads all, and decides the same
    (corpus / "z.jsonl").unlink()  # the holder gone: the other file's article takes the id
    sync_folder(engine, corpus)
    assert text_of(engine, "story") == HARVEST
    assert not sync_folder(engine, corpus).changed  # and the clash is over: nothing read again
    assert sync_folder(engine, corpus).files_read == 0
    assert engine.live.problems() == []


def test_an_article_deleted_directly_stays_deleted_until_its_file_changes(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE, "harvest.txt": HARVEST})
    sync_folder(engine, corpus)
    engine.delete(["harvest"])  # DELETE /documents/harvest, `qa delete harvest`
    assert not sync_folder(engine, corpus).changed
    assert not sync_folder(engine, corpus, force=True).changed  # --force agrees
    assert stored(engine) == {"quake"}
    touch_later(corpus / "harvest.txt")  # the file changed: its article is back
    assert sync_folder(engine, corpus).added == ["harvest"]


def test_a_forced_sync_leaves_no_file_pending(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE, "harvest.txt": HARVEST})
    sync_folder(engine, corpus)
    sync_folder(engine, corpus, force=True)
    assert PENDING not in {stamp for stamp, _ in engine.store.files().values()}
    assert sync_folder(engine, corpus).files_read == 0  # was: every file read again


def test_a_corpus_that_is_no_article_file_deletes_nothing(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE})
    sync_folder(engine, corpus)
    (tmp_path / "feed.json").write_text(feed(("x", HARVEST)), encoding="utf-8")
    with pytest.raises(CorpusError, match="corpus files must end in"):
        sync_folder(engine, tmp_path / "feed.json")
    assert stored(engine) == {"quake"}


@pytest.mark.parametrize("swap", ["fifo", "link to /dev/null"])
def test_a_corpus_folder_swapped_for_a_fifo_or_a_device_deletes_nothing(
    engine: QAEngine, tmp_path: Path, swap: str
) -> None:
    """Was: read as an empty one-file corpus, and every article of the folder was deleted."""
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE, "harvest.txt": HARVEST})
    sync_folder(engine, corpus)
    corpus.rename(tmp_path / "corpus.old")
    if swap == "fifo":
        os.mkfifo(corpus)
    else:
        corpus.symlink_to("/dev/null")
    kind = "a FIFO" if swap == "fifo" else "a character device"
    with pytest.raises(CorpusError, match=rf"is not a folder or a regular file \({kind}\)"):
        sync_folder(engine, corpus)
    assert stored(engine) == {"quake", "harvest"}


def test_a_link_to_nothing_is_skipped_with_a_reason(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE})
    (corpus / "link.txt").symlink_to(tmp_path / "nowhere.txt")
    report = sync_folder(engine, corpus)
    assert [(s.path, s.reason) for s in report.skipped] == [("link.txt", "a link to nothing")]
    assert stored(engine) == {"quake"}


def test_a_one_file_corpus_whose_name_is_not_utf8_is_refused(
    engine: QAEngine, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"quake.txt": QUAKE})
    sync_folder(engine, corpus)
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.txt"))
    odd.write_text(HARVEST, encoding="utf-8")
    with pytest.raises(CorpusError, match="not valid UTF-8"):
        sync_folder(engine, odd)
    assert stored(engine) == {"quake"}

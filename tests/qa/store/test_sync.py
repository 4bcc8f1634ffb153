"""Folder sync: a sync stopped after writing articles, before recording its files, leaves nothing
that a later sync cannot trace back to a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import qa.ingest.corpus as corpus_module
from qa.engine import QAEngine, WriteResult
from qa.records import Article
from qa.store.db import PENDING, waiting_of
from qa.store.sync import sync_folder
from tests.conftest import write_corpus
from tests.qa.store.conftest import stored

FILES = {
    "quake.txt": "Earthquake shakes coastal town\nA quake of magnitude 5 shook Porto Vale at dawn.\n",
    "harvest.txt": "Record grape harvest\nVineyards in the valley picked a record crop this year.\n",
    "bridge.txt": "Bridge reopens after repairs\nThe old stone bridge reopened to traffic on Friday.\n",
}


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (not an Exception, so no handler catches it)."""


def killed_after(
    step: str,
    engine: QAEngine,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    force: bool = False,
    done: bool = True,
) -> None:
    """A sync of ``corpus`` that dies in the engine's ``step`` ("add" or "delete"), after it
    committed (``done``) or before, and so before recording its files."""
    real = getattr(engine, step)

    def then_die(*args: object, **kwargs: object) -> WriteResult:
        if done:
            real(*args, **kwargs)
        raise Killed

    monkeypatch.setattr(engine, step, then_die)
    with pytest.raises(Killed):
        sync_folder(engine, corpus, force=force)
    monkeypatch.undo()


def killed_after_writing(
    engine: QAEngine, corpus: Path, monkeypatch: pytest.MonkeyPatch, *, force: bool = False
) -> None:
    """A sync of ``corpus`` that commits its articles and dies before recording its files."""
    killed_after("add", engine, corpus, monkeypatch, force=force)


def test_a_file_removed_after_a_killed_sync_leaves_no_article(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus", FILES)
    killed_after_writing(engine, corpus, monkeypatch)
    assert stored(engine) == {"quake", "harvest", "bridge"}  # written, the files not yet recorded
    # each file marked pending, with the stamp it was read at
    assert all(waiting_of(stamp) is not None for stamp, _ in engine.store.files().values())
    (corpus / "harvest.txt").unlink()
    report = sync_folder(engine, corpus)
    assert stored(engine) == {"quake", "bridge"}
    assert report.deleted == ["harvest"]
    assert report.added == []  # the others were written by the killed sync and are unchanged
    assert engine.live.problems() == []
    assert not engine.search("record grape harvest valley", 3, mode="bm25")


def test_a_new_file_renamed_after_a_killed_sync_keeps_only_its_new_id(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus", FILES)
    sync_folder(engine, corpus)
    (corpus / "ferry.txt").write_text("Ferry strike ends\nFerry crews returned to work today.\n")
    killed_after_writing(engine, corpus, monkeypatch)
    assert "ferry" in stored(engine)
    (corpus / "ferry.txt").rename(corpus / "ferry-strike.txt")
    report = sync_folder(engine, corpus)
    assert stored(engine) == {"quake", "harvest", "bridge", "ferry-strike"}
    assert report.deleted == ["ferry"]
    assert report.added == ["ferry-strike"]


def feed(*ids: str) -> str:
    return "".join(
        json.dumps({"id": i, "title": f"Story {i}", "text": f"Story {i}\nThe {i} story in full."})
        + "\n"
        for i in ids
    )


def test_a_feed_rewritten_after_a_killed_sync_drops_what_it_no_longer_holds(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"feed.jsonl": feed("alpha", "bravo")})
    sync_folder(engine, corpus)
    (corpus / "feed.jsonl").write_text(feed("alpha", "charlie"))
    killed_after_writing(engine, corpus, monkeypatch)  # charlie written, bravo still there
    assert stored(engine) == {"alpha", "bravo", "charlie"}
    (corpus / "feed.jsonl").write_text(feed("alpha", "delta"))
    report = sync_folder(engine, corpus)
    assert stored(engine) == {"alpha", "delta"}
    assert report.deleted == ["bravo", "charlie"]
    assert engine.live.problems() == []


def test_a_completed_sync_leaves_no_file_pending(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", FILES)
    sync_folder(engine, corpus)
    (corpus / "quake.txt").write_text(FILES["quake.txt"] + "No one was hurt.\n")
    report = sync_folder(engine, corpus)
    assert report.replaced == ["quake"]
    files = engine.store.files()
    assert not any(stamp.startswith(PENDING) for stamp, _ in files.values())
    assert sorted(ids[0] for _, ids in files.values()) == ["bridge", "harvest", "quake"]
    assert sync_folder(engine, corpus).files_read == 0  # recorded: nothing is read again


def test_an_article_deleted_directly_stays_deleted_after_a_killed_forced_sync(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qa delete bravo`, then `qa index --force` killed while writing: the feed did not change,
    so bravo stays deleted at the next sync (it came back: the pending mark lost the stamp)."""
    corpus = write_corpus(tmp_path / "corpus", {"feed.jsonl": feed("alpha", "bravo"), **FILES})
    sync_folder(engine, corpus)
    engine.delete(["bravo"])
    killed_after_writing(engine, corpus, monkeypatch, force=True)
    assert "bravo" not in stored(engine)
    report = sync_folder(engine, corpus)
    assert "bravo" not in stored(engine) and report.added == []
    assert stored(engine) == {"alpha", "quake", "harvest", "bridge"}
    (corpus / "feed.jsonl").write_text(feed("alpha", "bravo", "charlie"))  # changed: its word
    sync_folder(engine, corpus)
    assert {"bravo", "charlie"} <= stored(engine)


def test_an_article_deleted_after_a_killed_sync_stays_deleted(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync killed after writing a new file's article, then `qa delete` of that article: the
    next sync finishes the killed one without bringing it back."""
    corpus = write_corpus(tmp_path / "corpus", FILES)
    sync_folder(engine, corpus)
    (corpus / "ferry.txt").write_text("Ferry strike ends\nFerry crews returned to work today.\n")
    killed_after_writing(engine, corpus, monkeypatch)
    assert "ferry" in stored(engine)
    assert engine.delete(["ferry"]).deleted == ["ferry"]
    report = sync_folder(engine, corpus)
    assert "ferry" not in stored(engine) and report.added == []
    assert not any(stamp.startswith(PENDING) for stamp, _ in engine.store.files().values())
    assert engine.live.problems() == []


def test_a_waiting_file_keeps_a_deleted_article_out_after_a_killed_sync(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """b.jsonl repeats a.jsonl's id (so it is read at every sync) and holds yankee, deleted over
    the API; a sync killed while writing keeps yankee deleted."""
    corpus = write_corpus(
        tmp_path / "corpus", {"a.jsonl": feed("xray"), "b.jsonl": feed("xray", "yankee")}
    )
    sync_folder(engine, corpus)
    assert stored(engine) == {"xray", "yankee"}
    engine.delete(["yankee"])
    (corpus / "c.txt").write_text("Canal reopens\nThe canal reopened to boats this week.\n")
    killed_after_writing(engine, corpus, monkeypatch)
    sync_folder(engine, corpus)
    assert stored(engine) == {"xray", "c"}


def killed_before_writing(engine: QAEngine, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync of ``corpus`` that marks its files pending and dies before writing an article."""
    killed_after("add", engine, corpus, monkeypatch, done=False)


def api_article(doc_id: str) -> Article:
    return Article(doc_id, f"API {doc_id}", f"API {doc_id}\nWritten through the API, acknowledged.")


@pytest.mark.parametrize("then", ["file unchanged", "file removed"])
def test_an_api_write_of_an_id_a_killed_sync_never_wrote_is_kept(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    """The killed sync's pending mark claims ferry, which it never wrote; `qa add` then writes
    ferry. The next sync neither replaces it with the file's article nor deletes it."""
    corpus = write_corpus(tmp_path / "corpus", FILES)
    sync_folder(engine, corpus)
    (corpus / "ferry.txt").write_text("Ferry strike ends\nFerry crews returned to work today.\n")
    killed_before_writing(engine, corpus, monkeypatch)
    assert "ferry" not in stored(engine)
    engine.add([api_article("ferry")])
    if then == "file removed":
        (corpus / "ferry.txt").unlink()
    sync_folder(engine, corpus)
    assert engine.document("ferry").title == "API ferry"


def test_an_api_write_after_a_sync_killed_between_delete_and_forget_is_kept(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """harvest.txt removed; the sync deletes harvest and dies before forgetting the file; then
    `qa add` writes harvest. The next sync must not delete it again."""
    corpus = write_corpus(tmp_path / "corpus", FILES)
    sync_folder(engine, corpus)
    (corpus / "harvest.txt").unlink()
    killed_after("delete", engine, corpus, monkeypatch)
    assert "harvest" not in stored(engine)
    engine.add([api_article("harvest")])
    sync_folder(engine, corpus)
    assert engine.document("harvest").title == "API harvest"


def test_a_file_that_cannot_be_read_keeps_its_articles(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed replaced by a file the service may not read yet (a writer's 0600 temp file renamed
    into place): its articles stay, nothing is recorded for it, and once it is readable its new
    content is read, even though making it readable (chmod) changes no stamp."""
    corpus = write_corpus(tmp_path / "corpus", {"feed.jsonl": feed("alpha", "bravo"), **FILES})
    sync_folder(engine, corpus)
    (corpus / "feed.jsonl").write_text(feed("alpha", "bravo", "charlie"))
    (corpus / "new.jsonl").write_text(feed("delta"))
    real_read = corpus_module._read_regular

    def refused(path: Path) -> bytes:
        if path.name in ("feed.jsonl", "new.jsonl"):
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(corpus_module, "_read_regular", refused)
    report = sync_folder(engine, corpus)
    monkeypatch.undo()
    assert {s.reason for s in report.skipped} == {"cannot read (Permission denied)"}
    assert report.deleted == [] and {"alpha", "bravo"} <= stored(engine)
    sync_folder(engine, corpus)  # readable again, stamps as they were
    assert {"alpha", "bravo", "charlie", "delta"} <= stored(engine)


def test_a_file_too_large_to_read_whole_is_skipped_and_keeps_its_articles(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: read whole, so a file larger than memory stopped the run with a MemoryError and
    nothing was indexed. Now it is skipped as unreadable: the rest is indexed, and the articles
    it held (a feed that grew past the limit) stay."""
    corpus = write_corpus(tmp_path / "corpus", {"feed.jsonl": feed("alpha", "bravo")})
    sync_folder(engine, corpus)
    (corpus / "feed.jsonl").write_text(feed("alpha", "bravo", "charlie", "delta"))
    (corpus / "huge.txt").write_text("Huge story\n" + "A line of a story. " * 200)
    (corpus / "small.txt").write_text("Small story\nA story of a modest size.")
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 200)
    report = sync_folder(engine, corpus)
    reason = "cannot read (larger than 0 MiB: split it into smaller files)"
    assert {(Path(s.path).name, s.reason) for s in report.skipped} == {
        ("feed.jsonl", reason),
        ("huge.txt", reason),
    }
    assert stored(engine) == {"alpha", "bravo", "small"}


def test_memory_running_out_while_reading_a_file_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "A story\nText.", "b.txt": "B\nMore."})

    def exhausted(path: Path) -> bytes:
        raise MemoryError

    monkeypatch.setattr(corpus_module, "_read_regular", exhausted)
    read = corpus_module.read_file(corpus / "a.txt", corpus)
    assert read.unreadable and read.articles == []
    assert [s.reason for s in read.skipped] == ["cannot read (not enough memory)"]


def front_matter(doc_id: str) -> str:
    return (
        f"---\nid: {doc_id}\n---\nSame size story\nA story of exactly the same size as the other.\n"
    )


@pytest.mark.parametrize("how", ["id rewritten", "files swapped"])
def test_a_forced_sync_reads_a_rewrite_that_kept_size_and_time(
    engine: QAEngine, tmp_path: Path, how: str
) -> None:
    """`qa index --force` after a rewrite that kept the size and mtime (cp -p, rsync -t,
    touch -r): the files' new ids are indexed (both articles were deleted, and stayed so)."""
    corpus = write_corpus(tmp_path / "corpus", {"a.md": front_matter("xa"), **FILES})
    (corpus / "b.md").write_text(front_matter("xb"))
    for name in ("a.md", "b.md"):
        os.utime(corpus / name, ns=(1_700_000_000_000_000_000,) * 2)
    sync_folder(engine, corpus)
    if how == "id rewritten":
        (corpus / "a.md").write_text(front_matter("xc"))
    else:
        (corpus / "a.md").rename(corpus / "t.md")
        (corpus / "b.md").rename(corpus / "a.md")
        (corpus / "t.md").rename(corpus / "b.md")
    for name in ("a.md", "b.md"):
        os.utime(corpus / name, ns=(1_700_000_000_000_000_000,) * 2)
    assert sync_folder(engine, corpus).files_read == 0  # the stamps alone say unchanged
    sync_folder(engine, corpus, force=True)
    expected = {"xc", "xb"} if how == "id rewritten" else {"xa", "xb"}
    assert expected <= stored(engine) and ("xa" in stored(engine)) == (how != "id rewritten")
    assert {engine.document(i).origin.rsplit("/", 1)[-1] for i in expected} == {"a.md", "b.md"}


@pytest.mark.parametrize("to", ["renamed.jsonl", "sub/feed.jsonl"])
def test_an_article_deleted_directly_stays_deleted_when_its_file_moves_unchanged(
    engine: QAEngine, tmp_path: Path, to: str
) -> None:
    """`qa delete bravo`, then feed.jsonl renamed or moved to a subfolder as it was: bravo stays
    deleted (it came back: a new path counted as a changed file); alpha follows the file."""
    corpus = write_corpus(tmp_path / "corpus", {"feed.jsonl": feed("alpha", "bravo"), **FILES})
    sync_folder(engine, corpus)
    engine.delete(["bravo"])
    (corpus / to).parent.mkdir(exist_ok=True)
    (corpus / "feed.jsonl").rename(corpus / to)
    report = sync_folder(engine, corpus)
    assert "bravo" not in stored(engine) and report.added == [] and report.deleted == []
    assert engine.document("alpha").origin.endswith(to.rsplit("/", 1)[-1] + "#L1")
    (corpus / to).write_text(feed("alpha", "bravo", "charlie"))  # changed: its word
    sync_folder(engine, corpus)
    assert {"alpha", "bravo", "charlie"} <= stored(engine)


def test_an_article_stored_with_a_url_now_refused_is_kept_when_its_feed_is_read_again(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review: articles stored before urls were checked (``www.example.com/...``)
    were deleted by the next read of their feed, which no longer claimed them."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    feed = corpus / "feed.jsonl"
    lines = [
        {"id": "a1", "text": "Trams run on time.", "url": "https://x.test/a1"},
        {"id": "a2", "text": "Buses run late.", "url": "www.example.com/news/a2"},
    ]
    feed.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with monkeypatch.context() as m:  # an earlier release: urls not checked
        m.setattr(corpus_module, "check_url", lambda value: value)
        sync_folder(engine, corpus)
    assert engine.document("a2").url == "www.example.com/news/a2"
    with feed.open("a") as f:  # the feed grows, and is read again
        f.write(json.dumps({"id": "a3", "text": "Ferries sail.", "url": "/news/a3"}) + "\n")
    sync_folder(engine, corpus)
    assert stored(engine) == {"a1", "a2", "a3"}
    assert [engine.document(d).url for d in ("a1", "a2", "a3")] == ["https://x.test/a1", None, None]

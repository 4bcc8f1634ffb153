"""Folder sync: a sync stopped after writing articles, before recording its files, leaves nothing
that a later sync cannot trace back to a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.engine import QAEngine, WriteResult
from qa.store.db import PENDING
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


def killed_after_writing(engine: QAEngine, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync of ``corpus`` that commits its articles and dies before recording its files."""
    add = engine.add

    def add_then_die(*args: object, **kwargs: object) -> WriteResult:
        add(*args, **kwargs)  # type: ignore[arg-type]
        raise Killed

    monkeypatch.setattr(engine, "add", add_then_die)
    with pytest.raises(Killed):
        sync_folder(engine, corpus)
    monkeypatch.undo()


def test_a_file_removed_after_a_killed_sync_leaves_no_article(
    engine: QAEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus", FILES)
    killed_after_writing(engine, corpus, monkeypatch)
    assert stored(engine) == {"quake", "harvest", "bridge"}  # written, the files not yet recorded
    assert {stamp for stamp, _ in engine.store.files().values()} == {PENDING}
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
    assert PENDING not in {stamp for stamp, _ in files.values()}
    assert sorted(ids[0] for _, ids in files.values()) == ["bridge", "harvest", "quake"]
    assert sync_folder(engine, corpus).files_read == 0  # recorded: nothing is read again

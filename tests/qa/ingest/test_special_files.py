"""Things in the corpus folder that are not regular files: a FIFO named like an article blocked the
read for ever (and with it the writer lock), a link to a device was read as text, and a link to a
folder was left out without a word. Real FIFOs and links, read in a thread so that a read that
hangs fails the test instead of hanging it."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.ingest import corpus as corpus_module
from qa.ingest.corpus import CorpusRead, read_corpus
from tests.conftest import write_corpus

GOOD = {"a.txt": "Harbour reopens\nThe harbour at Porto Vale reopened on Monday.\n"}


def read_within(corpus: Path, seconds: float = 10.0) -> CorpusRead:
    """``read_corpus(corpus)``, or a failure if it takes longer than ``seconds``."""
    result: list[CorpusRead | BaseException] = []

    def run() -> None:
        try:
            result.append(read_corpus(corpus))
        except BaseException as exc:  # handed to the test
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _release_fifos(corpus)
        thread.join(5)
        pytest.fail(f"reading {corpus} did not finish in {seconds} s")
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _release_fifos(corpus: Path) -> None:
    """Open every FIFO for writing and close it: a reader stuck on one sees its end."""
    paths = [corpus] if not corpus.is_dir() else list(corpus.rglob("*"))
    for path in paths:
        with contextlib.suppress(OSError):  # not a FIFO, or no reader waits on it
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def reasons(read: CorpusRead) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in read.skipped}


@pytest.mark.parametrize("name", ["pipe.txt", "feed.jsonl", "notes.md"])
def test_a_fifo_named_like_an_article_is_skipped_not_read(tmp_path: Path, name: str) -> None:
    corpus = write_corpus(tmp_path / "corpus", GOOD)
    os.mkfifo(corpus / name)
    read = read_within(corpus)
    assert [a.doc_id for a in read.articles] == ["a"]
    assert reasons(read) == {name: "not a regular file (a FIFO)"}


def test_links_are_followed_to_what_they_name(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", GOOD)
    os.mkfifo(tmp_path / "pipe")
    (corpus / "piped.txt").symlink_to(tmp_path / "pipe")
    (corpus / "null.txt").symlink_to("/dev/null")
    read = read_within(corpus)
    assert [a.doc_id for a in read.articles] == ["a"]
    assert reasons(read) == {
        "piped.txt": "not a regular file (a FIFO)",
        "null.txt": "not a regular file (a character device)",
    }


def test_a_fifo_given_as_the_corpus_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(CorpusError, match=r"is not a folder or a regular file \(a FIFO\)"):
        read_within(tmp_path / "pipe.txt")


def test_a_link_to_a_folder_is_skipped_with_a_warning_naming_the_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = write_corpus(tmp_path / "elsewhere" / "sport", {"match.txt": GOOD["a.txt"]})
    corpus = write_corpus(tmp_path / "corpus", GOOD)
    (corpus / "sport").symlink_to(elsewhere)
    (corpus / "single.txt").symlink_to(elsewhere / "match.txt")  # a linked file is read
    read = read_within(corpus)
    assert sorted(a.doc_id for a in read.articles) == ["a", "single"]
    [skipped] = read.skipped
    assert skipped.path.endswith("corpus/sport/")
    assert skipped.reason.startswith("a link to a folder, not followed")
    assert "corpus/sport/: a link to a folder" in caplog.text


def test_what_a_read_of_the_folder_would_not_see_is_no_change(tmp_path: Path) -> None:
    root = tmp_path / "corpus"

    def concerns(rel: str, *, is_dir: bool = False) -> bool:
        return corpus_module.concerns_read(root / rel, root, is_dir=is_dir)

    assert concerns("a.txt") and concerns("sub/b.MD") and concerns("feed.jsonl")
    assert concerns("a.meta.json")  # a sidecar changes its article
    assert concerns("sub", is_dir=True) and concerns(".", is_dir=True)
    assert not concerns(".crawler.state") and not concerns(".git/index")
    assert not concerns(".hidden/a.txt") and not concerns(".a.txt.swp")
    assert not concerns("a.txt~") and not concerns("#a.txt#") and not concerns("4913")
    assert not concerns(".cache", is_dir=True)

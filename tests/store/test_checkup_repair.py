"""`qa index` on a damaged index folder: damage to derived data is repaired in place without the
model, keeping the files' bookkeeping; damage to the tables of record sets the store aside, and
the new store keeps what the old one said of direct writes and deletes (an acknowledged DELETE
stays deleted while its corpus file is unchanged)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Article
from tests.conftest import write_corpus

runner = CliRunner()

FILES = {
    f"art{i}.txt": (
        f"New bridge opens in town {i}\n"
        f"The new bridge in town {i} opened on Monday after {i + 3} years of work. "
        f"Mayor number {i} cut the ribbon; the codeword was QX{i:05d}Z.\n"
    )
    for i in range(6)
}


class CountingEmbedder(HashingEmbedder):
    """Counts the texts it embeds: a repair of derived data must embed none."""

    embedded = 0

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        CountingEmbedder.embedded += len(texts)
        return super().embed(texts, progress=progress)


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: CountingEmbedder())
    CountingEmbedder.embedded = 0


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return write_corpus(tmp_path / "corpus", FILES), tmp_path / "index"


def qa_index(corpus: Path, index_dir: Path) -> str:
    result = runner.invoke(app, ["index", "--corpus", str(corpus), "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    return result.output


def engine_on(corpus: Path, index_dir: Path) -> QAEngine:
    settings = Settings(corpus=corpus, index_dir=index_dir, watch=False)
    return QAEngine.open(settings, HashingEmbedder())


def damage(index_dir: Path, *statements: str) -> None:
    with sqlite3.connect(index_dir / "store.sqlite3") as db:
        for statement in statements:
            db.execute(statement)
    db.close()


def directly(corpus: Path, index_dir: Path) -> None:
    """What HTTP writes do: delete art1 (204) and replace art2, both still in unchanged files."""
    engine = engine_on(corpus, index_dir)
    try:
        engine.delete(["art1"])
        engine.add([Article("art2", "Edited", "Edited\nWritten through the API.\n")], replace=True)
    finally:
        engine.close()


def check(corpus: Path, index_dir: Path, present: set[str]) -> None:
    engine = engine_on(corpus, index_dir)
    try:
        assert {str(d["doc_id"]) for d in engine.documents()} == present
        if "art2" in present:
            assert engine.document("art2").text == "Edited\nWritten through the API.\n"
        assert engine.live.problems() == []
        for i in (int(d[3:]) for d in present if d != "art2"):
            assert engine.search(f"QX{i:05d}Z", 1, mode="bm25")[0].passage.doc_id == f"art{i}"
    finally:
        engine.close()


def test_lexical_damage_is_repaired_in_place_without_the_model(
    folders: tuple[Path, Path],
) -> None:
    """It set the whole store aside and re-embedded every article; the new store had no files
    bookkeeping, so art1, deleted through the API, came back from its file."""
    corpus, index_dir = folders
    qa_index(corpus, index_dir)
    directly(corpus, index_dir)
    damage(
        index_dir,
        "DELETE FROM passage_terms WHERE rowid IN (SELECT p.id FROM passages p "
        "JOIN articles a ON a.id = p.article WHERE a.doc_id = 'art4')",
        "DELETE FROM passage_terms_docsize WHERE id = (SELECT min(id) FROM passage_terms_docsize)",
    )
    CountingEmbedder.embedded = 0
    out = qa_index(corpus, index_dir)
    assert "repairing" in out and "passages without lexical terms" in out and "integrity" in out
    assert "damaged" not in out and not list(index_dir.glob("*.damaged-*"))
    assert CountingEmbedder.embedded == 0
    assert "up to date" in out
    check(corpus, index_dir, {"art0", "art2", "art3", "art4", "art5"})


def test_a_store_set_aside_keeps_the_record_of_direct_writes_and_deletes(
    folders: tuple[Path, Path],
) -> None:
    corpus, index_dir = folders
    qa_index(corpus, index_dir)
    directly(corpus, index_dir)
    damage(index_dir, "DELETE FROM sentences WHERE id = (SELECT min(id) FROM sentences)")
    out = qa_index(corpus, index_dir)
    assert "is damaged (1 passages whose sentences are missing)" in out
    assert len(list(index_dir.glob("store.sqlite3.damaged-*"))) == 1
    check(corpus, index_dir, {"art0", "art2", "art3", "art4", "art5"})


def test_unreadable_articles_of_unchanged_files_are_read_again(
    folders: tuple[Path, Path],
) -> None:
    """An article the salvage cannot read, whose file is unchanged, comes back from its file;
    what was deleted directly from an unchanged file stays deleted."""
    corpus, index_dir = folders
    qa_index(corpus, index_dir)
    directly(corpus, index_dir)
    damage(
        index_dir,
        "UPDATE articles SET text = CAST(CAST(text AS BLOB) || x'ff' AS TEXT) "
        "WHERE doc_id = 'art0'",
        "DELETE FROM passage_terms WHERE rowid IN (SELECT p.id FROM passages p "
        "JOIN articles a ON a.id = p.article WHERE a.doc_id = 'art0')",
    )
    out = qa_index(corpus, index_dir)
    # the lexical repair needs art0's text: that is damage to the store of record
    assert "repairing it failed: article row 1: its text is not UTF-8" in out
    assert "moved it to store.sqlite3.damaged-" in out
    assert "reading the corpus again for 1 unreadable articles" in out
    check(corpus, index_dir, {"art0", "art2", "art3", "art4", "art5"})

"""Repairing what `qa index` finds (qa/store/checkup.py) on real SQLite stores: derived data (the
FTS5 lexical index) rebuilt in place from the stored articles, and a damaged store's readable rows
(articles, the files' claims) read one by one, so that one bad row or page costs that row alone."""

from __future__ import annotations

import logging
import random
import sqlite3
from pathlib import Path

import pytest

from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Article
from qa.store import checkup
from qa.store.db import DB_FILE
from qa.store.sync import sync_folder
from tests.conftest import write_corpus

TOWNS = ["Ashford", "Barrow", "Carlisle", "Dover", "Exeter", "Falmouth", "Grimsby", "Hexham"]


def article(i: int) -> Article:
    town = TOWNS[i % len(TOWNS)]
    return Article(
        doc_id=f"api-{i}",
        title=f"Festival {i} in {town}",
        text=(
            f"Festival {i} in {town}\n"
            f"The zeppelin festival number {i} was held in {town} this summer. "
            f"Organisers counted {1000 + i} airships over {town}; the codeword was QX{i:05d}Z.\n"
            + f"Visitors came from far away to see festival {i}. " * 12
            + "\n"
        ),
        metadata={"n": i},
    )


def fill(engine: QAEngine, n: int) -> dict[str, Article]:
    articles = [article(i) for i in range(n)]
    engine.add(articles)
    return {a.doc_id: a for a in articles}


def lexical_rows(engine: QAEngine) -> list[tuple[int, str]]:
    return sorted(engine.store.all_passage_terms())


def sql(engine: QAEngine, *statements: str) -> None:
    """Damage the closed store with a plain connection (no foreign keys, as any other tool)."""
    engine.close()
    with sqlite3.connect(engine.store.path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()


# -- the lexical index, repaired in place -----------------------------------------------------
def test_missing_and_extra_lexical_rows_are_rebuilt_from_the_stored_text(
    engine: QAEngine,
) -> None:
    fill(engine, 6)
    whole = lexical_rows(engine)
    of_api_3 = (
        "SELECT p.id FROM passages p JOIN articles a ON a.id = p.article AND a.doc_id = 'api-3'"
    )
    with sqlite3.connect(engine.store.path) as db:
        n = len(db.execute(of_api_3).fetchall())
    db.close()
    sql(
        engine,
        f"DELETE FROM passage_terms WHERE rowid IN ({of_api_3})",
        "INSERT INTO passage_terms(rowid, terms) VALUES (99999, 'stray term')",
    )
    problems = engine.live.problems()
    assert problems == [f"{n} passages without lexical terms", "1 lexical rows without a passage"]
    assert all(checkup.in_derived_data(p) for p in problems)
    assert not engine.search("QX00003Z", 3, mode="bm25")

    (cheap,) = checkup.lexical_counts(engine.store)  # what a server's start could afford
    assert cheap == f"lexical index: {len(whole) - n + 1} rows for {len(whole)} passages"
    assert checkup.repair_lexical(engine.store) == n
    assert lexical_rows(engine) == whole  # the very terms ingest stored
    assert engine.live.problems() == [] and checkup.lexical_problems(engine.store) == []
    assert checkup.lexical_counts(engine.store) == []
    assert engine.search("QX00003Z", 3, mode="bm25")[0].passage.doc_id == "api-3"


def test_a_damaged_inverted_index_is_rebuilt_from_its_rows(engine: QAEngine) -> None:
    fill(engine, 6)
    whole = lexical_rows(engine)
    sql(engine, "DELETE FROM passage_terms_docsize WHERE id < 4")
    assert engine.live.problems() == []  # the rows are all there: only FTS5's own check sees it
    (problem,) = checkup.lexical_problems(engine.store)
    assert problem.startswith(checkup.LEXICAL_PROBLEM) and checkup.in_derived_data(problem)
    assert checkup.repair_lexical(engine.store) == 0
    assert checkup.lexical_problems(engine.store) == [] and lexical_rows(engine) == whole


def test_a_lexical_table_that_cannot_be_read_is_made_again(engine: QAEngine) -> None:
    fill(engine, 6)
    whole = lexical_rows(engine)
    sql(engine, "DROP TABLE passage_terms_content")  # FTS5's own rows, gone
    assert checkup.lexical_problems(engine.store)
    assert checkup.repair_lexical(engine.store) == len(whole)
    assert lexical_rows(engine) == whole
    assert engine.live.problems() == [] and checkup.lexical_problems(engine.store) == []
    assert engine.store.doc_freq(["festiv"]) == {"festiv": len(whole)}  # the vocabulary too


def test_damage_to_the_tables_of_record_is_not_derived(engine: QAEngine) -> None:
    fill(engine, 3)
    sql(engine, "DELETE FROM sentences WHERE id = (SELECT min(id) FROM sentences)")
    problems = engine.live.problems()
    assert problems and not any(checkup.in_derived_data(p) for p in problems)


# -- salvaging a damaged store, row by row ----------------------------------------------------
def test_one_undecodable_row_costs_that_row_alone(
    engine: QAEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """The decode error came from the cursor, outside the per-row handler: a bad first row
    ended the salvage, and every article written through the API was lost."""
    written = fill(engine, 20)
    sql(
        engine,
        "UPDATE articles SET text = CAST(CAST(text AS BLOB) || x'ff' AS TEXT) "
        "WHERE doc_id = 'api-0'",
    )
    with caplog.at_level(logging.WARNING, logger="qa.store.checkup"):
        salvaged = checkup.salvage_articles(engine.store.path)
    assert {a.doc_id: a for a in salvaged} == {k: a for k, a in written.items() if k != "api-0"}
    assert [a.metadata for a in salvaged] == [{"n": i} for i in range(1, 20)]
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in warning
    assert warning == f"{DB_FILE}: article row 1 (doc_id 'api-0'): its text is not UTF-8: skipped"


def test_bad_metadata_costs_that_row_alone(engine: QAEngine) -> None:
    written = fill(engine, 5)
    sql(engine, "UPDATE articles SET metadata = '{not json' WHERE doc_id = 'api-2'")
    salvaged = {a.doc_id for a in checkup.salvage_articles(engine.store.path)}
    assert salvaged == set(written) - {"api-2"}


def leaf_pages(path: Path, table: str) -> list[int]:
    with sqlite3.connect(path) as db:
        try:
            rows = db.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (table,),
            ).fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table")
        size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    return [r[0] * size - size for r in rows]  # their offsets in the file


def filled_on_disk(engine: QAEngine, n: int) -> tuple[dict[str, Article], Path]:
    """``n`` articles written, the store closed and its WAL checkpointed into the file, so that
    bytes written over the file's pages reach the rows."""
    written = fill(engine, n)
    engine.close()
    path = engine.store.path
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return written, path


def test_a_damaged_page_costs_the_rows_on_it_alone(
    engine: QAEngine, caplog: pytest.LogCaptureFixture
) -> None:
    written, path = filled_on_disk(engine, 60)
    pages = leaf_pages(path, "articles")
    assert len(pages) > 10
    with path.open("r+b") as f:  # random bytes over one page in the middle of the table
        f.seek(pages[len(pages) // 2])
        f.write(random.Random(7).randbytes(4096))
    with caplog.at_level(logging.WARNING, logger="qa.store.checkup"):
        salvaged = checkup.salvage_articles(path)
    assert all(written[a.doc_id] == a for a in salvaged)
    lost = set(written) - {a.doc_id for a in salvaged}
    assert 0 < len(lost) <= 60 / len(pages) + 1  # the rows of that one page
    assert all("\n" not in r.getMessage() for r in caplog.records)
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == len(lost)


def test_random_bytes_over_the_store_never_end_the_salvage(engine: QAEngine) -> None:
    written, path = filled_on_disk(engine, 60)
    pages = leaf_pages(path, "articles")
    data = bytearray(path.read_bytes())
    rng = random.Random(11)
    hit = [*rng.sample(pages, 3), *(rng.randrange(4096, len(data) - 4096) for _ in range(8))]
    for page in hit:  # 512 random bytes somewhere in 3 pages of articles, and 8 anywhere
        at = page + rng.randrange(0, 4096 - 512)
        data[at : at + 512] = rng.randbytes(512)
    path.write_bytes(bytes(data))
    salvaged = checkup.salvage_articles(path)
    assert all(written[a.doc_id] == a for a in salvaged)
    assert len(salvaged) >= 60 - 3 * (60 / len(pages) + 1)


def test_nothing_is_salvaged_from_what_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    path.write_bytes(b"\x00\xffnot a database" * 64)
    assert checkup.salvage_articles(path) == []
    assert checkup.salvage_files(path) == {}


# -- the files' claims: the record of direct writes and deletes ---------------------------------
def test_the_files_claims_are_carried_into_a_new_store(engine: QAEngine, tmp_path: Path) -> None:
    corpus = write_corpus(
        tmp_path / "corpus",
        {f"f{i}.txt": f"Report {i}\nThe report number {i}.\n" for i in range(4)},
    )
    sync_folder(engine, corpus)
    engine.delete(["f1"])  # directly: f1.txt no longer claims it
    engine.add([Article("f2", "Edited", "Edited\nWritten through the API.\n")], replace=True)
    files = engine.store.files()
    sql(engine, "UPDATE files SET doc_ids = '[\"f3\"' WHERE path LIKE '%f3.txt'")  # not JSON

    salvaged = checkup.salvage_files(engine.store.path)
    del files[str(corpus.resolve() / "f3.txt")]
    assert salvaged == files
    assert salvaged[str(corpus.resolve() / "f1.txt")][1] == []
    assert salvaged[str(corpus.resolve() / "f2.txt")][1] == []

    fresh = QAEngine.open(engine.settings, HashingEmbedder(), index_dir=tmp_path / "new")
    try:
        fresh.add([a for a in checkup.salvage_articles(engine.store.path) if a.doc_id != "f0"])
        assert checkup.restore_files(fresh.store, salvaged) == ["f0"]  # claimed, not salvaged
        assert fresh.store.files() == salvaged
        sync_folder(fresh, corpus, force=True)  # the forced read `qa index` does then
        assert {str(d["doc_id"]) for d in fresh.documents()} == {"f0", "f2", "f3"}
        assert fresh.document("f2").text == "Edited\nWritten through the API.\n"
    finally:
        fresh.close()


def test_a_server_start_rebuilds_missing_lexical_rows(engine: QAEngine) -> None:
    """`qa serve` counts the lexical rows before building its BM25 from them: an article whose
    rows were gone was never found by BM25, and nothing said so until a `qa index`."""
    from api.cli import _repair_lexical_rows

    fill(engine, 4)
    whole = lexical_rows(engine)
    sql(engine, "DELETE FROM passage_terms WHERE rowid = (SELECT min(rowid) FROM passage_terms)")
    assert checkup.lexical_counts(engine.store)
    _repair_lexical_rows(engine)
    assert lexical_rows(engine) == whole and checkup.lexical_counts(engine.store) == []

"""The store's schema: a version 1 store (no stored sentence or topic terms) is upgraded in place
when opened, and a store without the covering indexes of a question's lookup (an older release's)
gains them; both answer exactly as a fresh one."""

import sqlite3
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.store.db import COVERING_INDEXES, DB_FILE, PASSAGE_SOURCES, SCHEMA_VERSION, Store
from tests.conftest import open_synced

QUESTIONS = [
    "How many residents were evacuated from the village?",
    "What percent of the vote did the mayor win?",
]


def _answers(engine: QAEngine) -> list[list[tuple[int, str, float]]]:
    out = []
    for q in QUESTIONS:
        result = engine.ask(q, top_k=3, abstain=False)
        out.append(
            [(a.hit.passage.passage_id, a.highlight_text, a.confidence) for a in result.answers]
        )
    return out


def test_stored_terms_are_written_at_ingest(tiny_engine: QAEngine) -> None:
    with tiny_engine.store.read() as conn:
        missing = conn.execute("SELECT count(*) FROM sentences WHERE terms IS NULL").fetchone()[0]
        topics = conn.execute("SELECT topic FROM articles").fetchall()
    assert missing == 0
    assert all(t[0] for t in topics)


COVERING = set(COVERING_INDEXES)


def _indexes(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_store_is_upgraded_and_answers_the_same(
    version: int, tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    engine = open_synced(tiny_settings, fake_embedder)
    fresh = _answers(engine)
    engine.close()
    conn = sqlite3.connect(Path(tiny_settings.index_dir) / DB_FILE)
    assert _indexes(conn) >= COVERING
    # an older release's store: no covering indexes
    for name in COVERING:
        conn.execute(f"DROP INDEX {name}")
    if version == 1:  # and a version 1 store: the two columns version 2 added are gone too
        conn.execute("ALTER TABLE sentences DROP COLUMN terms")
        conn.execute("ALTER TABLE articles DROP COLUMN topic")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()

    engine = QAEngine.open(tiny_settings, fake_embedder)
    try:
        with engine.store.read() as conn2:
            # the indexes are no version: a release without them still opens this store
            assert conn2.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
            assert _indexes(conn2) >= COVERING
            nulls = conn2.execute("SELECT count(*) FROM sentences WHERE terms IS NULL")
            # version 1's rows keep no terms: stemmed when asked
            assert (nulls.fetchone()[0] > 0) == (version == 1)
        assert _answers(engine) == fresh
    finally:
        engine.close()
    assert Store.open(Path(tiny_settings.index_dir)) is not None  # opens again, nothing to do


def test_a_question_reads_its_candidates_from_the_covering_indexes(
    tiny_engine: QAEngine,
) -> None:
    """The plan of ``passage_sources``'s query, as SQLite runs it: no passage row (with its
    vector) nor article row (with its text) is read."""
    ids = [1, 2, 3]
    with tiny_engine.store.read() as conn:
        plan = " ".join(
            str(r[3])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN " + PASSAGE_SOURCES.format(marks="?, ?, ?"), ids
            )
        )
    assert "COVERING INDEX passages_owner" in plan
    assert "COVERING INDEX articles_origin" in plan
    sources = tiny_engine.store.passage_sources([*ids, 10**9])
    assert set(sources) == set(ids)  # a passage id not stored is left out


def test_an_upgrade_another_process_already_made_is_not_made_again(
    tiny_engine: QAEngine,
) -> None:
    """Two processes can both read version 1; the second to take the write lock finds version 2
    and must not add the columns again (a duplicate-column error made the store look damaged).
    Likewise two processes that both found an index missing."""
    tiny_engine.store.upgrade_from_1()  # the store is already version 2
    with tiny_engine.store.write() as w:  # one index missing: the other one is made again
        w.conn.execute("DROP INDEX articles_origin")
    tiny_engine.store.add_missing_indexes()
    with tiny_engine.store.read() as conn:
        assert _indexes(conn) >= COVERING
    with tiny_engine.store.read() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert tiny_engine.ask("How many residents were evacuated?", abstain=False).answers

"""The store's schema versions: a version 1 store (no stored sentence or topic terms) is
upgraded in place when opened and answers exactly as a fresh one."""

import sqlite3
from pathlib import Path

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.store.db import DB_FILE, SCHEMA_VERSION, Store
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


def test_a_version_1_store_is_upgraded_and_answers_the_same(
    tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    engine = open_synced(tiny_settings, fake_embedder)
    fresh = _answers(engine)
    engine.close()
    # make it a version 1 store: the two columns version 2 added are gone
    conn = sqlite3.connect(Path(tiny_settings.index_dir) / DB_FILE)
    conn.execute("ALTER TABLE sentences DROP COLUMN terms")
    conn.execute("ALTER TABLE articles DROP COLUMN topic")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    engine = QAEngine.open(tiny_settings, fake_embedder)
    try:
        with engine.store.read() as conn2:
            assert conn2.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            nulls = conn2.execute("SELECT count(*) FROM sentences WHERE terms IS NULL")
            assert nulls.fetchone()[0] > 0  # old rows keep no terms: stemmed when asked
        assert _answers(engine) == fresh
    finally:
        engine.close()
    assert Store.open(Path(tiny_settings.index_dir)) is not None  # opens again, already v2


def test_an_upgrade_another_process_already_made_is_not_made_again(
    tiny_engine: QAEngine,
) -> None:
    """Two processes can both read version 1; the second to take the write lock finds version 2
    and must not add the columns again (a duplicate-column error made the store look damaged)."""
    tiny_engine.store.upgrade_from_1()  # the store is already version 2
    with tiny_engine.store.read() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert tiny_engine.ask("How many residents were evacuated?", abstain=False).answers

"""The in-memory BM25 index ranks and scores exactly as SQLite FTS5's bm25(), through adds and
deletes, and the live index keeps it in step with the store."""

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.engine import QAEngine
from qa.records import Article
from qa.store.lexical import LexicalIndex, tokens

VOCAB = ["storm", "flood", "river", "bank", "rate", "vote", "mayor", "ship", "port", "cod"]
# words FTS5's unicode61 tokenizer changes: diacritics go, "_" separates
ODD = ["josé", "jose", "café", "cafe_own", "zürich", "Ørsted"]


class Fts5:
    """The oracle: an FTS5 table queried the way ``Store.bm25`` queries it."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute("CREATE VIRTUAL TABLE t USING fts5(terms, tokenize = 'unicode61')")

    def add(self, pid: int, text: str) -> None:
        self.conn.execute("INSERT INTO t(rowid, terms) VALUES (?, ?)", (pid, text))

    def remove(self, pid: int) -> None:
        self.conn.execute("DELETE FROM t WHERE rowid = ?", (pid,))

    def search(self, terms: list[str], k: int) -> dict[int, float]:
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))
        rows = self.conn.execute(
            "SELECT rowid, -bm25(t) FROM t WHERE t MATCH ? ORDER BY rank LIMIT ?", (match, k)
        ).fetchall()
        return {int(r[0]): float(r[1]) for r in rows}


def assert_same(index: LexicalIndex, oracle: Fts5, terms: list[str], k: int = 1000) -> None:
    got = dict(index.search(terms, k))
    want = oracle.search(terms, k)
    assert set(got) == set(want)
    for pid, score in want.items():
        assert got[pid] == pytest.approx(score, rel=1e-9, abs=1e-12)
    ranked = [s for _, s in index.search(terms, k)]
    assert ranked == sorted(ranked, reverse=True)


def assert_equal_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [p for p, _ in got] == [p for p, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-9)


docs = st.lists(st.sampled_from(VOCAB + ODD), min_size=1, max_size=30).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    first=st.lists(docs, min_size=1, max_size=25),
    ops=st.lists(st.tuples(st.booleans(), docs, st.integers(0, 60)), max_size=30),
    query=st.lists(
        st.sampled_from([*VOCAB, "absent", "josé", "jose", "café", "zurich", "ørsted"]),
        min_size=1,
        max_size=5,
    ),
)
def test_scores_match_fts5_through_adds_and_deletes(
    first: list[str], ops: list[tuple[bool, str, int]], query: list[str]
) -> None:
    oracle = Fts5()
    rows = list(enumerate(first, start=1))
    for pid, text in rows:
        oracle.add(pid, text)
    index = LexicalIndex.build(rows)
    live = dict(rows)
    next_id = len(rows) + 1
    for is_add, text, pick in ops:
        if is_add or not live:
            oracle.add(next_id, text)
            index.add([(next_id, text)])
            live[next_id] = text
            next_id += 1
        else:
            pid = sorted(live)[pick % len(live)]
            oracle.remove(pid)
            index.remove([pid])
            del live[pid]
    assert_same(index, oracle, query)
    want = {}
    for t in dict.fromkeys(query):
        (token,) = tokens(t)
        n = sum(token in tokens(text) for text in live.values())
        if n:
            want[t] = n
    assert index.doc_freq(query) == want


def test_top_k_and_allowed_ids() -> None:
    rows = [(i, "storm " * (i % 4 + 1) + "river") for i in range(1, 41)]
    index = LexicalIndex.build(rows)
    oracle = Fts5()
    for pid, text in rows:
        oracle.add(pid, text)
    top = index.search(["storm"], 5)
    assert len(top) == 5
    assert [s for _, s in top] == sorted(oracle.search(["storm"], 5).values(), reverse=True)
    allowed = np.array([3, 7, 11, 999], dtype=np.int64)  # 999 is no passage
    assert {p for p, _ in index.search(["storm", "river"], 10, allowed)} == {3, 7, 11}
    assert index.search(["absent"], 5) == []
    assert index.search(["storm"], 0) == []


def test_segments_merge_and_drop_deleted_postings() -> None:
    index = LexicalIndex()
    for pid in range(1, 30):
        index.add([(pid, "port cod")])
    index.remove(list(range(1, 20)))
    assert {p for p, _ in index.search(["port"], 100)} == set(range(20, 30))
    assert index.doc_freq(["port", "cod"]) == {"port": 10, "cod": 10}
    index.remove(list(range(20, 30)))
    assert index.search(["port"], 10) == [] and index.doc_freq(["port"]) == {}


def test_the_live_index_keeps_it_in_step_with_writes(tiny_engine: QAEngine) -> None:
    live = tiny_engine.live
    assert live.lexical is None  # FTS5 answers until it is built
    before = live.bm25(["evacu"], 10)
    live.start_lexical(wait=True)
    assert live.lexical is not None
    assert_equal_ranking(live.bm25(["evacu"], 10), before)
    tiny_engine.add([Article("ferry", "Ferry", "The ferry evacuated forty passengers at dawn.")])
    found = {p for p, _ in live.bm25(["evacu", "ferri"], 10)}
    ferry = {
        h.passage.passage_id
        for h in tiny_engine.search("ferry evacuated", 10, mode="bm25")
        if h.passage.doc_id == "ferry"
    }
    assert ferry and ferry <= found
    tiny_engine.delete(["ferry"])
    assert not ferry & {p for p, _ in live.bm25(["evacu", "ferri"], 10)}
    assert live.problems() == []
    # the store's own FTS5 ranking agrees with the one in memory
    terms = ["evacu", "volcano", "mayor"]
    assert_equal_ranking(live.bm25(terms, 10), tiny_engine.store.bm25(terms, 10))


def test_writes_during_the_build_are_not_lost(tiny_engine: QAEngine) -> None:
    """Articles written while the index is being built are in it once it is ready."""
    live = tiny_engine.live
    writer = threading.Thread(
        target=lambda: [
            tiny_engine.add([Article(f"late-{i}", f"Late {i}", f"Late news number {i} arrived.")])
            for i in range(15)
        ]
    )
    writer.start()
    live.start_lexical()
    writer.join()
    live.start_lexical(wait=True)
    live.ensure_synced()
    assert live.problems() == []
    assert len(live.bm25(["late"], 50)) == 15


def test_a_change_applied_twice_counts_once() -> None:
    """The live index may replay an add it has (a build's catch-up, then the next sync): the
    passage must not be counted twice, and a removed id never comes back."""
    oracle = Fts5()
    index = LexicalIndex.build([(1, "storm river"), (2, "storm")])
    oracle.add(1, "storm river")
    oracle.add(2, "storm")
    index.add([(1, "storm river"), (2, "storm")])
    assert_same(index, oracle, ["storm", "river"])
    index.remove([2])
    oracle.remove(2)
    index.add([(2, "storm")])  # a stale replay of the add
    assert_same(index, oracle, ["storm", "river"])
    assert index.doc_freq(["storm"]) == {"storm": 1}


def test_tokens_follow_unicode61() -> None:
    assert tokens("josé café_own Ørsted") == ["jose", "cafe", "own", "ørsted"]
    assert tokens("plain words") == ["plain", "words"]


def test_close_waits_for_a_lexical_build_reading_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: the store's connections were closed under a build still reading from it, which
    crashed a CI run (segfault in `changes_since`, a server stopped right after it started)."""
    from qa.config import Settings
    from qa.embed import HashingEmbedder
    from qa.store import lexical

    config = Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(config, HashingEmbedder())
    engine.add([Article(f"a{i}", f"T{i}", f"T{i}\nStory {i} about the harbour.") for i in range(5)])
    real_build = lexical.LexicalIndex.build

    def slow_build(rows: object) -> lexical.LexicalIndex:
        time.sleep(0.5)  # the build is still going when close() is called
        return real_build(rows)  # type: ignore[arg-type]

    monkeypatch.setattr(lexical.LexicalIndex, "build", staticmethod(slow_build))
    engine.live.start_lexical()
    thread = engine.live._lexical_thread
    assert thread is not None and thread.is_alive()
    engine.close()
    assert not thread.is_alive()
    assert engine.live.lexical is not None  # it finished, caught up, before the store closed


def test_a_build_overtaken_by_the_logs_pruning_starts_over_in_its_own_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: it handed on to a new thread after letting go of the old one, and stop_lexical could
    see no build in that gap, so close() closed the store under the new one."""
    from qa.config import Settings
    from qa.embed import HashingEmbedder

    config = Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(config, HashingEmbedder())
    engine.add([Article(f"a{i}", f"T{i}", f"T{i}\nStory {i} about the harbour.") for i in range(5)])
    real = engine.store.changes_since
    calls: list[int] = []

    def pruned_once(seq: int) -> tuple[list[tuple[int, str, int]], int, int]:
        calls.append(seq)
        if len(calls) == 1:  # as if another process pruned the log past this build
            return [(seq + 2, "add", 10**9)], seq + 2, seq + 2
        return real(seq)

    monkeypatch.setattr(engine.store, "changes_since", pruned_once)
    engine.live.start_lexical()
    thread = engine.live._lexical_thread
    engine.live.stop_lexical()
    assert thread is not None and not thread.is_alive()
    assert engine.live._lexical_thread is thread and len(calls) == 2
    assert engine.live.lexical is not None and len(engine.live.lexical) == engine.counts()[1]
    engine.close()


def test_a_reload_keeps_the_lexical_build_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: a reload of the dense index (the log pruned past this process by another) let go of
    the build in progress and started a second one; close() waited for the second only."""
    from qa.config import Settings
    from qa.embed import HashingEmbedder
    from qa.store import lexical

    config = Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(config, HashingEmbedder())
    engine.add([Article(f"a{i}", f"T{i}", f"T{i}\nStory {i} about the harbour.") for i in range(5)])
    real_build = lexical.LexicalIndex.build
    started, release = threading.Event(), threading.Event()
    builds: list[int] = []

    def held_build(rows: object) -> lexical.LexicalIndex:
        builds.append(1)
        started.set()
        release.wait(10)
        return real_build(rows)  # type: ignore[arg-type]

    monkeypatch.setattr(lexical.LexicalIndex, "build", staticmethod(held_build))
    live = engine.live
    live.start_lexical()
    assert started.wait(10)
    thread = live._lexical_thread
    monkeypatch.setattr(live, "sync", lambda: live.seq == engine.store.last_seq())
    live.seq -= 1  # as if the log no longer reached back to it: ensure_synced reloads
    live.ensure_synced()
    assert live._lexical_thread is thread and thread is not None and thread.is_alive()
    release.set()
    engine.close()
    assert not thread.is_alive() and builds == [1]
    assert live.lexical is not None and len(live.lexical) == engine.counts()[1]


def test_removed_ids_cost_a_byte_each_and_stay_removed() -> None:
    """Was: a set of every passage id ever removed, ~70 bytes each, for the life of the server."""
    index = LexicalIndex.build([(i, "harbour storm") for i in range(20_000)])
    index.remove(list(range(0, 20_000, 2)))
    index.remove([25_000])  # an id it never held (a replayed change): remembered all the same
    index.add([(0, "harbour"), (25_000, "harbour"), (30_000, "storm")])  # two replayed adds
    assert len(index) == 10_001
    assert index._gone.nbytes <= 2 * 30_001  # the arrays grow by half as ids do
    assert [p for p, _ in index.search(["harbour"], 3)] == [1, 3, 5]

"""The dense index changes kind with the archive: exact search up to ``EXACT_LIMIT`` passages,
IVF above it, made again as it grows. It was chosen only when the index was rebuilt from the
store (no usable snapshot), so an archive that grew through writes stayed exact for ever."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Article
from qa.store import dense
from qa.store import live as live_module

TOPICS = ["harbour", "election", "vaccine", "orchestra", "wildfire", "tariff", "glacier", "derby"]


def article(i: int) -> Article:
    topic = TOPICS[i % len(TOPICS)]
    sentences = " ".join(
        f"Report {i} on the {topic} says point {j} about the {topic} in town {i}." for j in range(7)
    )
    return Article(f"a{i}", f"The {topic} story {i}", f"The {topic} story {i}\n{sentences}")


def open_engine(tmp_path: Path) -> QAEngine:
    settings = Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)
    return QAEngine.open(settings, HashingEmbedder())


def test_an_archive_grown_by_writes_switches_to_ivf_and_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dense, "EXACT_LIMIT", 60)
    engine = open_engine(tmp_path)
    for first in range(0, 40, 10):  # written in batches, as a live archive grows
        engine.add([article(i) for i in range(first, first + 10)])
    passages = engine.live.dense.ntotal
    assert passages > 60 and engine.live.dense.kind == "flat"  # grown in place
    assert engine.live.regrow()  # what `qa index` and a server's snapshot loop do
    engine.close()  # saved

    engine = open_engine(tmp_path)  # from the snapshot, not rebuilt
    assert engine.live.dense.kind == "ivf" and engine.live.dense.ntotal == passages
    assert engine.live.problems() == []
    result = engine.ask("What does report 17 on the orchestra say?", top_k=5, abstain=False)
    assert result.answers[0].article.doc_id == "a17"

    engine.delete([f"a{i}" for i in range(5, 40)])
    assert engine.live.regrow()  # what a server's snapshot loop does
    assert engine.live.dense.kind == "flat" and engine.live.problems() == []
    engine.close()
    engine = open_engine(tmp_path)
    assert engine.live.dense.kind == "flat"
    assert {d["doc_id"] for d in engine.documents()} == {f"a{i}" for i in range(5)}
    engine.close()


def test_a_server_regrows_its_index_in_the_snapshot_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.service import Service

    monkeypatch.setattr(dense, "EXACT_LIMIT", 60)
    settings = Settings(
        corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False, snapshot_seconds=1
    )
    engine = QAEngine.open(settings, HashingEmbedder())
    service = Service(engine, None).start()
    try:
        engine.add([article(i) for i in range(40)])
        assert engine.live.dense.kind == "flat"
        deadline = time.monotonic() + 30
        while engine.live.dense.kind == "flat" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert engine.live.dense.kind == "ivf" and engine.live.problems() == []
    finally:
        service.stop()


def test_regrow_brings_the_in_memory_bm25_along(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: regrow moved the index's position to the rebuilt index's, and what another process
    wrote meanwhile never reached the in-memory BM25: its article was out of bm25 mode for good,
    and a deleted article's passages stayed in it."""
    monkeypatch.setattr(dense, "EXACT_LIMIT", 60)
    server = open_engine(tmp_path)
    server.add([article(i) for i in range(40)])
    server.live.start_lexical(wait=True)
    other = open_engine(tmp_path)  # `qa add` and `qa delete` beside the server
    other.add([Article("a100", "Zeppelin news", "Zeppelin news\nA zeppelin landed in town.")])
    other.delete(["a3"])
    other.close()
    assert server.live.regrow()
    assert server.live.problems() == []
    found = server.ask("Where did the zeppelin land?", top_k=1, mode="bm25", abstain=False)
    assert found.answers[0].article.doc_id == "a100"
    assert server.live.save()  # the regrown index is written
    server.close()


def test_a_failed_rebuild_is_not_tried_again_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(dense, "EXACT_LIMIT", 60)
    engine = open_engine(tmp_path)
    engine.add([article(i) for i in range(40)])
    calls = []

    def fails(*args: object) -> None:
        calls.append(args)
        raise MemoryError

    monkeypatch.setattr(live_module.LiveIndex, "rebuild", classmethod(lambda cls, *a: fails(*a)))
    assert not engine.live.regrow() and not engine.live.regrow()
    assert len(calls) == 1 and "rebuilding the dense index failed" in caplog.text
    assert engine.live.dense.kind == "flat" and engine.live.problems() == []
    engine.close()


def test_qa_index_leaves_an_ivf_index_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setattr(dense, "EXACT_LIMIT", 60)
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: HashingEmbedder())
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):
        a = article(i)
        (corpus / f"{a.doc_id}.txt").write_text(a.text, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    )
    assert result.exit_code == 0, result.output
    assert "exact index of 1" in result.output  # said before the rebuild, on stderr
    assert ": rebuilding the dense index (no model call)" in result.output
    engine = open_engine(tmp_path)
    assert engine.live.dense.kind == "ivf" and engine.live.problems() == []
    engine.close()

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
    engine.close()  # regrown and saved: `qa index` or a server's stop

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

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[QAEngine]:
    """An empty engine (hashing embedder) whose corpus folder is ``tmp_path / "corpus"``."""
    settings = Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(settings, HashingEmbedder())
    yield engine
    engine.close()


def stored(engine: QAEngine) -> set[str]:
    """The ids of the articles in the store."""
    return {str(d["doc_id"]) for d in engine.documents()}

"""A real uvicorn serving the real app and store with the hashing embedder (no torch), for tests
that kill the server: ``python -m tests.store.fake_server INDEX_DIR PORT [CORPUS]``."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from api.app import create_app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine


def main() -> None:
    index_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    corpus = Path(sys.argv[3]) if len(sys.argv) > 3 else index_dir / "no-corpus"
    settings = Settings(
        index_dir=index_dir,
        corpus=corpus,
        watch=len(sys.argv) > 3,
        snapshot_seconds=0.5,  # snapshots often, so kills land during snapshot writes too
        min_confidence=0.0,
    )
    engine = QAEngine.open(settings, HashingEmbedder(), rebuild=True)
    uvicorn.run(create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()

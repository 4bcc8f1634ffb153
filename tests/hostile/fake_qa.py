"""The real `qa` command with the hashing embedder instead of the model, for tests that run
several at once: ``python -m tests.hostile.fake_qa index --corpus C --index-dir D``."""

from __future__ import annotations

import qa.engine
from qa.embed import HashingEmbedder


def main() -> None:
    qa.engine.load_embedder = lambda settings: HashingEmbedder()  # type: ignore[assignment]
    from api.cli import main as qa_main

    qa_main()


if __name__ == "__main__":
    main()

"""The real `qa` command with the hashing embedder instead of the model, for tests that run
several at once: ``python -m tests.hostile.fake_qa index --corpus C --index-dir D``.
``FAKE_QA_THREAD_IDLE=S`` has the server's thread pool (anyio's) retire idle threads after S
seconds instead of 10, so that a test can see it turn over in a few seconds."""

from __future__ import annotations

import os

import qa.engine
from qa.embed import HashingEmbedder


def main() -> None:
    qa.engine.load_embedder = lambda settings: HashingEmbedder()  # type: ignore[assignment]
    idle = os.environ.get("FAKE_QA_THREAD_IDLE")
    if idle:  # retire idle request threads after this many seconds, not 10: a pool turns over
        from anyio._backends._asyncio import WorkerThread

        WorkerThread.MAX_IDLE_TIME = float(idle)  # type: ignore[assignment]
    from api.cli import main as qa_main

    qa_main()


if __name__ == "__main__":
    main()

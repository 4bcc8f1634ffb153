"""Processes sharing an index folder never see one's manifest beside the other's snapshot: two
writers rewriting the snapshot of one change over and over while a third process opens the
index in a loop, every open loads a snapshot (never a rebuild, never a warning). Without the lock
on the folder (``snapshot_lock``) about half of those opens rebuilt, finding a snapshot between
its rename and its manifest, or a manifest of the other writer's bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.records import Article

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, logging, sys, time
from pathlib import Path
from qa.store.db import Store
from qa.store.live import LiveIndex
folder, role, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
said = []
class Said(logging.Handler):
    def emit(self, record):
        said.append(record.getMessage())
logging.getLogger("qa").addHandler(Said())
logging.getLogger("qa").setLevel(logging.INFO)
store = Store.open(folder)
live = LiveIndex.open(store, 1024)
rounds = rebuilt = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    rounds += 1
    if role == "writer":
        live.saved_seq = -1  # the same change written again, the others removed
        live.save(prune_log=False)
    else:
        rebuilt += LiveIndex.open(store, 1024).saved_seq < 0
print(json.dumps({"role": role, "rounds": rounds, "rebuilt": rebuilt, "said": said}))
"""


def test_two_writers_and_a_reader_sharing_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    settings = Settings(corpus=tmp_path / "corpus", index_dir=folder, watch=False)
    engine = QAEngine.open(settings, HashingEmbedder())
    engine.add(
        [
            Article(
                doc_id=f"d{i}",
                title=f"Report {i}",
                text=f"Report {i}\n"
                + " ".join(f"Item {j} of report {i} was read." for j in range(30)),
            )
            for i in range(200)
        ]
    )
    engine.close()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder), role, "6"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for role in ("writer", "writer", "reader")
    ]
    reports = [json.loads(child.communicate(timeout=120)[0]) for child in children]
    for report in reports:
        assert report["rounds"] > 10 and report["rebuilt"] == 0 and report["said"] == [], report
    seq = engine.store.last_seq()
    assert sorted(p.name for p in folder.glob("dense.*")) == [
        f"dense.{seq}.faiss",
        f"dense.{seq}.json",
    ]
    assert not list(folder.glob(".dense-*.tmp"))

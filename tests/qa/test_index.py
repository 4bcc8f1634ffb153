import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine, ensure_index
from qa.errors import IndexStateError
from qa.index import open_index
from tests.conftest import ROOT


def test_build_then_skip_then_rebuild_on_change(
    tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    manifest, built = ensure_index(tiny_settings, fake_embedder)
    assert built and manifest.n_documents == 2 and manifest.n_passages > 0
    again, built_again = ensure_index(tiny_settings, fake_embedder)
    assert not built_again and again.key == manifest.key

    (tiny_settings.corpus / "new.txt").write_text(
        "A third article arrived today.", encoding="utf-8"
    )
    changed, rebuilt = ensure_index(tiny_settings, fake_embedder)
    assert rebuilt and changed.n_documents == 3 and changed.key != manifest.key

    other_chunking = tiny_settings.model_copy(update={"passage_sentences": 1, "passage_overlap": 0})
    rechunked, rebuilt = ensure_index(other_chunking, fake_embedder)
    assert rebuilt and rechunked.chunking == {"sentences": 1, "overlap": 0}
    # only the live version stays on disk
    assert [p.name for p in tiny_settings.index_dir.iterdir() if p.is_dir()] == [rechunked.key]


def test_manifest_records_what_the_index_was_built_from(
    tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    manifest, _ = ensure_index(tiny_settings, fake_embedder)
    on_disk = json.loads((tiny_settings.index_dir / manifest.key / "manifest.json").read_text())
    assert on_disk["model_sha256"] == fake_embedder.fingerprint
    assert on_disk["dimension"] == fake_embedder.dimension
    assert on_disk["chunking"] == {"sentences": 3, "overlap": 1}
    assert len(on_disk["corpus_hash"]) == 64 and on_disk["package_version"]


def test_loaded_index_round_trips(tiny_settings: Settings, fake_embedder: HashingEmbedder) -> None:
    ensure_index(tiny_settings, fake_embedder)
    index = open_index(tiny_settings.index_dir, fake_embedder)
    for p in index.passages:
        assert index.articles[p.doc_id].text[p.span.start : p.span.end] == p.text
    vectors = index.vectors([p.passage_id for p in index.passages])
    expected = fake_embedder.embed([p.text for p in index.passages])
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)


def test_index_from_another_model_is_refused(
    tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    ensure_index(tiny_settings, fake_embedder)
    with pytest.raises(IndexStateError, match="built with model hashing-1024.*run `qa index`"):
        open_index(tiny_settings.index_dir, HashingEmbedder(dimension=64))
    # ...and serving with another model rebuilds instead of returning garbage
    engine = QAEngine.open(tiny_settings, HashingEmbedder(dimension=64))
    assert engine.index.manifest.dimension == 64


def test_missing_and_damaged_indexes_are_clear_errors(
    tmp_path: Path, tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    with pytest.raises(IndexStateError, match="no index in .*run `qa index` first"):
        open_index(tmp_path / "empty")
    manifest, _ = ensure_index(tiny_settings, fake_embedder)
    (tiny_settings.index_dir / manifest.key / "dense.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexStateError, match="damaged"):
        open_index(tiny_settings.index_dir, fake_embedder)


def test_failed_build_leaves_previous_index_live(
    tiny_settings: Settings, fake_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, _ = ensure_index(tiny_settings, fake_embedder)
    (tiny_settings.corpus / "new.txt").write_text(
        "Another article about volcanoes.", encoding="utf-8"
    )

    def boom(self: object, folder: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("qa.lexical.BM25Index.save", boom)
    with pytest.raises(OSError, match="disk full"):
        ensure_index(tiny_settings, fake_embedder)
    index = open_index(tiny_settings.index_dir, fake_embedder)
    assert index.manifest.key == before.key and len(index.articles) == 2
    assert not [p for p in tiny_settings.index_dir.iterdir() if p.name.startswith(".tmp-")]


KILLED_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from qa.config import Settings
    from qa.embed import HashingEmbedder
    from qa.engine import ensure_index
    import qa.lexical

    def slow_save(self, folder):
        Path(sys.argv[3]).write_text("saving")
        time.sleep(60)

    qa.lexical.BM25Index.save = slow_save
    ensure_index(Settings(corpus=Path(sys.argv[1]), index_dir=Path(sys.argv[2])), HashingEmbedder())
    """
)


def test_killed_build_leaves_previous_index_intact(
    tmp_path: Path, tiny_settings: Settings, fake_embedder: HashingEmbedder
) -> None:
    before, _ = ensure_index(tiny_settings, fake_embedder)
    (tiny_settings.corpus / "new.txt").write_text(
        "Another article about volcanoes.", encoding="utf-8"
    )
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_BUILD,
            str(tiny_settings.corpus),
            str(tiny_settings.index_dir),
            str(marker),
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the build never reached the write phase"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    index = open_index(tiny_settings.index_dir, fake_embedder)
    assert index.manifest.key == before.key and len(index.articles) == 2
    # the next build cleans up the half-written folder and succeeds
    after, built = ensure_index(tiny_settings, fake_embedder)
    assert built and after.n_documents == 3
    assert sorted(p.name for p in tiny_settings.index_dir.iterdir() if p.is_dir()) == [after.key]

"""Issue 12, command-line and corpus cases: `qa` as a subprocess (hashing embedder)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from tests.conftest import ROOT
from tests.hostile.conftest import BAD_INPUTS, qa_env, run_qa


def test_empty_api_key_is_refused_at_start_naming_the_variable(tmp_path: Path) -> None:
    for key, said in (("", "empty"), ("   ", "blank (white space only)")):
        r = run_qa("serve", "--port", "1", "--index-dir", str(tmp_path), QA_API_KEY=key)
        assert r.returncode == 2 and f"QA_API_KEY is set but {said}" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


def test_eval_help_works_as_a_module() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "api.cli", "eval", "--help"],
        cwd=ROOT,
        env=qa_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "Usage" in r.stdout and "eval" in r.stdout, r.stderr


def test_bad_input_files_are_skipped_with_reasons_and_the_rest_indexed(tmp_path: Path) -> None:
    """tests/bad_inputs/files: binary, latin-1, empty, UTF-16, BOM and truncated JSONL, lone
    surrogates, NaN, upper-case suffixes, subfolders. The list grows with every bug."""
    corpus = shutil.copytree(BAD_INPUTS / "files", tmp_path / "files")
    expected = json.loads((corpus / "expected.json").read_text())
    r = run_qa("index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    indexed, skipped = len(expected["indexed"]), len(expected["skipped"])
    assert f"{indexed} added" in r.stdout and f"{skipped} skipped" in r.stdout, r.stdout
    for where, reason in expected["skipped"].items():
        assert f"skipped files/{where}" in r.stderr or f"{where}: " in r.stderr, where
        line = next(x for x in r.stderr.splitlines() if f"/{where}" in x or f"{where}:" in x)
        assert reason in line, (where, line)
    engine = QAEngine.open(Settings(index_dir=tmp_path / "index", watch=False), HashingEmbedder())
    try:
        ids = [str(d["doc_id"]) for d in engine.documents()]
        assert sorted(ids) == sorted(expected["indexed"])
        for doc_id in ids:  # every listed id opens, `/` and upper case included
            engine.document(doc_id)
    finally:
        engine.store.close()


def test_changing_only_url_date_or_metadata_is_picked_up(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    record = {"id": "m1", "text": "Port reopens. Ships returned on Friday.", "url": "http://a"}
    where = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    for change in ({}, {"url": "http://b"}, {"published": "2024-01-02"}, {"metadata": {"k": 1}}):
        record = {**record, **change}
        (corpus / "one.jsonl").write_text(json.dumps(record) + "\n")
        r = run_qa("index", *where)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("1 added" if not change else "0 added, 1 replaced"), r.stdout

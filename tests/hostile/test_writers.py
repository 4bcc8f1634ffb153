"""Issue 12, concurrent writers and damaged index folders: real `qa` subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.store.writer_lock import WriterLock
from tests.conftest import ROOT, SEEDS, free_port
from tests.hostile.conftest import qa_command, qa_env, run_qa
from tests.store.test_durability import doc


def write_articles(corpus: Path, ids: range) -> None:
    corpus.mkdir(exist_ok=True)
    for i in ids:
        (corpus / f"d{i}.txt").write_text(str(doc(i)["text"]))


def check_complete(
    index_dir: Path, expected: set[str], may_have: frozenset[str] = frozenset()
) -> None:
    """Every expected article, nothing else, indexes in step, answers verbatim at its offsets."""
    engine = QAEngine.open(Settings(index_dir=index_dir, watch=False), HashingEmbedder())
    try:
        assert engine.live.problems() == []
        stored = {str(d["doc_id"]) for d in engine.documents()}
        assert expected <= stored <= expected | may_have
        for doc_id in sorted(expected)[::7]:
            word = str(doc(int(doc_id[1:]))["text"]).split()[2]
            hits = engine.search(f"{word} plan", 3, mode="bm25")
            assert hits and hits[0].passage.doc_id == doc_id
            text = engine.document(doc_id).text
            p = hits[0].passage
            assert text[p.span.start : p.span.end] == p.text
    finally:
        engine.store.close()


def two_at_once(args: list[str], **env: str) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            args,
            cwd=ROOT,
            env=qa_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_two_qa_index_at_once_leave_one_complete_index(tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, range(200))
    expected = set(range(200))
    waited = 0
    for round_ in range(4):
        args = qa_command("index", "--corpus", str(corpus), "--index-dir", str(index_dir))
        runs = two_at_once(args)
        assert [r.returncode for r in runs] == [0, 0], [r.stderr[-500:] for r in runs]
        waited += sum("is being written by pid" in r.stderr for r in runs)
        # One run did the work; the other, having waited, found it done: no double embedding.
        reports = sorted(r.stdout.split(";")[0] for r in runs)
        assert reports[1].startswith("up to date"), reports
        check_complete(index_dir, {f"d{i}" for i in expected})
        # Change the corpus for the next round: some removed, some added, some edited.
        for i in range(round_ * 10, round_ * 10 + 5):
            (corpus / f"d{i}.txt").unlink()
            expected.discard(i)
        write_articles(corpus, range(200 + round_ * 5, 205 + round_ * 5))
        expected |= set(range(200 + round_ * 5, 205 + round_ * 5))
    assert waited >= 1  # the runs did overlap, and the second one said whom it waited for


@pytest.mark.slow
def test_two_real_qa_index_at_once_on_the_seeds(tmp_path: Path) -> None:
    """The real `qa index` with the real model, twice at once on one folder."""
    index_dir = tmp_path / "index"
    args = [sys.executable, "-m", "api.cli", "index", "--corpus", str(SEEDS)]
    runs = two_at_once([*args, "--index-dir", str(index_dir)])
    assert [r.returncode for r in runs] == [0, 0], [r.stderr[-500:] for r in runs]
    assert sorted(r.stdout.split(";")[0][:10] for r in runs)[1].startswith("up to date")
    asked = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "ask",
            "--json",
            "-k",
            "1",
            "--index-dir",
            str(index_dir),
            "--corpus",
            str(SEEDS),
            "Where were the Hamas documents found?",
        ],
        cwd=ROOT,
        env=qa_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert asked.returncode == 0, asked.stderr
    assert "underground Hamas command centre" in asked.stdout


def test_a_second_writer_waits_and_says_for_whom(tmp_path: Path) -> None:
    write_articles(tmp_path / "corpus", range(3))
    index_dir = tmp_path / "index"
    with WriterLock(index_dir).hold():
        proc = subprocess.Popen(
            qa_command("add", str(tmp_path / "corpus"), "--index-dir", str(index_dir)),
            cwd=ROOT,
            env=qa_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.startswith("3 added")
    assert f"{index_dir} is being written by pid {os.getpid()}" in err


def test_qa_index_keeps_files_it_does_not_own(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    (index_dir / ".git").mkdir(parents=True)
    (index_dir / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (index_dir / "my-notes").mkdir()
    (index_dir / "my-notes" / "todo.md").write_text("keep me")
    (index_dir / "CURRENT").write_bytes(b"\x00\xff\x13garbage")  # the old layout's, damaged
    (index_dir / "v1").mkdir()
    (index_dir / "v1" / "manifest.json").write_text('{"version": 1, "mod')  # truncated
    write_articles(index_dir / "corpus", range(5))  # a corpus inside the index folder
    for _ in range(2):
        r = run_qa("index", "--corpus", str(index_dir / "corpus"), "--index-dir", str(index_dir))
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
    assert "previous format" in r.stderr  # the old layout is named and left alone
    for kept in (".git/HEAD", "my-notes/todo.md", "CURRENT", "v1/manifest.json", "corpus/d0.txt"):
        assert (index_dir / kept).is_file(), kept
    # The index folder as the corpus folder (`--index-dir .` beside the articles).
    write_articles(tmp_path / "both", range(4))
    r = run_qa("index", "--corpus", str(tmp_path / "both"), "--index-dir", str(tmp_path / "both"))
    assert r.returncode == 0 and "holds 4 documents" in r.stdout, r.stderr
    assert all((tmp_path / "both" / f"d{i}.txt").is_file() for i in range(4))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_store_is_named_by_serve_and_repaired_by_index(tmp_path: Path, damage: str) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, range(20))
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    assert run_qa("index", *where).returncode == 0
    api_written = tmp_path / "api.jsonl"  # stands for articles written through the API
    api_written.write_text(
        '{"id": "x1", "text": "Written through the API. Only the store has it."}\n'
    )
    assert run_qa("add", str(api_written), "--index-dir", str(index_dir)).returncode == 0
    db = index_dir / "store.sqlite3"
    data = db.read_bytes()
    db.write_bytes(
        b"\x00\xffnot a database" * 64 if damage == "garbage" else data[: len(data) // 3]
    )
    served = run_qa("serve", "--port", str(free_port()), *where, timeout=60)
    assert served.returncode == 1 and "Traceback" not in served.stderr
    assert str(index_dir) in served.stderr and "qa index" in served.stderr, served.stderr
    repaired = run_qa("index", *where)  # no --force
    assert repaired.returncode == 0, repaired.stderr
    assert (
        "is damaged" in repaired.stderr and "moved it to store.sqlite3.damaged-" in repaired.stderr
    )
    assert list(index_dir.glob("store.sqlite3.damaged-*"))  # set aside, not deleted
    # x1 comes back when SQLite can still read it from the damaged file.
    check_complete(index_dir, {f"d{i}" for i in range(20)}, frozenset({"x1"}))


def test_damaged_dense_snapshot_is_rebuilt_by_index(tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_articles(corpus, range(30))
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    assert run_qa("index", *where).returncode == 0
    (snapshot,) = index_dir.glob("dense.*.faiss")
    snapshot.write_bytes(b"\x00" * 100)
    again = run_qa("index", *where)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert "unreadable" in again.stderr  # says which file and what it does
    check_complete(index_dir, {f"d{i}" for i in range(30)})
    # A readable snapshot of the same size but of other passage ids, copied over this one: its
    # manifest's sha256 no longer matches the file, so it is caught as it is read.
    other, corpus2 = tmp_path / "other", tmp_path / "corpus2"
    write_articles(corpus2, range(100, 160))
    other_where = ["--corpus", str(corpus2), "--index-dir", str(other)]
    assert run_qa("index", *other_where).returncode == 0
    for i in range(100, 130):
        (corpus2 / f"d{i}.txt").unlink()
    assert run_qa("index", *other_where).returncode == 0  # 30 passages, ids 31..60
    (snapshot,) = index_dir.glob("dense.*.faiss")
    snapshot.write_bytes(next(other.glob("dense.*.faiss")).read_bytes())
    fixed = run_qa("index", *where)
    assert fixed.returncode == 0 and "repairing" in fixed.stderr, fixed.stderr
    assert "damaged: its sha256" in fixed.stderr, fixed.stderr
    check_complete(index_dir, {f"d{i}" for i in range(30)})

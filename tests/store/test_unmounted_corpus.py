"""A corpus on its own disk, unmounted while `qa serve` runs: the watcher sees the folder change
(another device at the path) and syncs against the empty mount point. Before, that deleted every
article of the disk; now they stay until the disk is back, and the server goes on answering.
Real server process, real tmpfs, real umount. Needs permission to mount (root, as CI runs)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, write_corpus
from tests.tmpfs import mount_tmpfs, tmpfs_at

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tmpfs is Linux's")

FILES = {
    "quake.txt": "Earthquake shakes coastal town\nA quake of magnitude 5 shook Porto Vale at dawn.\n",
    "harvest.txt": "Record grape harvest\nVineyards in the valley picked a record crop this year.\n",
}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs_at(tmp_path / "corpus") as point:
        yield point


def ids(base: str) -> set[str]:
    docs = httpx.get(f"{base}/documents", timeout=10).json()
    return {d["doc_id"] for d in docs}


def wait_for(check: object, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_an_unmounted_corpus_disk_deletes_nothing(disk: Path, tmp_path: Path) -> None:
    write_corpus(disk, FILES)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.store.fake_server",
                str(tmp_path / "i"),
                str(port),
                str(disk),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        assert wait_for(lambda: _up(base) and ids(base) == {"quake", "harvest"}, 60)
        subprocess.run(["umount", str(disk)], check=True)
        assert wait_for(lambda: "on another disk" in log.read_text()), log.read_text()
        assert ids(base) == {"quake", "harvest"}
        answer = httpx.post(
            f"{base}/ask", json={"question": "record grape harvest", "mode": "bm25"}, timeout=10
        ).json()
        assert answer["answers"][0]["doc_id"] == "harvest"
        # the disk is back, with one file fewer: the sync runs again, as it should
        mount_tmpfs(disk)
        write_corpus(disk, {"quake.txt": FILES["quake.txt"]})
        assert wait_for(lambda: ids(base) == {"quake"}), ids(base)
    finally:
        proc.kill()
        proc.wait()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False

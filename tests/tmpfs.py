"""Real tmpfs mounts for tests of disks that fill up or go away (Linux, permission to mount:
root, as CI runs; skipped elsewhere)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def mount_tmpfs(point: Path, size: str = "4m") -> None:
    """Mount a fresh tmpfs of ``size`` on the folder ``point``, or skip the test."""
    if sys.platform != "linux":
        pytest.skip("tmpfs is Linux's")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@contextmanager
def tmpfs_at(point: Path, size: str = "4m") -> Iterator[Path]:
    """``point`` (made if needed) with a tmpfs mounted on it, unmounted (lazily) at the end."""
    point.mkdir(parents=True, exist_ok=True)
    mount_tmpfs(point, size)
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)

"""The dense index: FAISS over L2-normalised passage vectors, keyed by the database's passage ids.

Exact search (``IndexIDMap`` over ``IndexFlatIP``) up to ``EXACT_LIMIT`` vectors; above that an
inverted-file index (``IndexIVFFlat``) whose centroids are trained on the stored vectors. Both add
and remove by id in place. Searches and changes take one lock: FAISS indexes are safe for
concurrent searches but not for a search during a change, and a change here lasts microseconds to
a few milliseconds (removal from a flat index shifts the vectors behind it).

A snapshot on disk is ``dense.<seq>.faiss``: the index as of change ``seq`` of the database's
change log, written to a temporary file, fsynced and renamed, so a crash leaves either the old or
the new snapshot. The database can always replay the changes after ``seq``.

Beside it, ``dense.<seq>.json`` (its ``Manifest``) holds the snapshot's size and sha256, so that a
snapshot damaged on disk is found when it is loaded (``load_snapshot``), not served, and what
``qa.store.live`` needs to tell whether it is of the store's own history. The manifest is written
last and commits the snapshot: one without a manifest (its writer died, or an older version wrote
it) is not loaded, and the snapshot before it, which stays until the new one's manifest is
written, is loaded instead. Writing a snapshot and its manifest, and reading the pair, hold a lock
on the folder (``snapshot_lock``): two processes sharing a folder never leave one's manifest
beside the other's snapshot.

Temporary files (``.dense-*.tmp``) are locked by their writer (``flock``) while they are written;
one whose lock is free was left by a writer that died (``kill -9``, power cut) and is removed by
``remove_stale_temps``. A lock, not an age or a pid, because the kernel releases it when its holder
dies however it dies, a live writer may be slow (a large index on a busy disk), and two processes
sharing a folder may not see each other's pids (containers).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

__all__ = [
    "EXACT_LIMIT",
    "DenseIndex",
    "IndexKind",
    "Manifest",
    "latest_snapshot",
    "load_snapshot",
    "remove_snapshots",
    "remove_stale_temps",
    "snapshot_lock",
    "write_manifest",
]

log = logging.getLogger(__name__)

# One query at a time per request thread: OpenMP thread teams for a single query cost more than
# they save and fight the model for the cores (flat search over 20k passages: 19-24 ms with 2
# threads on a busy 2-core machine, 1.2 ms with 1). Requests run in parallel instead. OpenMP's
# thread count is per calling thread, so it is set in each search.
SEARCH_THREADS = 1

# Below this many vectors exact search costs a few milliseconds; above it an IVF index pays off.
EXACT_LIMIT = 100_000
_SNAPSHOT = re.compile(r"^dense\.(\d+)\.faiss$")
_MANIFEST = re.compile(r"^dense\.(\d+)\.json$")
_TEMP_PREFIX, _TEMP_SUFFIX = ".dense-", ".tmp"
MANIFEST_FORMAT = 1

IndexKind = str  # "flat" or "ivf"


@dataclass(frozen=True, slots=True)
class IVFParams:
    nlist: int
    nprobe: int

    @classmethod
    def for_size(cls, n: int) -> IVFParams:
        # 4·sqrt(n) lists (FAISS guidelines: 4-16·sqrt(n)). bench/dense_scale.py measured
        # recall@10 >= 0.95 from nprobe ~ sqrt(nlist) at 100k and 1M; 1.5·sqrt(nlist) leaves room
        # (1M: nlist 4000, nprobe 94, recall@10 ~0.96 at ~2.5 ms).
        nlist = max(16, int(4 * math.sqrt(n)))
        return cls(nlist=nlist, nprobe=max(8, int(1.5 * math.sqrt(nlist))))


@dataclass(frozen=True, slots=True)
class Manifest:
    """``dense.<seq>.json``: what was written as ``dense.<seq>.faiss``, checked on loading it."""

    seq: int
    size: int
    """the snapshot's length in bytes"""
    sha256: str
    ntotal: int
    max_id: int
    """the highest passage id the snapshot holds (-1: it holds none)"""
    written: float
    """when the manifest was written (seconds since the epoch): every passage the snapshot holds
    was stored before then"""


_MANIFEST_FIELDS: dict[str, type | tuple[type, ...]] = {
    "seq": int,
    "size": int,
    "sha256": str,
    "ntotal": int,
    "max_id": int,
    "written": (int, float),
}


class DenseIndex:
    def __init__(self, index: faiss.Index, dimension: int, *, nprobe: int | None = None) -> None:
        self._index = index
        self.dimension = dimension
        self.nprobe = nprobe
        self._lock = threading.Lock()

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def exact(cls, dimension: int) -> DenseIndex:
        return cls(faiss.IndexIDMap(faiss.IndexFlatIP(dimension)), dimension)

    @classmethod
    def ivf(
        cls, training: np.ndarray, params: IVFParams | None = None, *, n: int | None = None
    ) -> DenseIndex:
        """An empty IVF index trained on ``training``, sized for ``n`` vectors (default: as many
        as the training sample)."""
        dimension = training.shape[1]
        params = params or IVFParams.for_size(n or training.shape[0])
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFFlat(quantizer, dimension, params.nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(training, dtype=np.float32))
        index.nprobe = params.nprobe
        return cls(index, dimension, nprobe=params.nprobe)

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, dimension: int) -> DenseIndex:
        """The right kind for this many vectors, filled with them."""
        if len(ids) > EXACT_LIMIT:
            rng = np.random.default_rng(0)
            sample = rng.choice(len(ids), size=min(len(ids), 256 * 1024), replace=False)
            index = cls.ivf(vectors[np.sort(sample)], n=len(ids))
        else:
            index = cls.exact(dimension)
        index.add(ids, vectors)
        return index

    def outgrown(self) -> str | None:
        """Why this index no longer suits its size, or None: a flat index past ``EXACT_LIMIT``,
        an IVF index back under half of it, or one grown to 4x the size its lists were made for
        (``IVFParams.for_size``). ``LiveIndex.regrow`` rebuilds it then."""
        n = self.ntotal
        if not isinstance(self._index, faiss.IndexIVF):
            return (
                None if n <= EXACT_LIMIT else f"exact index of {n:,} vectors, past {EXACT_LIMIT:,}"
            )
        if n <= EXACT_LIMIT // 2:
            return f"IVF index of {n:,} vectors, back under {EXACT_LIMIT // 2:,}"
        if IVFParams.for_size(n).nlist >= 2 * self._index.nlist:
            return f"IVF index of {n:,} vectors in {self._index.nlist:,} lists made for ~{n // 4:,}"
        return None

    @property
    def kind(self) -> IndexKind:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """Every id in the index, sorted (for consistency checks)."""
        with self._lock:
            if isinstance(self._index, faiss.IndexIDMap):
                ids = faiss.vector_to_array(self._index.id_map)
            else:
                ivf = faiss.extract_index_ivf(self._index)
                invlists = ivf.invlists
                assert invlists is not None
                parts = [
                    faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                    for i in range(ivf.nlist)
                    if invlists.list_size(i)
                ]
                ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return np.sort(ids.astype(np.int64))

    # -- changes --------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"vectors of shape {vectors.shape} for {len(ids)} ids")
        with self._lock:
            self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        with self._lock:
            return int(self._index.remove_ids(selector))

    # -- search ---------------------------------------------------------------------------------
    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` (scores, ids) for one query vector, restricted to ``allowed`` ids if given."""
        k = min(k, self.ntotal if allowed is None else len(allowed))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        faiss.omp_set_num_threads(SEARCH_THREADS)
        with self._lock:
            index = self._index
            if isinstance(index, faiss.IndexIVF):
                # A filter keeps a share of the lists' vectors: probe more lists, in proportion.
                share = 1.0 if allowed is None else len(allowed) / max(self.ntotal, 1)
                nprobe = min(index.nlist, math.ceil((self.nprobe or 1) / max(share, 1e-9)))
                scores, ids = index.search(q, k, params=_ivf_params(selector, nprobe))
                if (ids[0] >= 0).sum() < k and nprobe < index.nlist:
                    # The lists nearest the question held fewer than k vectors that the filter
                    # keeps (an outlet or a date range is clustered by topic, not spread over
                    # the lists): probe every list, which is exact search over the allowed ids.
                    scores, ids = index.search(q, k, params=_ivf_params(selector, index.nlist))
            else:
                params = None if selector is None else faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
                scores, ids = index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    # -- persistence ----------------------------------------------------------------------------
    def save(self, folder: Path, seq: int) -> Path:
        """Write ``dense.<seq>.faiss`` atomically and remove older snapshots, but for those with a
        manifest: they stay until the new one has its own (``write_manifest``, then
        ``remove_snapshots``), so that a crash in between leaves one to load."""
        target = folder / f"dense.{seq}.faiss"
        with _temp_file(folder) as (fh, tmp):
            # written through Python's file, so that a full disk is an OSError (ENOSPC) like any
            # other, not FAISS's RuntimeError naming a failed assertion
            writer = faiss.PyCallbackIOWriter(fh.write)  # type: ignore[attr-defined]
            with self._lock:
                faiss.write_index(self._index, writer)
            fh.flush()
            os.fsync(fh.fileno())
            manifest_path(target).unlink(missing_ok=True)  # of the snapshot being replaced
            os.replace(tmp, target)  # still locked: not taken for a dead writer's file
        _fsync_dir(folder)
        for path, older in _snapshots(folder):
            if older < seq and not manifest_path(path).exists():
                path.unlink(missing_ok=True)
        return target

    @classmethod
    def load(cls, path: Path, dimension: int) -> DenseIndex:
        """The index in a FAISS file, unchecked (``load_snapshot`` checks it first)."""
        return cls._read(faiss.read_index(str(path)), path, dimension)

    @classmethod
    def _read(cls, index: faiss.Index, path: Path, dimension: int) -> DenseIndex:
        if index.d != dimension:
            raise ValueError(f"{path.name} has dimension {index.d}, expected {dimension}")
        nprobe = int(index.nprobe) if isinstance(index, faiss.IndexIVF) else None
        return cls(index, dimension, nprobe=nprobe)


def _ivf_params(selector: faiss.IDSelector | None, nprobe: int) -> faiss.SearchParameters:
    if selector is None:
        return faiss.SearchParametersIVF(nprobe=nprobe)  # type: ignore[call-arg]
    return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]


# -- snapshots and their manifests ---------------------------------------------------------------
def manifest_path(snapshot: Path) -> Path:
    """``dense.<seq>.json`` beside ``dense.<seq>.faiss``."""
    return snapshot.with_suffix(".json")


def write_manifest(snapshot: Path, seq: int, *, ntotal: int, max_id: int) -> Manifest:
    """Hash ``snapshot`` as it is on disk and write its manifest atomically, which commits it.

    Hold ``snapshot_lock`` from writing the snapshot until this returns (and ``remove_snapshots``
    has removed the snapshots it replaces)."""
    with open(snapshot, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    manifest = Manifest(seq, size, digest, ntotal, max_id, time.time())
    text = json.dumps({"format": MANIFEST_FORMAT, **asdict(manifest)}, indent=1)
    target = manifest_path(snapshot)
    with _temp_file(snapshot.parent) as (fh, tmp):
        fh.write(text.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
        os.replace(tmp, target)
    _fsync_dir(snapshot.parent)
    return manifest


def read_manifest(snapshot: Path) -> Manifest:
    """The manifest of ``snapshot``; ValueError saying why if there is none fit to use."""
    path = manifest_path(snapshot)
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ValueError(
            f"no manifest {path.name} beside it: written by an older version, or its writer "
            "stopped before writing one"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"its manifest {path.name} is not JSON: {exc}") from None
    if (
        not isinstance(raw, dict)
        or raw.get("format") != MANIFEST_FORMAT
        or any(not isinstance(raw.get(f), t) for f, t in _MANIFEST_FIELDS.items())
    ):
        raise ValueError(f"its manifest {path.name} is not one of format {MANIFEST_FORMAT}")
    manifest = Manifest(**{f: raw[f] for f in _MANIFEST_FIELDS})
    m = _SNAPSHOT.match(snapshot.name)
    if m is None or manifest.seq != int(m.group(1)):
        raise ValueError(f"its manifest {path.name} is of change {manifest.seq}")
    return manifest


def load_snapshot(path: Path, dimension: int) -> tuple[DenseIndex, Manifest]:
    """A snapshot and its manifest, once its bytes are checked against the manifest: ValueError
    saying what is wrong if they are not those written (damaged on disk, or no manifest)."""
    with snapshot_lock(path.parent, exclusive=False):  # the manifest of this very file
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 (closed below, outside the lock)
        try:
            manifest = read_manifest(path)
        except BaseException:
            fh.close()
            raise
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size != manifest.size:
            raise ValueError(f"damaged: {size:,} bytes, {manifest.size:,} when written")
        # hashed before FAISS parses it: damaged counts can make FAISS allocate any amount
        if hashlib.file_digest(fh, "sha256").hexdigest() != manifest.sha256:
            raise ValueError("damaged: its sha256 is not the one written in its manifest")
        fh.seek(0)
        index = faiss.read_index(faiss.PyCallbackIOReader(fh.read))  # type: ignore[attr-defined]
    dense = DenseIndex._read(index, path, dimension)
    if dense.ntotal != manifest.ntotal:
        raise ValueError(f"it holds {dense.ntotal} vectors, its manifest {manifest.ntotal}")
    return dense, manifest


@contextlib.contextmanager
def snapshot_lock(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """A lock on the folder itself (``flock``) between writers of snapshots (``exclusive``) and
    their readers: a snapshot and its manifest are written, and read, as a pair. Best effort on a
    file system without ``flock`` for folders."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # not EWOULDBLOCK: the call blocks
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_snapshots(folder: Path, keep: int, *, newer: bool = False) -> None:
    """Remove the snapshots older than ``keep`` (and, with ``newer``, the newer ones too) and the
    manifests left without their snapshot. Hold ``snapshot_lock`` exclusively."""
    kept = set()
    for path, seq in _snapshots(folder):
        if seq < keep or (newer and seq > keep):
            path.unlink(missing_ok=True)
        else:
            kept.add(seq)
    for path in folder.iterdir():
        m = _MANIFEST.match(path.name)
        if m and int(m.group(1)) not in kept:
            path.unlink(missing_ok=True)


def remove_stale_temps(folder: Path) -> int:
    """Remove the temporary files of writers that died (their lock is free); the bytes freed."""
    freed = 0
    for path in folder.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # renamed or removed meanwhile, or not ours to read
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:  # not renamed in place since
                freed += os.fstat(fd).st_size
                path.unlink()
        except OSError:
            continue  # its writer is alive (EWOULDBLOCK), or it was renamed or removed
        finally:
            os.close(fd)
    if freed:
        log.info("removed temporary snapshot files left by a writer that died (%d bytes)", freed)
    return freed


@contextlib.contextmanager
def _temp_file(folder: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """A new temporary file in ``folder``, locked until it is closed (see remove_stale_temps);
    removed if the body fails. Rename it in the body: after the lock is gone it is fair game."""
    while True:
        fd, name = tempfile.mkstemp(dir=folder, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
        with contextlib.suppress(OSError):  # no flock here: no cleaner can take it either
            fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(name).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)  # removed between its creation and its lock, as a dead writer's: again
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh, tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _snapshots(folder: Path) -> list[tuple[Path, int]]:
    found = []
    for path in folder.iterdir():
        m = _SNAPSHOT.match(path.name)
        if m:
            found.append((path, int(m.group(1))))
    return sorted(found, key=lambda item: item[1])


def latest_snapshot(folder: Path, *, committed: bool = False) -> tuple[Path, int] | None:
    """The snapshot of the highest seq (``committed``: of those with a manifest)."""
    snaps = _snapshots(folder) if folder.is_dir() else []
    if committed:
        snaps = [s for s in snaps if manifest_path(s[0]).exists()]
    return snaps[-1] if snaps else None

"""The dense index: FAISS over L2-normalised passage vectors, keyed by the database's passage ids.

Exact search (``IndexIDMap`` over ``IndexFlatIP``) up to ``EXACT_LIMIT`` vectors; above that an
inverted-file index (``IndexIVFFlat``) whose centroids are trained on the stored vectors. Both add
and remove by id in place. Searches and changes take one lock: FAISS indexes are safe for
concurrent searches but not for a search during a change, and a change here lasts microseconds to
a few milliseconds (removal from a flat index shifts the vectors behind it).

A snapshot on disk is ``dense.<seq>.faiss``: the index as of change ``seq`` of the database's
change log, written to a temporary file, fsynced and renamed, so a crash leaves either the old or
the new snapshot. The database can always replay the changes after ``seq``.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

__all__ = ["EXACT_LIMIT", "DenseIndex", "IndexKind", "latest_snapshot"]

log = logging.getLogger(__name__)

# One query at a time per request thread: OpenMP thread teams for a single query cost more than
# they save and fight the model for the cores (flat search over 20k passages: 19-24 ms with 2
# threads on a busy 2-core machine, 1.2 ms with 1). Requests run in parallel instead. OpenMP's
# thread count is per calling thread, so it is set in each search.
SEARCH_THREADS = 1

# Below this many vectors exact search costs a few milliseconds; above it an IVF index pays off.
EXACT_LIMIT = 100_000
_SNAPSHOT = re.compile(r"^dense\.(\d+)\.faiss$")

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
        params: faiss.SearchParameters | None = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            if isinstance(self._index, faiss.IndexIVF):
                # A filter keeps a share of every list: probe more lists, in proportion, so the
                # filtered neighbours are found (all lists when the filter is narrow).
                share = len(allowed) / max(self.ntotal, 1)
                nprobe = min(self._index.nlist, math.ceil((self.nprobe or 1) / max(share, 1e-9)))
                params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]
            else:
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        faiss.omp_set_num_threads(SEARCH_THREADS)
        with self._lock:
            scores, ids = self._index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    # -- persistence ----------------------------------------------------------------------------
    def save(self, folder: Path, seq: int) -> Path:
        """Write ``dense.<seq>.faiss`` atomically and remove older snapshots."""
        target = folder / f"dense.{seq}.faiss"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".dense-", suffix=".tmp")
        try:
            # written through Python's file, so that a full disk is an OSError (ENOSPC) like any
            # other, not FAISS's RuntimeError naming a failed assertion
            with os.fdopen(fd, "wb") as fh:
                writer = faiss.PyCallbackIOWriter(fh.write)  # type: ignore[attr-defined]
                with self._lock:
                    faiss.write_index(self._index, writer)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        for path, older in _snapshots(folder):
            if older < seq:
                path.unlink(missing_ok=True)
        return target

    @classmethod
    def load(cls, path: Path, dimension: int) -> DenseIndex:
        index = faiss.read_index(str(path))
        if index.d != dimension:
            raise ValueError(f"{path.name} has dimension {index.d}, expected {dimension}")
        nprobe = int(index.nprobe) if isinstance(index, faiss.IndexIVF) else None
        return cls(index, dimension, nprobe=nprobe)


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


def latest_snapshot(folder: Path) -> tuple[Path, int] | None:
    snaps = _snapshots(folder) if folder.is_dir() else []
    return snaps[-1] if snaps else None

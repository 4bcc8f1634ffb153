import numpy as np
import pytest

from qa.store import dense
from qa.store.dense import DenseIndex, IVFParams, latest_snapshot

DIM = 32


def unit_rows(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECTORS = unit_rows(2000, 0)
IDS = np.arange(1000, 3000, dtype=np.int64) * 7  # sparse, like database row ids after deletes


def brute_force(query: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int) -> set[int]:
    return set(ids[np.argsort(-(vectors @ query))[:k]].tolist())


def exact_index() -> DenseIndex:
    index = DenseIndex.exact(DIM)
    index.add(IDS, VECTORS)
    return index


def ivf_index() -> DenseIndex:
    index = DenseIndex.ivf(VECTORS, IVFParams(nlist=32, nprobe=4))
    index.add(IDS, VECTORS)
    return index


KINDS = [pytest.param(exact_index, "flat", id="flat"), pytest.param(ivf_index, "ivf", id="ivf")]


@pytest.mark.parametrize(("make", "kind"), KINDS)
def test_search_finds_each_vector_by_its_id(make, kind):
    index = make()
    assert index.kind == kind and index.ntotal == len(IDS)
    for row in (0, 517, 1999):
        scores, ids = index.search(VECTORS[row], 5)
        assert ids[0] == IDS[row]
        assert scores[0] == pytest.approx(1.0, abs=1e-5)
        assert list(scores) == sorted(scores, reverse=True)
    assert np.array_equal(index.ids(), np.sort(IDS))


def test_exact_search_is_the_brute_force_top_k():
    index = exact_index()
    query = unit_rows(1, 9)[0]
    _, ids = index.search(query, 10)
    assert set(ids.tolist()) == brute_force(query, IDS, VECTORS, 10)


@pytest.mark.parametrize(("make", "kind"), KINDS)
def test_removed_ids_are_never_returned(make, kind):
    index = make()
    gone = IDS[::3]
    assert index.remove(gone) == len(gone)
    assert index.ntotal == len(IDS) - len(gone)
    if kind == "ivf":
        index._index.nprobe = 32  # every list: the whole index is scanned
    for row in (0, 3, 300, 1998):  # removed vectors themselves as queries
        _, ids = index.search(VECTORS[row], index.ntotal)
        assert len(ids) == index.ntotal
        assert not np.isin(ids, gone).any()
    assert not np.isin(index.ids(), gone).any()
    assert index.remove(gone) == 0  # already gone


@pytest.mark.parametrize(("make", "kind"), KINDS)
def test_added_after_removal_is_found(make, kind):
    index = make()
    index.remove(IDS[:10])
    fresh = unit_rows(10, 5)
    index.add(np.arange(10, dtype=np.int64), fresh)
    for i in range(10):
        assert index.search(fresh[i], 1)[1][0] == i


@pytest.mark.parametrize(("make", "kind"), KINDS)
@pytest.mark.parametrize("share", [0.5, 0.05, 0.003])
def test_allowed_filter_returns_the_best_allowed_ids(make, kind, share):
    index = make()
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(len(IDS), size=int(len(IDS) * share), replace=False))
    allowed = IDS[rows]
    for seed in range(5):
        query = unit_rows(1, 100 + seed)[0]
        _, ids = index.search(query, 10, allowed=allowed)
        assert len(ids) == min(10, len(allowed)) and np.isin(ids, allowed).all()
        if kind == "flat" or share <= 0.05:
            # a narrow filter widens nprobe in proportion (here to every list): IVF is exact too
            assert set(ids.tolist()) == brute_force(query, allowed, VECTORS[rows], 10)


def test_narrow_filter_on_ivf_finds_every_allowed_id():
    index = ivf_index()
    allowed = IDS[[3, 400, 1200, 1999]]
    _, ids = index.search(unit_rows(1, 7)[0], 10, allowed=allowed)
    assert sorted(ids.tolist()) == sorted(allowed.tolist())


@pytest.mark.parametrize(("make", "kind"), KINDS)
def test_empty_results(make, kind):
    index = make()
    query = VECTORS[0]
    for k, allowed in [(0, None), (5, np.zeros(0, dtype=np.int64))]:
        scores, ids = index.search(query, k, allowed=allowed)
        assert len(scores) == len(ids) == 0
    assert len(DenseIndex.exact(DIM).search(query, 5)[1]) == 0


def test_add_rejects_vectors_of_the_wrong_shape():
    index = DenseIndex.exact(DIM)
    with pytest.raises(ValueError, match=r"vectors of shape \(3, 16\) for 3 ids"):
        index.add(np.arange(3), np.zeros((3, 16), dtype=np.float32))
    index.add(np.zeros(0, dtype=np.int64), np.zeros((0, DIM), dtype=np.float32))
    assert index.remove(np.zeros(0, dtype=np.int64)) == 0


@pytest.mark.parametrize(("make", "kind"), KINDS)
def test_save_load_round_trip_prunes_older_snapshots(tmp_path, make, kind):
    index = make()
    index.remove(IDS[:100])
    first = index.save(tmp_path, 3)
    assert first.name == "dense.3.faiss"
    second = index.save(tmp_path, 12)
    assert second.name == "dense.12.faiss"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense.12.faiss"]  # no temp files

    loaded = DenseIndex.load(second, DIM)
    assert loaded.kind == kind and loaded.ntotal == index.ntotal
    assert loaded.nprobe == index.nprobe
    assert np.array_equal(loaded.ids(), index.ids())
    for row in (150, 1500):
        assert np.array_equal(loaded.search(VECTORS[row], 10)[1], index.search(VECTORS[row], 10)[1])


def test_load_checks_the_dimension(tmp_path):
    path = exact_index().save(tmp_path, 1)
    with pytest.raises(ValueError, match=r"dense\.1\.faiss has dimension 32, expected 384"):
        DenseIndex.load(path, 384)


def test_latest_snapshot_picks_the_highest_seq(tmp_path):
    assert latest_snapshot(tmp_path / "missing") is None
    assert latest_snapshot(tmp_path) is None
    for name in [
        "dense.2.faiss",
        "dense.10.faiss",
        "dense.9.faiss",
        "dense.x.faiss",
        ".dense-abc.tmp",
        "dense.11.faiss.bak",
    ]:
        (tmp_path / name).touch()
    assert latest_snapshot(tmp_path) == (tmp_path / "dense.10.faiss", 10)


def test_build_picks_flat_below_the_limit():
    index = DenseIndex.build(IDS, VECTORS, DIM)
    assert index.kind == "flat" and index.ntotal == len(IDS)
    assert index.search(VECTORS[42], 1)[1][0] == IDS[42]


def test_build_picks_ivf_above_the_limit(monkeypatch):
    monkeypatch.setattr(dense, "EXACT_LIMIT", 1000)
    index = DenseIndex.build(IDS, VECTORS, DIM)
    assert index.kind == "ivf" and index.ntotal == len(IDS)
    assert index.nprobe == IVFParams.for_size(len(IDS)).nprobe
    assert index.search(VECTORS[42], 1)[1][0] == IDS[42]


def test_a_filter_clustered_away_from_the_question_still_fills_top_k_on_ivf():
    """Was: nprobe widened by the filter's share assumed the allowed ids spread over the lists.
    An outlet whose passages all sit in lists far from the question (here 20 % of the vectors, in
    the half of the space opposite the question) came back with 0 of 5 answers."""
    rng = np.random.default_rng(3)
    centres = unit_rows(2, 9)
    centres[1] = -centres[0]
    group = np.repeat([0, 1], [1600, 400])
    x = centres[group] * 3 + rng.standard_normal((2000, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = DenseIndex.ivf(x, IVFParams(nlist=64, nprobe=4))
    index.add(IDS, x)
    allowed = IDS[group == 1]
    _, ids = index.search(centres[0], 5, allowed=allowed)
    assert len(ids) == 5 and np.isin(ids, allowed).all()
    assert set(ids.tolist()) == brute_force(centres[0], allowed, x[group == 1], 5)


def test_outgrown_says_when_the_kind_no_longer_fits(monkeypatch):
    monkeypatch.setattr(dense, "EXACT_LIMIT", 1000)
    assert exact_index().outgrown() == "exact index of 2,000 vectors, past 1,000"
    assert DenseIndex.build(IDS, VECTORS, DIM).outgrown() is None  # IVF, sized for 2,000
    small = DenseIndex.build(IDS[:1200], VECTORS[:1200], DIM)
    assert small.kind == "ivf" and small.outgrown() is None
    small.remove(IDS[:800])
    assert small.outgrown() == "IVF index of 400 vectors, back under 500"
    grown = DenseIndex.build(IDS[:1100], VECTORS[:1100], DIM)
    more = unit_rows(4000, 5)
    grown.add(np.arange(10**6, 10**6 + 4000, dtype=np.int64), more)
    assert grown.outgrown() == "IVF index of 5,100 vectors in 132 lists made for ~1,275"

from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

SHARED = ROOT.parent / "shared" / "seeds"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/seeds is not beside this checkout")
def test_seeds_are_unchanged_copies_of_the_shared_articles() -> None:
    shared = {p.name: p.read_bytes() for p in SHARED.glob("*.txt")}
    ours = {p.name: p.read_bytes() for p in SEEDS.glob("*.txt")}
    assert shared and ours == shared


def test_seed_folder_has_the_articles() -> None:
    assert sorted(p.name for p in Path(SEEDS).glob("*.txt")) == [
        "000_fcec8ea6051c7915.txt",
        "004_e9619e141d084609.txt",
    ]

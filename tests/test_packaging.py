"""The wheel that `pip install .` (and the Dockerfile) installs holds every stage of the library."""

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_holds_every_package_and_the_ranker_weights(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {
        str(init.relative_to(ROOT).as_posix())
        for top in ("qa", "api", "eval")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert packages <= names, sorted(packages - names)
    assert "qa/answer/ranker.json" in names
    assert "api/static/index.html" in names

from pathlib import Path

import pytest

from eval.plot import check_plot_path, plot_formats, plot_recall
from qa.errors import InvalidInputError


@pytest.mark.parametrize("name", ["recall.png", "recall.PDF", "recall.svg", "recall"])
def test_writable_plot_paths_pass(name: str, tmp_path: Path) -> None:
    check_plot_path(tmp_path / name)


def test_every_format_it_allows_is_written(tmp_path: Path) -> None:
    for suffix in sorted(plot_formats()):
        path = tmp_path / f"recall.{suffix}"
        check_plot_path(path)
        plot_recall({"hybrid": {1: 0.5, 10: 0.9}}, path, "title")
        assert path.stat().st_size > 0, suffix


def test_unwritable_plot_paths_are_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "dir.png").mkdir()
    cases = {
        "out.xyz": r"out.xyz: matplotlib cannot write .xyz files, only .*\.png",
        "no/such/out.png": r"out.png: folder .*no/such does not exist",
        "file/out.png": r"out.png: folder .*file is not a folder",
        "dir.png": r"dir.png is a folder",
    }
    for name, message in cases.items():
        with pytest.raises(InvalidInputError, match=message):
            check_plot_path(tmp_path / name)


def test_pgf_needs_the_tex_it_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("eval.plot.shutil.which", lambda name: None)
    assert "pgf" not in plot_formats() and "png" in plot_formats()
    with pytest.raises(InvalidInputError, match="cannot write .pgf files"):
        check_plot_path(tmp_path / "recall.pgf")

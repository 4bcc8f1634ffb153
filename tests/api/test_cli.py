from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from qa.embed import HashingEmbedder

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: HashingEmbedder())
    # thresholds for the hashing embedder's lower cosines (see tests/conftest.py)
    monkeypatch.setenv("QA_ABSTAIN_THRESHOLD", "0.1")
    monkeypatch.setenv("QA_ABSTAIN_STRONG", "0.1")


def test_index_then_skip(tiny_corpus: Path, tmp_path: Path) -> None:
    args = ["index", "--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0 and first.stdout.startswith("indexed 2 documents")
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and second.stdout.startswith("up to date: 2 documents")


def test_ask_human_and_json(tiny_corpus: Path, tmp_path: Path) -> None:
    common = ["--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    human = runner.invoke(app, ["ask", "How many residents were evacuated?", *common])
    assert human.exit_code == 0
    assert "1. Volcano erupts near mountain village" in human.output
    assert "[volcano:" in human.output and "300 residents were evacuated" in human.output
    out = runner.invoke(
        app, ["ask", "How many residents were evacuated?", "--json", "-k", "1", *common]
    )
    assert out.exit_code == 0 and '"abstained": false' in out.output


def test_env_vars_choose_corpus_and_index(tiny_corpus: Path, tmp_path: Path) -> None:
    env = {"QA_CORPUS": str(tiny_corpus), "QA_INDEX_DIR": str(tmp_path / "env-index")}
    result = runner.invoke(app, ["index"], env=env)
    assert result.exit_code == 0 and "env-index" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "  "], "question must not be empty"),
        (["ask", "ok", "--mode", "sparse"], "--mode must be hybrid, dense or bm25, not 'sparse'"),
        (["ask", "ok", "--corpus", "/no/such/dir"], "corpus /no/such/dir does not exist"),
        (["index", "--corpus", "/no/such/dir"], "corpus /no/such/dir does not exist"),
    ],
)
def test_errors_are_one_line_and_non_zero(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"qa: error: {message}"]


def test_bad_setting_from_environment_is_one_line(tiny_corpus: Path) -> None:
    result = runner.invoke(
        app, ["index", "--corpus", str(tiny_corpus)], env={"QA_PASSAGE_OVERLAP": "5"}
    )
    assert result.exit_code == 2
    assert (
        result.output.startswith("qa: error: bad setting")
        and "overlap (5) must be smaller" in result.output
    )

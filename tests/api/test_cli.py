import json
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
    monkeypatch.setenv("QA_MIN_CONFIDENCE", "0.05")


def test_index_then_skip(tiny_corpus: Path, tmp_path: Path) -> None:
    args = ["index", "--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0 and first.stdout.startswith("2 added, 0 replaced, 0 deleted")
    assert "holds 2 documents" in first.stdout
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and second.stdout.startswith("up to date: the store in")


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


def test_ask_defaults_come_from_the_settings(tiny_corpus: Path, tmp_path: Path) -> None:
    """QA_TOP_K and QA_MODE were ignored: the options' defaults were 5 and hybrid."""
    common = ["--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i"), "--json"]
    env = {"QA_TOP_K": "1", "QA_MODE": "bm25", "QA_MIN_CONFIDENCE": "0"}
    out = runner.invoke(app, ["ask", "What was evacuated?", *common], env=env)
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["mode"] == "bm25" and len(body["answers"]) == 1
    out = runner.invoke(app, ["ask", "What was evacuated?", "-k", "2", "--mode", "dense", *common])
    assert json.loads(out.stdout)["mode"] == "dense"


def test_ask_says_when_no_passage_matches(tiny_corpus: Path, tmp_path: Path) -> None:
    """A filter nothing matches printed "confidence 0.00, below 0.00": there is no passage."""
    common = ["--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    nothing = ["--source", "No Such Outlet", "--min-confidence", "0"]
    out = runner.invoke(app, ["ask", "What was evacuated?", *nothing, *common])
    assert out.exit_code == 0
    assert out.stdout.strip() == (
        "No answer in these articles (no passage matches the question and filters)."
    )
    low = runner.invoke(app, ["ask", "What was evacuated?", "--min-confidence", "1", *common])
    assert "best passage's confidence 0." in low.stdout and "below 1)." in low.stdout


@pytest.mark.parametrize("date", ["2005-01-01 and some garbage", "2005-01-01T25:00"])
def test_ask_checks_a_filter_date_whole(tiny_corpus: Path, tmp_path: Path, date: str) -> None:
    common = ["--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    out = runner.invoke(app, ["ask", "What was evacuated?", "--published-after", date, *common])
    assert out.exit_code == 2
    assert out.output.strip() == (  # the option as typed (was the API's published_after)
        f"qa: error: --published-after must be an ISO date (YYYY-MM-DD) or date-time, not {date!r}"
    )


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
        # bytes of no UTF-8 in a shell argument (caf\xe9): were a UnicodeEncodeError traceback
        (
            ["ask", "ok", "--source", "caf\udce9"],
            "--source is not valid text (surrogates not allowed)",
        ),
        (
            ["ask", "ok", "--doc-id", "caf\udce9"],
            "--doc-id is not valid text (surrogates not allowed)",
        ),
        (["delete", "caf\udce9"], "doc_ids is not valid text (surrogates not allowed)"),
        (["ask", "ok", "--doc-id", ""], "--doc-id must not be empty or blank, not ''"),
        (["ask", "ok", "--source", " "], "--source must not be empty or blank, not ' '"),
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


def _tiny_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    docs = [
        {
            "_id": "d1",
            "title": "Volcano",
            "text": "A volcano erupted and residents were evacuated.",
        },
        {"_id": "d2", "title": "Election", "text": "The mayor won a third term with most votes."},
        {"_id": "d3", "title": "Football", "text": "The team won the cup after extra time."},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs), encoding="utf-8")
    queries = [
        {"_id": "q1", "text": "volcano residents evacuated"},
        {"_id": "q2", "text": "mayor votes"},
    ]
    (folder / "queries.jsonl").write_text(
        "\n".join(json.dumps(q) for q in queries), encoding="utf-8"
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return folder


def test_eval_beir_reports_standard_metrics(tmp_path: Path) -> None:
    beir = _tiny_beir(tmp_path / "tiny")
    plot = tmp_path / "recall.png"
    args = [
        "eval",
        "--beir",
        str(beir),
        "--index-dir",
        str(tmp_path / "bi"),
        "--json",
        "--plot",
        str(plot),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["queries"] == 2 and set(report["modes"]) == {"dense", "bm25", "hybrid"}
    for scores in report["modes"].values():
        assert scores["ndcg@10"] == pytest.approx(1.0) and scores["recall@100"] == pytest.approx(
            1.0
        )
    assert plot.stat().st_size > 0


def test_eval_on_a_small_dataset(tiny_corpus: Path, tmp_path: Path) -> None:
    text = (tiny_corpus / "volcano.txt").read_text(encoding="utf-8")
    quote = "Officials said 300 residents were evacuated by bus."
    start = text.index(quote)
    rows = [
        {
            "id": "a",
            "question": "How many residents were evacuated?",
            "answer": "300",
            "kind": "number",
            "answerable": True,
            "gold": [
                {
                    "doc_id": "volcano",
                    "start_char": start,
                    "end_char": start + len(quote),
                    "text": quote,
                }
            ],
        },
        {
            "id": "b",
            "question": "Which quarterback threw for 5000 yards?",
            "answer": None,
            "kind": "off-topic",
            "answerable": False,
            "gold": [],
        },
    ]
    dataset = tmp_path / "ds.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    common = [
        "--corpus",
        str(tiny_corpus),
        "--index-dir",
        str(tmp_path / "i"),
        "--dataset",
        str(dataset),
    ]
    result = runner.invoke(app, ["eval", *common, "--json", "--mode", "hybrid", "--k", "1,3"])
    assert result.exit_code == 0, result.output
    hybrid = json.loads(result.stdout)["modes"]["hybrid"]
    assert (
        hybrid["hit@1"] == 1.0
        and hybrid["abstain_recall"] == 1.0
        and hybrid["verbatim_share"] == 1.0
    )
    table = runner.invoke(app, ["eval", *common, "--mode", "all"])
    assert table.exit_code == 0 and "hit@3" in table.stdout and "hybrid" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--mode", "fast"], "--mode must be dense, bm25, hybrid or all"),
        (["eval", "--k", "1,x"], "--k must be a comma-separated list of integers"),
        (["eval", "--beir", "/no/such/beir"], "no qrels for split 'test'"),
    ],
)
def test_eval_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.output.startswith(f"qa: error: {message}")


def test_unwritable_index_folder_is_one_line(tiny_corpus: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(
        app, ["index", "--corpus", str(tiny_corpus), "--index-dir", str(blocker / "idx")]
    )
    assert result.exit_code == 1
    assert result.output.startswith("qa: error: ") and len(result.output.strip().splitlines()) == 1


def test_up_to_date_still_counts_what_was_skipped(tiny_corpus: Path, tmp_path: Path) -> None:
    (tiny_corpus / "broken.txt").write_bytes(b"\xff\xfe not text \x00\x01")
    args = ["index", "--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, [*args, "--force"])
    assert again.exit_code == 0
    assert again.stdout.startswith("up to date (1 skipped): the store in"), again.stdout


def test_add_skips_an_id_two_paths_hold_and_adds_the_rest(tmp_path: Path) -> None:
    for folder, text in (("d1", "Harbour opens\nThe new harbour opened."), ("d2", "Other\nNo.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "001.txt").write_text(text, encoding="utf-8")
    (tmp_path / "d2" / "002.txt").write_text("Bridge\nThe bridge reopened today.", "utf-8")
    index = ["--index-dir", str(tmp_path / "i")]
    result = runner.invoke(app, ["add", str(tmp_path / "d1"), str(tmp_path / "d2"), *index])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2 added, 0 replaced, 0 unchanged, 1 skipped")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no answerable question"),
        (
            b'{"id": "q", "question": "Who?", "kind": "who", "answerable": false, "gold": []}\n',
            "holds no answerable question",
        ),
        (b"\xff\xfe{}", "is not UTF-8"),
    ],
)
def test_eval_on_a_dataset_it_cannot_score_is_one_line(
    content: bytes, message: str, tiny_corpus: Path, tmp_path: Path
) -> None:
    dataset = tmp_path / "ds.jsonl"
    dataset.write_bytes(content)
    common = ["--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    result = runner.invoke(app, ["eval", *common, "--dataset", str(dataset)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("qa: error: eval dataset") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "append", "message"),
    [
        ("corpus.jsonl", '{"_id": "d4", "title": \n', "corpus.jsonl:4: not valid JSON ("),
        ("corpus.jsonl", '{"title": "No id", "text": "x"}\n', "corpus.jsonl:4: no '_id'"),
        ("qrels/test.tsv", "q1\td1\n", "test.tsv:4: 2 tab-separated columns, not 3"),
        ("queries.jsonl", '{"_id": "q1", "text": 5}\n', "queries.jsonl:3: 'text' must be"),
    ],
)
def test_eval_beir_malformed_file_is_one_line_naming_it(
    name: str, append: str, message: str, tmp_path: Path
) -> None:
    beir = _tiny_beir(tmp_path / "tiny")
    with (beir / name).open("a", encoding="utf-8") as fh:
        fh.write(append if name.startswith("qrels") else "\n" + append)
    index = tmp_path / "bi"
    result = runner.invoke(app, ["eval", "--beir", str(beir), "--index-dir", str(index)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"qa: error: {beir}/") and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not index.exists()  # refused before any document was indexed


def test_eval_beir_with_qrels_naming_no_query_is_one_line(tmp_path: Path) -> None:
    beir = _tiny_beir(tmp_path / "tiny")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td1\t1\n")
    result = runner.invoke(app, ["eval", "--beir", str(beir), "--index-dir", str(tmp_path / "bi")])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"qa: error: no query of {beir / 'queries.jsonl'} is judged")
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("question", 5, "'question' must be a string, not 5"),
        ("id", ["q1"], "'id' must be a string, not [\"q1\"]"),
    ],
)
def test_eval_dataset_field_of_the_wrong_type_is_one_line(
    field: str, value: object, message: str, tiny_corpus: Path, tmp_path: Path
) -> None:
    row = {
        "id": "q1",
        "question": "How many residents were evacuated?",
        "answer": "300",
        "kind": "number",
        "answerable": True,
        "gold": [{"doc_id": "volcano", "start_char": 0, "end_char": 3, "text": "Vol"}],
    }
    dataset = tmp_path / "ds.jsonl"
    dataset.write_text(json.dumps({**row, field: value}) + "\n", encoding="utf-8")
    common = ["--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    result = runner.invoke(app, ["eval", *common, "--dataset", str(dataset)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"qa: error: {dataset}:1: bad eval question ({message})"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("out.xyz", "out.xyz: matplotlib cannot write .xyz files, only "),
        ("no/such/out.png", "out.png: folder "),
    ],
)
def test_eval_plot_it_cannot_write_fails_before_any_work(
    name: str, message: str, tiny_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "i"
    args = ["eval", "--corpus", str(tiny_corpus), "--index-dir", str(index)]
    for extra in ([], ["--beir", str(_tiny_beir(tmp_path / "tiny"))], ["--answers", "seeds"]):
        result = runner.invoke(app, [*args, *extra, "--plot", str(tmp_path / name)])
        assert result.exit_code == 2, result.output
        assert (
            result.output.startswith(f"qa: error: --plot {tmp_path}/") and message in result.output
        )
        assert len(result.output.strip().splitlines()) == 1
        assert not index.exists()  # nothing was indexed or evaluated


def test_an_empty_corpus_or_index_variable_is_refused_before_any_work(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    """QA_CORPUS='' was the working directory: `qa index` indexed it and deleted every article
    of the real corpus from the store. QA_INDEX_DIR='' put the store in the working directory."""
    index = tmp_path / "i"
    built = runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index-dir", str(index)])
    assert built.exit_code == 0, built.output
    emptied = runner.invoke(app, ["index", "--index-dir", str(index)], env={"QA_CORPUS": ""})
    assert emptied.exit_code == 2
    assert emptied.output.startswith("qa: error: QA_CORPUS is set but empty, ")
    assert len(emptied.output.strip().splitlines()) == 1
    again = runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index-dir", str(index)])
    assert again.stdout.startswith("up to date: ") and "holds 2 documents" in again.stdout
    no_index = runner.invoke(app, ["delete", "volcano"], env={"QA_INDEX_DIR": ""})
    assert no_index.exit_code == 2
    assert no_index.output.startswith("qa: error: QA_INDEX_DIR is set but empty, ")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QA_HOST": ""}, "QA_HOST is set but empty, which would listen on every interface"),
        ({"QA_HOST": " "}, "QA_HOST is set but blank (white space only), which would listen"),
        ({"QA_API_KEY": "k1 "}, "QA_API_KEY starts or ends with white space"),
        # Was "bad setting snapshot_seconds: ...": the field, where the user wrote the variable
        ({"QA_SNAPSHOT_SECONDS": "inf"}, "bad setting QA_SNAPSHOT_SECONDS: Input should be less"),
        ({"QA_TOP_K": "abc"}, "bad setting QA_TOP_K: Input should be a valid integer"),
        (
            {"QA_PASSAGE_OVERLAP": "3"},
            "bad setting QA_PASSAGE_OVERLAP: passage overlap (3) must be smaller than "
            "passage size (3 sentences)",
        ),
    ],
)
def test_serve_refuses_a_bad_setting_in_one_line_naming_it(
    env: dict[str, str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overlap's error named no setting (`bad setting settings: ...`)."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a bad setting reached uvicorn")

    monkeypatch.setattr("uvicorn.Server.run", never)
    index = tmp_path / "i"
    result = runner.invoke(app, ["serve", "--index-dir", str(index), "--port", "1"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith(f"qa: error: {message}"), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not index.exists()


def test_index_leaves_a_corpus_on_another_disk_alone_unless_forced(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unmounted disk's empty mount point deleted every article: now `qa index` deletes
    nothing and exits 1 (the sync's warning says why) until --force (tests/qa/store/
    test_other_disk.py has the rules and a real tmpfs)."""
    args = ["index", "--corpus", str(tiny_corpus), "--index-dir", str(tmp_path / "i")]
    assert runner.invoke(app, args).exit_code == 0
    device = tiny_corpus.resolve().stat().st_dev
    for path in tiny_corpus.iterdir():
        path.unlink()
    monkeypatch.setattr(
        "qa.store.sync._disk", lambda root: {"path": str(root), "device": device + 1}
    )
    held = runner.invoke(app, args)
    assert held.exit_code == 1 and held.stdout == ""
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert forced.stdout.startswith("0 added, 0 replaced, 2 deleted")


@pytest.mark.parametrize(
    "args",
    [
        ["index", "--corpus", ""],
        ["index", "--index-dir", " "],
        ["ask", "What erupted?", "--corpus", ""],
        ["add", ""],
        ["eval", "--dataset", ""],
        ["eval", "--plot", ""],
        ["eval", "--beir", ""],
    ],
)
def test_an_empty_path_is_refused_not_the_current_folder(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qa index --corpus ""` indexed the current folder and deleted the real corpus's
    articles (QA_CORPUS="" was refused already)."""
    (tmp_path / "stray.txt").write_text("Stray\nA file in the current folder.\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, [*args, "--index-dir", str(tmp_path / "i")] if args[0] == "add" else args
    )
    assert result.exit_code == 2, result.output
    assert "is empty, which would mean the current folder" in result.output
    assert not (tmp_path / "i").exists() and not (tmp_path / ".qa-index").exists()


@pytest.mark.parametrize("host", ["127.0.0..1", "x" * 64])
def test_serve_on_a_host_name_idna_refuses_is_one_line(host: str, tmp_path: Path) -> None:
    """A typo'd address the IDNA codec refuses was two UnicodeError tracebacks."""
    result = runner.invoke(app, ["serve", "--host", host, "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"qa: error: cannot listen on {host}:8000 (not a valid host name: ")
    assert not (tmp_path / "i").exists()


def test_eval_answers_refuses_the_options_it_cannot_use(tiny_corpus: Path, tmp_path: Path) -> None:
    """Was: --corpus, --passage-sentences and the like were taken and ignored."""
    result = runner.invoke(
        app, ["eval", "--answers", "seeds", "--corpus", str(tiny_corpus), "--rrf-k", "5"]
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        "qa: error: --corpus, --rrf-k cannot be used with --answers (each set has its archive)"
    )


@pytest.mark.slow
def test_eval_answers_indexes_its_archive_under_index_dir(tmp_path: Path) -> None:
    """Was: --index-dir was ignored and the archive went to .qa-beir beside the code."""
    index = tmp_path / "i"
    args = ["eval", "--answers", "seeds", "--part", "test", "--index-dir", str(index), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["questions"] == 16
    assert (index / "seeds").is_dir() and list((index / "seeds").glob("*.sqlite*"))


@pytest.mark.parametrize("command", ["add", "delete"])
def test_add_and_delete_load_the_model_before_taking_the_writer_lock(
    command: str, tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model took its second of loading inside the lock, on top of every HTTP write that
    queued behind `qa add` or `qa delete` (found by a concurrent-writers hunt)."""
    from qa.store.writer_lock import WriterLock

    index = tmp_path / "i"
    assert runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index-dir", str(index)])
    held_while_loading: list[bool] = []

    def load(settings):  # type: ignore[no-untyped-def]
        held_while_loading.append(WriterLock(index)._lock.is_locked)
        return HashingEmbedder()

    monkeypatch.setattr("qa.engine.load_embedder", load)
    args = [str(tiny_corpus / "volcano.txt")] if command == "add" else ["volcano"]
    result = runner.invoke(app, [command, *args, "--index-dir", str(index)])
    assert result.exit_code == 0, result.output
    assert held_while_loading == [False]


def test_ask_on_a_store_of_another_folder_says_so(tiny_corpus: Path, tmp_path: Path) -> None:
    """`qa ask --corpus B` on a store synced from A answered from A without a word (a server
    syncs B before answering; `qa ask` answers from the store as it is, and now says whose)."""
    index = str(tmp_path / "i")
    assert runner.invoke(app, ["index", "--corpus", str(tiny_corpus), "--index-dir", index])
    other = tmp_path / "other"
    other.mkdir()
    question = ["ask", "How many residents were evacuated?", "--index-dir", index]
    same = runner.invoke(app, [*question, "--corpus", str(tiny_corpus)])
    assert same.exit_code == 0 and "was synced from" not in same.output
    asked = runner.invoke(app, [*question, "--corpus", str(other)])
    assert asked.exit_code == 0
    assert (
        f"qa: the store in {index} was synced from {tiny_corpus.resolve()}, not {other}: "
        f"`qa index --corpus {other}` syncs it"
    ) in asked.output
    assert "300 residents were evacuated" in asked.output


def test_an_empty_option_is_named_as_the_option_not_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qa serve --host ""` said "QA_HOST is set but empty" with no QA_HOST set."""
    monkeypatch.delenv("QA_HOST", raising=False)
    result = runner.invoke(app, ["serve", "--index-dir", str(tmp_path / "i"), "--host", ""])
    assert result.exit_code == 2
    assert result.output.startswith("qa: error: --host is empty, which would listen on every")

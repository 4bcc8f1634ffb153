"""Bad input never costs good data: each bad file or line is skipped with a reason, the rest read."""

import json
import logging
import os
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from qa.errors import CorpusError
from qa.ingest.corpus import CorpusRead, Skipped, load_corpus, read_corpus, read_file
from qa.store.sync import sync_folder

GOOD = "Storm closes harbour\nThe harbour was closed on Monday as winds reached 90 km/h.\n"


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path


def _reasons(read: CorpusRead) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in read.skipped}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        # "é" in latin-1 is the single byte 0xe9, at byte 3 of the file.
        ("Café prices rose.\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at position 3)"),
        # After a BOM the position still counts the file's bytes: 3 (BOM) + 3.
        (b"\xef\xbb\xbfCaf\xe9 prices rose.\n", "not UTF-8 text (byte 0xe9 at position 6)"),
        (b"", "empty file"),
        (b" \n\r\n\t\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (GOOD.encode("utf-16"), "not UTF-8 text (UTF-16 byte order mark)"),
        (b"---\ntitle: x\n---\n\n", "no text after the front matter"),
    ],
)
def test_bad_text_file_is_skipped_and_the_rest_read(
    tmp_path: Path, data: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = _folder(tmp_path, {"bad.txt": data, "good.txt": GOOD.encode()})
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        read = read_corpus(root)
    assert [a.doc_id for a in read.articles] == ["good"]
    assert _reasons(read) == {"bad.txt": reason}
    assert read.skipped[0].path.endswith("bad.txt")
    assert "bad.txt" in caplog.text and reason in caplog.text


@pytest.mark.parametrize("name", ["README.TXT", "readme.md", "LICENSE.txt", "COPYING.Md"])
def test_readme_license_copying_are_not_articles(tmp_path: Path, name: str) -> None:
    root = _folder(tmp_path, {name: GOOD.encode(), "good.txt": GOOD.encode()})
    read = read_corpus(root)
    assert [a.doc_id for a in read.articles] == ["good"]
    assert _reasons(read) == {name: f"not an article ({name.split('.')[0]})"}


def test_bad_jsonl_lines_are_skipped_and_good_lines_read(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "text": "First good article."}),
        "{not json",
        '{"text": "x"}',
        '{"id": "b"}',
        "[1, 2]",
        '{"id": "c", "text": "x", "title": 3}',
        json.dumps({"id": "d", "text": "Bad date.", "published": "12/10/2024"}),
        "",
        json.dumps({"id": "e", "text": "   "}),
        json.dumps({"id": True, "text": "x"}),
        json.dumps({"id": 9, "text": "Second good article.", "published": "2024-10-12T08:30:00"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n\xa3broken\n")
    read = read_corpus(path)
    assert [(a.doc_id, a.origin.rsplit("/", 1)[-1]) for a in read.articles] == [
        ("a", "mixed.jsonl#L1"),
        ("9", "mixed.jsonl#L11"),
    ]
    assert read.articles[1].published == "2024-10-12T08:30:00"
    assert [(s.path.rsplit("/", 1)[-1], s.reason) for s in read.skipped] == [
        (
            "mixed.jsonl:2",
            "not valid JSON (Expecting property name enclosed in double quotes)",
        ),
        ("mixed.jsonl:3", "needs a non-empty 'id'"),
        ("mixed.jsonl:4", "needs a string 'text'"),
        ("mixed.jsonl:5", "expected a JSON object"),
        ("mixed.jsonl:6", "'title' must be a string"),
        ("mixed.jsonl:7", "'published' is not an ISO date or date-time: '12/10/2024'"),
        ("mixed.jsonl:9", "'text' is empty"),
        ("mixed.jsonl:10", "'id' must be a non-empty string or integer"),
        ("mixed.jsonl:12", "not UTF-8 text (byte 0xa3 at position 0)"),
    ]


def test_bad_published_in_front_matter_skips_that_article(tmp_path: Path) -> None:
    bad = "---\npublished: last Tuesday\n---\nSome text here.\n"
    root = _folder(tmp_path, {"bad.md": bad.encode(), "good.md": GOOD.encode()})
    read = read_corpus(root)
    assert [a.doc_id for a in read.articles] == ["good"]
    assert _reasons(read) == {
        "bad.md": "front matter: 'published' is not an ISO date or date-time: 'last Tuesday'"
    }


def test_front_matter_that_is_not_yaml_skips_the_file(tmp_path: Path) -> None:
    bad = "---\ntitle: [unclosed\n---\nSome text here.\n"
    read = read_corpus(_folder(tmp_path, {"bad.md": bad.encode()}))
    assert read.articles == []
    assert read.skipped[0].reason.startswith("front matter is not valid YAML (line ")


def test_rules_around_prose_are_not_front_matter(tmp_path: Path) -> None:
    text = "---\nA quiet week in the markets.\n---\nShares barely moved.\n"
    (article,) = read_corpus(_folder(tmp_path, {"a.md": text.encode()})).articles
    assert article.text == text


def test_bad_sidecar_is_ignored_and_the_article_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _folder(
        tmp_path,
        {
            "a.txt": GOOD.encode(),
            "a.meta.json": b'{"url": "https://x.test/a",',
            "b.txt": GOOD.encode(),
            "b.meta.json": json.dumps({"url": 5}).encode(),
            "c.txt": GOOD.encode(),
            "c.meta.json": json.dumps({"published": "soon"}).encode(),
            "d.txt": GOOD.encode(),
            "d.meta.json": b"[]",
        },
    )
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        read = read_corpus(root)
    assert read.skipped == []
    assert [(a.doc_id, a.url, a.published) for a in read.articles] == [
        (name, None, None) for name in "abcd"
    ]
    warnings = sorted(r.getMessage().split("/")[-1] for r in caplog.records)
    assert warnings == [
        "a.meta.json: not valid JSON (Expecting property name enclosed in double quotes) "
        + "(its article is read without it)",
        "b.meta.json: 'url' must be a string (its article is read without it)",
        "c.meta.json: 'published' is not an ISO date or date-time: 'soon' "
        + "(its article is read without it)",
        "d.meta.json: not a JSON object (its article is read without it)",
    ]


def test_duplicate_ids_keep_the_first_and_name_both_places(tmp_path: Path) -> None:
    root = _folder(
        tmp_path,
        {
            "a.md": b"Markdown first.\n",
            "a.txt": b"Text second.\n",
            "c.jsonl": (json.dumps({"id": "a", "text": "x"}) + "\n").encode(),
        },
    )
    read = read_corpus(root)
    assert [(a.doc_id, a.text) for a in read.articles] == [("a", "Markdown first.\n")]
    first = read.articles[0].origin
    assert [(Path(s.path).name, s.reason) for s in read.skipped] == [
        ("a.txt", f"duplicate id 'a' (first in {first})"),
        ("c.jsonl:1", f"duplicate id 'a' (first in {first})"),
    ]


def test_duplicate_ids_inside_one_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": 1, "text": "one"}\n{"id": "1", "text": "two"}\n', encoding="utf-8")
    read = read_file(path)
    assert [a.text for a in read.articles] == ["one"]
    assert read.skipped[0].path.endswith("d.jsonl:2")
    assert read.skipped[0].reason.startswith("duplicate id '1' (first in ")
    assert read.skipped[0].reason.endswith("d.jsonl#L1)")


def test_read_file_never_raises(tmp_path: Path) -> None:
    gone = read_file(tmp_path / "gone.txt")
    assert gone.articles == [] and gone.skipped[0].reason.startswith("cannot read (")
    (tmp_path / "x.csv").write_text("a,b\n", encoding="utf-8")
    other = read_file(tmp_path / "x.csv")
    assert other.skipped[0].reason == "not an article file (not .txt, .md, .markdown, .jsonl)"


def test_corpus_errors_only_for_the_path_itself(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="corpus .*nope does not exist"):
        read_corpus(tmp_path / "nope")
    (tmp_path / "x.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"x.csv: corpus files must end in .txt, .md"):
        read_corpus(tmp_path / "x.csv")
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01")
    read = read_corpus(tmp_path / "bad.txt")
    assert read == CorpusRead([], [Skipped(str(tmp_path / "bad.txt"), "binary file")])
    with pytest.raises(CorpusError, match=r"no articles \(\*.txt, \*.md, \*.markdown, \*.jsonl\)"):
        load_corpus(tmp_path / "bad.txt")


BAD_INPUTS = Path(__file__).parents[2] / "bad_inputs" / "files"


def test_the_bad_inputs_folder_reads_as_expected(caplog: pytest.LogCaptureFixture) -> None:
    """tests/bad_inputs/files, read in-process (tests/hostile runs `qa index` on it)."""
    expected = json.loads((BAD_INPUTS / "expected.json").read_text(encoding="utf-8"))
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        read = read_corpus(BAD_INPUTS)
    assert sorted(a.doc_id for a in read.articles) == sorted(expected["indexed"])
    reasons = {s.path.split("files/", 1)[1]: s.reason for s in read.skipped}
    assert sorted(reasons) == sorted(expected["skipped"])
    for where, reason in expected["skipped"].items():
        assert reason in reasons[where], (where, reasons[where])
    sidecar_warnings = [
        r.getMessage() for r in caplog.records if "ignored sidecar" in r.getMessage()
    ]
    assert len(sidecar_warnings) == 1 and "deep-sidecar.meta.json" in sidecar_warnings[0]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # json.loads raises ValueError (not JSONDecodeError) past sys.get_int_max_str_digits()
        ('{"id": "x", "text": "t", "n": 1' + "0" * 5000 + "}", "integer string conversion"),
        # ... and RecursionError past the recursion limit
        ('{"id": "x", "text": "t", "m": ' + _nested(100_000) + "}", "nested too deeply"),
        # parses, but the store could not write it back as JSON deeper in the stack
        ('{"id": "x", "text": "t", "m": ' + _nested(300) + "}", "nested more than 200 levels"),
    ],
)
def test_jsonl_lines_python_cannot_load_are_skipped(
    tmp_path: Path, line: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = json.dumps({"id": "good", "text": "Good article."})
    path = tmp_path / "feed.jsonl"
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        read = read_corpus(path)
    assert [a.doc_id for a in read.articles] == ["good"]
    ((where, why),) = [(s.path, s.reason) for s in read.skipped]
    assert where.endswith("feed.jsonl:2") and not why.startswith("line 2") and reason in why
    assert len(caplog.records) == 1 and "feed.jsonl:2" in caplog.text and reason in caplog.text


def test_metadata_nested_200_levels_is_read(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text('{"id": "x", "text": "t", "m": ' + _nested(199) + "}\n", encoding="utf-8")
    (article,) = read_corpus(path).articles
    assert article.metadata["m"] == json.loads(_nested(199))


@pytest.mark.parametrize(
    ("sidecar", "reason"),
    [
        ('{"m": ' + _nested(100_000) + "}", "JSON nested too deeply to read"),
        ('{"n": 1' + "0" * 5000 + "}", "JSON this reader refuses (Exceeds the limit (4300 digits)"),
    ],
)
def test_sidecar_python_cannot_load_is_ignored(
    tmp_path: Path, sidecar: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = _folder(tmp_path, {"a.txt": GOOD.encode(), "a.meta.json": sidecar.encode()})
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        read = read_corpus(root)
    assert read.skipped == [] and [a.doc_id for a in read.articles] == ["a"]
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("ignored sidecar ") and "a.meta.json: " + reason in message


@pytest.mark.parametrize(
    ("matter", "reason"),
    [
        ("m: " + _nested(5000), "front matter is nested too deeply"),
        ("n: 1" + "0" * 5000, "front matter cannot be read (Exceeds the limit (4300 digits)"),
    ],
)
def test_front_matter_python_cannot_load_skips_the_file(
    tmp_path: Path, matter: str, reason: str
) -> None:
    bad = f"---\ntitle: t\n{matter}\n---\nSome text here.\n"
    root = _folder(tmp_path, {"bad.md": bad.encode(), "good.md": GOOD.encode()})
    read = read_corpus(root)
    assert [a.doc_id for a in read.articles] == ["good"]
    assert _reasons(read)["bad.md"].startswith(reason)


def _laughs(levels: int) -> str:
    """Nested YAML aliases: ``levels`` lines that stand for 9**levels strings."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines)


@pytest.mark.parametrize("matter", ["a: &a one\nb: *a", _laughs(3)])
def test_front_matter_aliases_skip_the_file(tmp_path: Path, matter: str) -> None:
    """An alias repeats a node by reference; ten lines of them ("billion laughs") stood for 9**9
    strings, which storing the metadata as JSON expanded until memory ran out."""
    bad = f"---\ntitle: t\n{matter}\n---\nSome text here.\n"
    root = _folder(tmp_path, {"bad.md": bad.encode(), "good.md": GOOD.encode()})
    read = read_corpus(root)
    assert [a.doc_id for a in read.articles] == ["good"]
    assert _reasons(read)["bad.md"].startswith("front matter is not valid YAML (line ")
    assert "aliases (*" in _reasons(read)["bad.md"]


def test_front_matter_anchor_without_alias_is_read(tmp_path: Path) -> None:
    good = "---\ntitle: &t Anchored\n---\nSome text here.\n"
    (article,) = read_corpus(_folder(tmp_path, {"a.md": good.encode()})).articles
    assert article.title == "Anchored"


NOT_UTF8 = os.fsdecode(b"caf\xe9.txt")  # a latin-1 name: Python reads the byte as "\udce9"


def test_file_name_that_is_not_utf8_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No id or path of it could be stored (SQLite wants UTF-8): `qa index` and `qa add` crashed."""
    root = _folder(tmp_path, {"good.txt": GOOD.encode(), "sub/x.txt": GOOD.encode()})
    (root / NOT_UTF8).write_bytes(GOOD.encode())
    (root / os.fsdecode(b"dossier-\xe9t\xe9")).mkdir()
    (root / os.fsdecode(b"dossier-\xe9t\xe9") / "y.txt").write_bytes(GOOD.encode())
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        read = read_corpus(root)
        alone = read_file(root / NOT_UTF8, root)  # `qa add` reads it so
    assert [a.doc_id for a in read.articles] == ["good", "sub/x"]
    reason = "its name is not valid UTF-8: rename it"
    assert sorted((Path(s.path).name, s.reason) for s in read.skipped) == [
        ("caf\\xe9.txt", reason),
        ("dossier-\\xe9t\\xe9", reason),
    ]
    assert alone.articles == [] and [s.reason for s in alone.skipped] == [reason]
    for skipped in [*read.skipped, *alone.skipped]:
        skipped.path.encode("utf-8")  # shown and stored as it is: no lone surrogate
    assert "skipped " in caplog.text and "caf\\xe9.txt: " + reason in caplog.text


def test_sync_skips_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """The store's side: a sync indexes the rest instead of failing in SQLite."""
    corpus = _folder(tmp_path / "corpus", {"good.txt": GOOD.encode()})
    (corpus / NOT_UTF8).write_bytes(GOOD.encode())
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index", watch=False)
    engine = QAEngine.open(settings, HashingEmbedder())
    try:
        report = sync_folder(engine, corpus)
        assert report.added == ["good"]
        assert [Path(s.path).name for s in report.skipped] == ["caf\\xe9.txt"]
    finally:
        engine.close()


def test_ids_the_http_api_cannot_reach_are_skipped(tmp_path: Path) -> None:
    """GET and DELETE /documents/{id} cannot reach an id with a line break (or over 256
    characters): the corpus refuses them as the API does (api/schemas.py DocId)."""
    lines = [
        {"id": "ok", "text": "Good article."},
        {"id": "line\nbreak", "text": "t"},
        {"id": "x" * 257, "text": "t"},
        {"id": "  padded  ", "text": "Spaces around an id are trimmed, as before."},
        {"id": "inner space", "text": "An id with a space inside is fine."},
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    (tmp_path / "fm.md").write_text('---\nid: "front\\nmatter"\n---\nSome text.\n')
    (tmp_path / "side.txt").write_text(GOOD)
    (tmp_path / "side.meta.json").write_text(json.dumps({"id": "side\ncar", "title": "T"}))
    (tmp_path / "new\nline.txt").write_text(GOOD)  # a file name can hold one too
    read = read_corpus(tmp_path)
    assert sorted(a.doc_id for a in read.articles) == ["inner space", "ok", "padded", "side"]
    assert read.articles[-1].title != "T"  # the bad sidecar is ignored
    reach = "the HTTP API could not reach it"
    assert sorted((Path(s.path).name, s.reason) for s in read.skipped) == [
        ("feed.jsonl:2", f"id 'line\\nbreak' holds a line break: {reach}"),
        (
            "feed.jsonl:3",
            f"id {'x' * 60!r}... is 257 characters long (at most 256): {reach}",
        ),
        ("fm.md", f"front matter: id 'front\\nmatter' holds a line break: {reach}"),
        (
            "new\\nline.txt",
            f"id 'new\\nline' holds a line break (from its path): {reach}, rename it",
        ),
    ]
    assert all("\n" not in s.path for s in read.skipped)  # one line each in the log


def test_dot_segment_ids_are_skipped(tmp_path: Path) -> None:
    """/documents/.. is / to every browser and HTTP client: such an article could be cited but
    its citation never opened."""
    lines = [{"id": "ok", "text": "Good article."}, {"id": "..", "text": "t"}]
    (tmp_path / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    (tmp_path / "..txt").write_text(GOOD)  # a hidden file, as every dot file: not read
    read = read_corpus(tmp_path)
    assert [a.doc_id for a in read.articles] == ["ok"]
    reasons = sorted((Path(s.path).name, s.reason) for s in read.skipped)
    assert [name for name, _ in reasons] == ["feed.jsonl:2"]
    assert all("is a dot segment" in reason for _, reason in reasons), reasons

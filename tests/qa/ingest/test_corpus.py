import dataclasses
import json
import logging
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa.errors import CorpusError
from qa.ingest.corpus import (
    article_hash,
    corpus_hash,
    doc_id_for,
    iso_date,
    load_corpus,
    read_corpus,
    read_file,
)
from qa.records import Article
from tests.conftest import SEEDS

BBC = Path(__file__).parents[3].parent / "shared/benchmarks/bbc-news/bbc"


def test_seed_files_load_unchanged_with_derived_titles() -> None:
    articles = load_corpus(SEEDS)
    assert [a.doc_id for a in articles] == ["000_fcec8ea6051c7915", "004_e9619e141d084609"]
    for a in articles:
        assert a.text == (SEEDS / f"{a.doc_id}.txt").read_text(encoding="utf-8")
        assert a.metadata == {} and a.source is None
    assert articles[1].title.startswith("Iran refused to formally enter the war")
    assert articles[0].origin == "seeds/000_fcec8ea6051c7915.txt"


def test_seed_byline_gives_the_author() -> None:
    # seeds/000_fcec8ea6051c7915.txt, line 26: "By Ellie Doughty, Foreign News Reporter".
    first, second = load_corpus(SEEDS)
    assert first.author == "Ellie Doughty"
    assert second.author is None


def test_jsonl_articles(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [
        {
            "id": "a1",
            "text": "Body one.",
            "title": "T1",
            "url": "https://x.test/1",
            "published": "2024-10-12",
            "source": "BBC News",
            "author": "Jane Smith",
            "metadata": {"k": 1},
            "section": "world",
        },
        {"id": 7, "text": "The second headline has six words\nBy Ann Lee, Reporter\nBody two."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    a, b = load_corpus(path)
    assert (a.doc_id, a.title, a.url, a.published, a.source, a.author) == (
        "a1",
        "T1",
        "https://x.test/1",
        "2024-10-12",
        "BBC News",
        "Jane Smith",
    )
    assert a.metadata == {"k": 1, "section": "world"}  # unknown keys are metadata, not lost
    assert (b.doc_id, b.title, b.author) == ("7", "The second headline has six words", "Ann Lee")
    assert b.origin is not None and b.origin.endswith("c.jsonl#L2")


def test_bom_is_dropped_in_text_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfHeadline here\nBody.\n")
    (tmp_path / "b.jsonl").write_bytes(b'\xef\xbb\xbf{"id": "b", "text": "Body b."}\n')
    read = read_corpus(tmp_path)
    assert read.skipped == []
    assert [(a.doc_id, a.text) for a in read.articles] == [
        ("a", "Headline here\nBody.\n"),
        ("b", "Body b."),
    ]


def test_suffixes_in_any_case_recursion_and_ids_with_slashes(tmp_path: Path) -> None:
    files = {
        "top.TXT": "Top story.",
        "business/001.txt": "Business story.",
        "business/deep/002.Md": "Deep story.",
        "tech/003.markdown": "Tech story.",
        "tech/feed.JSONL": json.dumps({"id": "t9", "text": "Feed story."}),
        ".hidden/004.txt": "Hidden folder.",
        "tech/.005.txt": "Hidden file.",
        "tech/notes.csv": "not an article",
        "tech/003.meta.json": json.dumps({"title": "Given title"}),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    read = read_corpus(tmp_path)
    assert read.skipped == []
    # Sorted by relative path: business/... < tech/... < top.TXT.
    assert [(a.doc_id, a.metadata.get("folder")) for a in read.articles] == [
        ("business/001", "business"),
        ("business/deep/002", "business/deep"),
        ("tech/003", "tech"),
        ("t9", "tech"),
        ("top", None),
    ]
    assert read.articles[2].title == "Given title"


def test_doc_id_for() -> None:
    root = Path("/data/bbc")
    assert doc_id_for(root / "business/001.txt", root) == "business/001"
    assert doc_id_for(root / "a.b.md", root) == "a.b"
    assert doc_id_for(root / "business/001.txt", None) == "001"
    assert doc_id_for(Path("/elsewhere/x.txt"), root) == "x"


def test_read_file_reads_as_the_folder_would(tmp_path: Path) -> None:
    path = tmp_path / "sport" / "010.txt"
    path.parent.mkdir()
    path.write_text("Cup final tonight.\n", encoding="utf-8")
    (via_folder,) = read_corpus(tmp_path).articles
    (alone,) = read_file(path, tmp_path).articles
    assert alone == via_folder and alone.metadata == via_folder.metadata == {"folder": "sport"}
    assert read_file(path).articles[0].doc_id == "010"


def test_front_matter_fields_and_verbatim_body(tmp_path: Path) -> None:
    text = (
        "---\r\n"
        "title: Council approves budget\r\n"
        "url: https://news.test/budget\r\n"
        "date: 2024-10-12\r\n"
        "source: BBC News\r\n"
        "author: Jane Smith\r\n"
        "id: budget-2024\r\n"
        "tags: [council, money]\r\n"
        "---\r\n"
        "The council approved the budget.\r\nBy Someone Else\r\n"
    )
    (tmp_path / "x.md").write_bytes(text.encode())
    (article,) = load_corpus(tmp_path)
    assert article.text == "The council approved the budget.\r\nBy Someone Else\r\n"
    assert text.endswith(article.text)
    assert (article.doc_id, article.title, article.url, article.published) == (
        "budget-2024",
        "Council approves budget",
        "https://news.test/budget",
        "2024-10-12",  # the string as written, not a YAML date turned back into one
    )
    assert (article.source, article.author) == ("BBC News", "Jane Smith")
    assert article.metadata == {"tags": ["council", "money"]}


def test_sidecar_fields_over_front_matter(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(
        "---\ntitle: From front matter\nregion: north\n---\nA story.\n", encoding="utf-8"
    )
    (tmp_path / "a.meta.json").write_text(
        json.dumps(
            {
                "title": "From sidecar",
                "published": "2024-10-12T08:30:00+01:00",
                "metadata": {"topic": "weather"},
                "folder": "custom",
            }
        ),
        encoding="utf-8",
    )
    read = read_corpus(tmp_path)
    assert read.skipped == []
    (article,) = read.articles
    assert (article.doc_id, article.title, article.text) == ("a", "From sidecar", "A story.\n")
    assert article.published == "2024-10-12T08:30:00+01:00"
    assert article.metadata == {"region": "north", "topic": "weather", "folder": "custom"}


def test_crlf_is_kept_so_offsets_index_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"Line one.\r\nLine two.\r\n")
    (article,) = load_corpus(tmp_path)
    assert article.text == "Line one.\r\nLine two.\r\n"


def test_load_corpus_raises_when_nothing_is_read(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no articles"):
        load_corpus(tmp_path)


def test_corpus_hash_follows_content_not_location(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Same text.", encoding="utf-8")
    first = corpus_hash(load_corpus(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("Same text.", encoding="utf-8")
    assert corpus_hash(load_corpus(other)) == first
    (other / "a.txt").write_text("Changed text.", encoding="utf-8")
    assert corpus_hash(load_corpus(other)) != first


def test_article_hash_sees_every_stored_field_but_origin() -> None:
    base = Article("a", "T", "Text.", source="BBC", url="https://x.test/a", origin="a.txt")
    h = article_hash(base)
    assert article_hash(dataclasses.replace(base, origin="moved/a.txt")) == h
    for change in (
        {"url": "https://x.test/b"},
        {"url": None},
        {"published": "2024-10-12"},
        {"metadata": {"folder": "business"}},
        {"author": "Jane Smith"},
        {"source": None},
        {"source": ""},
        {"title": "T2"},
    ):
        assert article_hash(dataclasses.replace(base, **change)) != h, change
    # Metadata is hashed as sorted JSON: key order does not matter, values do.
    one = dataclasses.replace(base, metadata={"a": 1, "b": 2})
    assert article_hash(one) == article_hash(dataclasses.replace(base, metadata={"b": 2, "a": 1}))
    assert article_hash(one) != article_hash(dataclasses.replace(base, metadata={"a": 1, "b": 3}))


@pytest.mark.skipif(not BBC.is_dir(), reason="BBC News benchmark not present")
def test_bbc_news_folder() -> None:
    read = read_corpus(BBC)
    # 2,226 .txt files: README.TXT and the latin-1 sport/199.txt are skipped, 2,224 articles read
    # (the dataset's README counts 2,225 documents, 199.txt among them).
    assert len(read.articles) == 2224
    assert sorted((Path(s.path).relative_to(BBC).as_posix(), s.reason) for s in read.skipped) == [
        ("README.TXT", "not an article (README)"),
        ("sport/199.txt", "not UTF-8 text (byte 0xa3 at position 257)"),
    ]
    by_id = {a.doc_id: a for a in read.articles}
    assert by_id["business/001"].metadata == {"folder": "business"}
    assert by_id["business/001"].title == "Ad sales boost Time Warner profit"
    assert {a.metadata["folder"] for a in read.articles} == {
        "business",
        "entertainment",
        "politics",
        "sport",
        "tech",
    }
    assert "sport/199" not in by_id and "sport/200" in by_id


_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map(
    lambda k: "k_" + k
)
# One-line values: YAML folds line breaks (\n, NEL, U+2028) in plain scalars, a YAML matter.
_LINE = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85")
_VALUES = st.one_of(st.text(_LINE, max_size=20), st.integers(), st.booleans(), st.none())
_BODY = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=200,
).filter(lambda t: t.strip() != "")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(_KEYS, _VALUES, max_size=4),
    title=st.one_of(st.none(), st.text(_LINE, min_size=1, max_size=30)),
    body=_BODY,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_article_text_is_a_verbatim_suffix_of_the_file(
    tmp_path: Path, fields: dict[str, object], title: str | None, body: str, newline: str
) -> None:
    matter = dict(fields) if title is None else {"title": title, **fields}
    assume(not (newline == "\r" and body.startswith("\n")))  # "---\r\n" ends in \r\n
    block = yaml.safe_dump(matter, allow_unicode=True).replace("\n", newline) if matter else ""
    text = f"---{newline}{block}---{newline}{body}"
    path = tmp_path / "a.md"
    path.write_bytes(text.encode("utf-8"))
    read = read_file(path)
    assert read.skipped == []
    (article,) = read.articles
    assert article.text == body and text.endswith(article.text)
    assert article.metadata == fields
    if title is not None and title.strip():
        assert article.title == title.strip()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_front_matter_with_any_line_ending(tmp_path: Path, newline: str) -> None:
    """Lone \\r (old Mac files) too: its front matter was read as article text."""
    lines = ["---", "title: Ashford floods", "published: 2024-10-12", "author: Jane Smith", "---"]
    body = newline.join(["Floods hit the town.", "The river burst its banks.", ""])
    text = newline.join(lines) + newline + body
    (tmp_path / "a.md").write_bytes(text.encode())
    (article,) = load_corpus(tmp_path)
    assert (article.title, article.published, article.author) == (
        "Ashford floods",
        "2024-10-12",
        "Jane Smith",
    )
    assert article.text == body and text.endswith(article.text)


def test_front_matter_text_fields_as_written(tmp_path: Path) -> None:
    """YAML reads 1984 as a number and Yes as true: the article was skipped ("must be a string")."""
    text = (
        "---\nid: 007\ntitle: 1984\nauthor: Yes\nsource: 1.5e3\npublished: 20241012\n"
        "count: 12\nflag: yes\nratio: 0.5\n---\nBody.\n"
    )
    (tmp_path / "a.md").write_text(text, encoding="utf-8")
    read = read_corpus(tmp_path)
    assert read.skipped == []
    (a,) = read.articles
    assert (a.doc_id, a.title, a.author, a.source) == ("007", "1984", "Yes", "1.5e3")
    assert a.published == "2024-10-12"  # written 20241012: stored in the extended form
    assert a.metadata == {"count": 12, "flag": True, "ratio": 0.5}  # metadata keeps its types
    # a date alias, quoted values and null are as before
    (tmp_path / "a.md").write_text("---\ntitle: '1984'\nauthor: null\ndate: 2024-10-12\n---\nX.\n")
    (b,) = load_corpus(tmp_path)
    assert (b.title, b.author, b.published) == ("1984", None, "2024-10-12")


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2024-10-12", "2024-10-12"),
        ("20241012", "2024-10-12"),
        ("2024-W41-6", "2024-10-12"),
        ("2024W416", "2024-10-12"),
        ("2024-10-12T08:30:00+01:00", "2024-10-12T08:30:00+01:00"),  # extended: as written
        ("2024-10-12 08:30", "2024-10-12 08:30"),
        ("2024-10-12T08:30:00.5Z", "2024-10-12T08:30:00.5Z"),
        ("20241012T083000", "2024-10-12T08:30:00"),
        ("2024-10-12T0830", "2024-10-12T08:30:00"),
        ("2024-10-12T08:30:00+0100", "2024-10-12T08:30:00+01:00"),
    ],
)
def test_published_is_stored_in_the_extended_form(
    tmp_path: Path, written: str, stored: str
) -> None:
    """Date filters compare the first ten characters: "20241012" never fell in a range."""
    assert iso_date(written) == stored
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "T.", "published": written}) + "\n")
    (tmp_path / "b.md").write_text(f"---\npublished: '{written}'\n---\nText.\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text("Text.\n", encoding="utf-8")
    (tmp_path / "c.meta.json").write_text(json.dumps({"published": f" {written} "}))
    read = read_corpus(tmp_path)
    assert read.skipped == []
    assert [(a.doc_id, a.published) for a in read.articles] == [
        ("b", stored),
        ("a", stored),
        ("c", stored),
    ]


@pytest.mark.parametrize(
    "value", ["12/10/2024", "2024-13-01", "2024-10-12T25:00", " 2024-10-12", ""]
)
def test_iso_date_refuses_what_is_no_iso_date(value: str) -> None:
    with pytest.raises(ValueError, match="not an ISO date or date-time"):
        iso_date(value)


def test_unclosed_front_matter_is_refused_not_read_as_text(tmp_path: Path) -> None:
    """Was: its title, date and author became the article's first lines, without a warning."""
    (tmp_path / "a.md").write_text(
        "---\ntitle: Council approves budget\npublished: 2024-02-03\n\nThe council approved it.\n",
        encoding="utf-8",
    )
    (tmp_path / "b.md").write_text("---\n\nA text that opens with a rule.\n", encoding="utf-8")
    read = read_corpus(tmp_path)
    assert [a.doc_id for a in read.articles] == ["b"]  # a rule then text is still text
    (skipped,) = read.skipped
    assert skipped.path.endswith("a.md") and "front matter is not closed" in skipped.reason


def test_a_sidecar_date_is_the_published_date(tmp_path: Path) -> None:
    """The module's rule ("published or date") was kept by front matter, not by sidecars."""
    (tmp_path / "b.txt").write_text("A story.\n", encoding="utf-8")
    (tmp_path / "b.meta.json").write_text('{"date": "2024-02-03"}', encoding="utf-8")
    (article,) = read_corpus(tmp_path).articles
    assert article.published == "2024-02-03" and article.metadata == {}


def test_a_sidecar_that_cannot_be_read_makes_its_article_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: the article was read without it, and the stored one lost the sidecar's source and
    date; now it is skipped as unreadable, which keeps what is stored."""
    from qa.ingest import corpus

    (tmp_path / "f.txt").write_text("A story.\n", encoding="utf-8")
    (tmp_path / "f.meta.json").write_text('{"source": "Science Daily"}', encoding="utf-8")
    assert read_corpus(tmp_path).articles[0].source == "Science Daily"
    monkeypatch.setattr(corpus, "MAX_FILE_BYTES", 10)  # the sidecar is now too large to read
    read = read_file(tmp_path / "f.txt", tmp_path)  # as the folder sync reads a changed file
    assert read.articles == [] and read.unreadable  # unreadable: its stored article is kept
    (skipped,) = read.skipped
    assert skipped.path.endswith("f.txt") and "its sidecar" in skipped.reason
    assert "f.meta.json" in skipped.reason and "larger than" in skipped.reason


def test_front_matter_keys_in_any_case_are_the_fields(tmp_path: Path) -> None:
    """Was: "Title:", "Published:", "Author:" went into metadata, silently."""
    (tmp_path / "a.md").write_text(
        "---\nTitle: 1984\nPublished: 2024-02-03\nAuthor: Jane Smith\nSOURCE: BBC\nRegion: north\n"
        "---\nThe council approved the budget.\n",
        encoding="utf-8",
    )
    (article,) = read_corpus(tmp_path).articles
    assert (article.title, article.published, article.author, article.source) == (
        "1984",
        "2024-02-03",
        "Jane Smith",
        "BBC",
    )
    assert article.metadata == {"Region": "north"}


def test_a_url_that_is_not_a_web_address_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The url is what a citation links to, so one that is no web address is not stored; the
    article is (refused whole, one stored before urls were checked would be deleted by the next
    read of its file). A sidecar's other fields are kept too."""
    (tmp_path / "a.md").write_text("---\nurl: javascript:alert(1)\ntitle: Trams\n---\nTrams run.\n")
    (tmp_path / "b.md").write_text("---\nurl: https://x.test/b\n---\nBuses run.\n")
    (tmp_path / "c.jsonl").write_text(
        '{"id": "c1", "text": "Ferries run.", "url": "ftp://x.test/c1"}\n'
        '{"id": "c2", "text": "Planes fly.", "url": "http://x.test/c2"}\n'
    )
    (tmp_path / "d.txt").write_text("Ships sail.\n")
    (tmp_path / "d.meta.json").write_text('{"url": "/news/ships", "source": "BBC"}')
    with caplog.at_level(logging.WARNING, logger="qa.ingest.corpus"):
        read = read_corpus(tmp_path)
    assert read.skipped == []
    got = {a.doc_id: (a.url, a.title, a.source) for a in read.articles}
    assert got == {
        "a": (None, "Trams", None),
        "b": ("https://x.test/b", "Buses run.", None),
        "c1": (None, "Ferries run.", None),
        "c2": ("http://x.test/c2", "Planes fly.", None),
        "d": (None, "Ships sail.", "BBC"),
    }
    warned = sorted(r.getMessage().replace(str(tmp_path) + "/", "") for r in caplog.records)
    assert warned == [
        "a.md: its 'url' must be an http:// or https:// address, not 'javascript:alert(1)': "
        "read without it",
        "c.jsonl:1: its 'url' must be an http:// or https:// address, not 'ftp://x.test/c1': "
        "read without it",
        "d.meta.json: its 'url' must be an http:// or https:// address, not '/news/ships': "
        "read without it",
    ]

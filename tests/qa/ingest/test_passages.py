import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.clean import kept_blocks
from qa.ingest.passages import Chunking, build_passages, window_starts
from qa.records import Article

WORDS = st.sampled_from(
    [
        "Iran",
        "U.S.",
        "Oct.",
        "7",
        "said",
        "“war”",
        "Hamas’",
        "the",
        "[/caption]",
        "Topics:",
        "tracking",
        "Published by",
        "Dr.",
        "3.5",
        "!",
        "?",
        ".",
        "\n",
        "\n\n",
        "  ",
        "é",
        "\r\n",
        "\nBy",  # bylines and sentences that open like one
        "Christmas",
        "Day,",
        "Jane",
        "Smith",
        "Jose\u0301",  # NFD
        "£40.",
    ]
)
TEXTS = st.lists(WORDS, max_size=120).map(" ".join) | st.text(max_size=400)


@pytest.mark.parametrize(
    ("n", "size", "overlap", "expected"),
    [
        (0, 3, 1, []),
        (2, 3, 1, [0]),
        (3, 3, 1, [0]),
        (4, 3, 1, [0, 2]),
        (7, 3, 1, [0, 2, 4]),
        (8, 3, 1, [0, 2, 4, 6]),
        (6, 2, 0, [0, 2, 4]),
    ],
)
def test_window_starts(n: int, size: int, overlap: int, expected: list[int]) -> None:
    assert list(window_starts(n, size, overlap)) == expected


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError, match="overlap .* must be smaller"):
        Chunking(sentences=2, overlap=2)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(TEXTS, min_size=1, max_size=3), size=st.integers(0, 5), overlap=st.integers(0, 4)
)
def test_every_passage_is_verbatim_and_inside_one_block(
    texts: list[str], size: int, overlap: int
) -> None:
    if size and overlap >= size:
        overlap = size - 1
    articles = [Article(f"d{i}", "t", text) for i, text in enumerate(texts)]
    passages = build_passages(articles, Chunking(size, overlap))
    by_id = {a.doc_id: a for a in articles}
    assert [p.passage_id for p in passages] == list(range(len(passages)))
    for p in passages:
        text = by_id[p.doc_id].text
        assert text[p.span.start : p.span.end] == p.text
        assert p.text and "[/caption]" not in p.text
        assert any(b.contains(p.span) for b in kept_blocks(text))
        assert p.sentences[0].start == p.span.start and p.sentences[-1].end == p.span.end
        assert all(p.span.contains(s) for s in p.sentences)


def test_passages_overlap_by_the_configured_sentences() -> None:
    text = "One. Two. Three. Four. Five."
    passages = build_passages([Article("d", "t", text)], Chunking(3, 1))
    assert [p.text for p in passages] == ["One. Two. Three.", "Three. Four. Five."]

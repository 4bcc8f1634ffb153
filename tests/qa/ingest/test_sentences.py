import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.ingest.sentences import split_sentences
from qa.records import Span


def sentences(text: str) -> list[str]:
    return [s.of(text) for s in split_sentences(text, Span(0, len(text)))]


def test_news_abbreviations_do_not_split() -> None:
    text = "The U.S. said the attack on Oct. 7 was planned. Iran’s leader “denied it.” He left."
    assert sentences(text) == [
        "The U.S. said the attack on Oct. 7 was planned.",
        "Iran’s leader “denied it.”",
        "He left.",
    ]


def test_line_break_ends_a_sentence() -> None:
    assert sentences("A headline without a stop\nThe body. More body.") == [
        "A headline without a stop",
        "The body.",
        "More body.",
    ]


def test_repeated_sentences_get_their_own_offsets() -> None:
    text = "Same words here. Other words. Same words here."
    spans = split_sentences(text, Span(0, len(text)))
    assert [s.start for s in spans] == [0, 17, 30]


@given(st.text(alphabet=st.sampled_from(list("ab. ?!\n“”’")) | st.characters(), max_size=300))
def test_sentences_are_verbatim_ordered_and_inside_the_block(text: str) -> None:
    block = Span(0, len(text))
    spans = split_sentences(text, block)
    end = 0
    for span in spans:
        piece = span.of(text)
        assert piece and piece == piece.strip()
        assert span.start >= end
        end = span.end
    assert "".join(text.split()) == "".join("".join(s.of(text) for s in spans).split())


def test_a_very_long_paragraph_is_cut_at_sentence_ends_before_pysbd(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """pysbd's time grows with the square of a paragraph's length: a 1 MB one-line article
    took 5 minutes to store. It is given at most MAX_SEGMENT_CHARS at once, cut where a
    sentence ends, so the sentences are the same as if it had read the whole line."""
    from qa.ingest import sentences as module

    given: list[int] = []
    segmenter = module._segmenter()

    class Recording:
        def segment(self, text: str) -> list[str]:
            given.append(len(text))
            return segmenter.segment(text)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "_segmenter", lambda: Recording())
    said = [f"Sentence {i} of the report says that {i * 7} ships came in." for i in range(700)]
    text = "Headline\n" + " ".join(said) + "\nLast line."
    assert len(text) > 3 * module.MAX_SEGMENT_CHARS
    assert sentences(text) == ["Headline", *said, "Last line."]
    assert max(given) <= module.MAX_SEGMENT_CHARS and len(given) >= 5


def test_a_long_run_without_a_sentence_end_is_cut_at_white_space_or_the_limit() -> None:
    from qa.ingest.sentences import MAX_SEGMENT_CHARS

    words = " ".join(["word"] * (MAX_SEGMENT_CHARS // 2))  # no full stop at all
    blob = "x" * (MAX_SEGMENT_CHARS * 2 + 17)  # not even a space
    for text in (words, blob, words + " " + blob + ". Done."):
        spans = split_sentences(text, Span(0, len(text)))
        assert all(s.of(text) == s.of(text).strip() and s.of(text) for s in spans)
        assert "".join(text.split()) == "".join("".join(s.of(text) for s in spans).split())


def test_pysbd_compiles_each_pattern_once_and_splits_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pysbd builds thousands of distinct patterns (one per abbreviation and way it matched),
    more than re's cache holds: it now compiles each once, and its sentences do not change."""
    import re

    import pysbd
    import pysbd.abbreviation_replacer as abbreviations

    from qa.ingest import sentences

    sentences._segmenter()
    compiled = abbreviations.re
    assert isinstance(compiled, sentences._CompiledOnce)
    text = (
        "Mr. Smith met Dr. Jones at 10 a.m. on Jan. 5 in the U.S. capital. They spoke for an hour. "
        "Gen. Lee (ret.) and Prof. Brown arrived at No. 10 St. James's St. at approx. 3 p.m. Sales "
        "rose 5% vs. last year, i.e. more than expected! Did Sen. Kerry say so? Yes, etc. Fine."
    )
    ours = pysbd.Segmenter(language="en", clean=False).segment(text)
    before = compiled.compile.cache_info()
    assert pysbd.Segmenter(language="en", clean=False).segment(text) == ours
    after = compiled.compile.cache_info()
    assert after.misses == before.misses and after.hits > before.hits  # nothing compiled again
    for name, module in list(sys.modules.items()):  # pysbd as shipped: re's own functions
        if name.split(".")[0] == "pysbd" and getattr(module, "re", None) is compiled:
            monkeypatch.setattr(module, "re", re)
    assert pysbd.Segmenter(language="en", clean=False).segment(text) == ours
    assert ours[0] == "Mr. Smith met Dr. Jones at 10 a.m. on Jan. 5 in the U.S. capital. "

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

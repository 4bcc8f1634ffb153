import pytest

from qa.errors import InvalidInputError
from qa.search.filters import Filters


@pytest.mark.parametrize(
    ("written", "date"),
    [
        ("2005-03-01", "2005-03-01"),
        ("2005-03-01T08:30:00+01:00", "2005-03-01"),
        ("20050301", "2005-03-01"),
        ("2005-W09-2", "2005-03-01"),
    ],
)
def test_filter_dates_are_iso_dates_as_the_corpus_reads_them(written: str, date: str) -> None:
    assert Filters(published_after=written).published_after == date


@pytest.mark.parametrize("written", ["2005-01-01 and some garbage", "2005-01-01T25:00", "soon", ""])
def test_a_filter_date_is_checked_whole(written: str) -> None:
    """Only the first ten characters were read, so `qa ask --published-after "2005-01-01 and
    some garbage"` filtered on 2005-01-01 where `/ask` answers 422."""
    with pytest.raises(InvalidInputError, match="published_before must be an ISO date") as caught:
        Filters(published_before=written)
    assert caught.value.field == ("filters", "published_before")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"doc_ids": ("",)}, "doc_ids"), ({"sources": ("BBC", "  ")}, "source")],
)
def test_an_empty_id_or_outlet_is_refused_not_matched_against_nothing(
    kwargs: dict, field: str
) -> None:
    """Was: `qa ask --doc-id ""` answered "No answer in these articles" (exit 0), where `/ask`
    refuses an empty id (422): no article has an empty id, nor a blank outlet."""
    with pytest.raises(InvalidInputError, match=f"{field} must not be empty or blank") as caught:
        Filters(**kwargs)
    assert caught.value.field == ("filters", field)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_a_source_filter_ignores_case_spaces_and_accent_encoding(tmp_path, mode: str) -> None:  # type: ignore[no-untyped-def]
    """Was: "bbc" missed "BBC", and "Café Times" written with a combining accent missed the
    one written with é (and the reverse)."""
    from qa.config import Settings
    from qa.embed import HashingEmbedder
    from qa.engine import QAEngine
    from qa.records import Article

    engine = QAEngine.open(
        Settings(corpus=tmp_path / "c", index_dir=tmp_path / "i", watch=False), HashingEmbedder()
    )
    text = "Harbour\nThe harbour reopened after the storm."
    engine.add(
        [
            Article("a", "Harbour", text, source="BBC"),
            Article("b", "Harbour", text, source="Caf\u00e9 Times"),
            Article("c", "Harbour", text, source="BBC News"),
        ]
    )
    engine.live.start_lexical(wait=True)

    def found(*sources: str) -> set[str]:
        hits = engine.search("harbour storm", 10, mode, Filters(sources=sources))  # type: ignore[arg-type]
        return {h.passage.doc_id for h in hits}

    assert found("bbc") == found(" BBC ") == found("BBC") == {"a"}
    assert found("Cafe\u0301 times") == {"b"}
    assert found("bbc news", "CAF\u00c9 TIMES") == {"b", "c"}
    assert found("BB") == found("Reuters") == set()
    engine.close()


def test_the_stored_outlets_are_each_listed_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``distinct_sources`` seeks from one name to the next in the index: every name, once,
    in order, none for articles without an outlet, and a deleted article's outlet goes."""
    from qa.config import Settings
    from qa.embed import HashingEmbedder
    from qa.engine import QAEngine
    from qa.records import Article

    engine = QAEngine.open(
        Settings(corpus=tmp_path / "c", index_dir=tmp_path / "i", watch=False), HashingEmbedder()
    )
    assert engine.store.distinct_sources() == []
    text = "Harbour\nThe harbour reopened after the storm."
    outlets = ["Reuters", None, "BBC", "bbc", "Reuters", "AP", None, "BBC", "Écho"]
    engine.add([Article(f"d{i}", "Harbour", text, source=o) for i, o in enumerate(outlets)])
    assert engine.store.distinct_sources() == ["AP", "BBC", "Reuters", "bbc", "Écho"]
    engine.delete(["d5", "d8"])
    assert engine.store.distinct_sources() == ["BBC", "Reuters", "bbc"]
    engine.close()

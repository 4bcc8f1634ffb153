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

"""Filters on article metadata, applied inside retrieval (as SQL over the store)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from qa.errors import InvalidInputError, check_text
from qa.ingest.corpus import iso_date

__all__ = ["Filters", "parse_date", "source_key"]


def source_key(name: str) -> str:
    """What two names of one outlet share: ``BBC``, `` bbc `` and the two encodings of
    ``Café`` (one é, or e and a combining accent) have the same key."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).strip().casefold())


def parse_date(value: str, field: str) -> str:
    """``value``, an ISO date or date-time as the corpus reader takes one (``iso_date``), as
    the date ``YYYY-MM-DD`` (a date-time is cut to its date). The whole value is checked: only
    its first ten characters were, so ``2005-01-01 and more`` filtered on 2005-01-01."""
    try:
        return iso_date(value)[:10]
    except ValueError:
        message = f"{field} must be an ISO date (YYYY-MM-DD) or date-time, not {value!r}"
        raise InvalidInputError(message, field=("filters", field)) from None


@dataclass(frozen=True, slots=True)
class Filters:
    """Keep articles from these outlets, published in this date range (both ends included), or
    with these ids. Every given condition must hold; an article with no ``published`` date never
    matches a date condition."""

    sources: tuple[str, ...] | None = None
    published_after: str | None = None
    published_before: str | None = None
    doc_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name, values in (("source", self.sources), ("doc_ids", self.doc_ids)):
            for value in values or ():
                check_text(value, name, field=("filters", name))
                if not value.strip():  # no article has an empty id or outlet: it matched none
                    message = f"{name} must not be empty or blank, not {value!r}"
                    raise InvalidInputError(message, field=("filters", name))
        for name in ("published_after", "published_before"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_date(value, name))

    @property
    def empty(self) -> bool:
        return (
            self.sources is None
            and self.published_after is None
            and self.published_before is None
            and self.doc_ids is None
        )

    def sql(
        self, article: str = "a", stored_sources: Iterable[str] | None = None
    ) -> tuple[str, list[object]]:
        """A WHERE condition on the articles table aliased ``article``, with its parameters.
        ``stored_sources``: the store's distinct source names; a source filter keeps those with
        a filtered name's ``source_key`` (without them, only names written exactly alike)."""
        clauses: list[str] = []
        params: list[object] = []
        if self.sources is not None:
            names: list[str] = list(self.sources)
            if stored_sources is not None:
                wanted = {source_key(s) for s in self.sources}
                names = [s for s in stored_sources if source_key(s) in wanted]
            if names:
                clauses.append(f"{article}.source IN ({','.join('?' * len(names))})")
                params.extend(names)
            else:
                clauses.append("0")  # no stored outlet has that name
        if self.doc_ids is not None:
            clauses.append(f"{article}.doc_id IN ({','.join('?' * len(self.doc_ids))})")
            params.extend(self.doc_ids)
        if self.published_after is not None:
            clauses.append(f"substr({article}.published, 1, 10) >= ?")
            params.append(self.published_after)
        if self.published_before is not None:
            clauses.append(f"substr({article}.published, 1, 10) <= ?")
            params.append(self.published_before)
        return (" AND ".join(clauses) or "1"), params

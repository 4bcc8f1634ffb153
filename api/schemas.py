"""HTTP request and response schemas, kept apart from the library's dataclasses."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    WithJsonSchema,
    field_validator,
)

from qa.answer.rank import CONFIDENCE_DIGITS
from qa.engine import MAX_QUESTION_CHARS, MAX_TOP_K, Abstention, AskResult, WriteResult
from qa.ingest.corpus import (
    DOC_ID_MAX_CHARS,
    DOC_ID_PATTERN,
    MAX_NESTING,
    check_doc_id,
    check_url,
    iso_date,
    nesting,
    new_article,
)
from qa.records import Answer, Article
from qa.search.filters import Filters


def _not_blank(value: str) -> str:
    """A question of white space alone is refused here, where the error can show what was sent
    (the engine's own check, for the library and the CLI, knows no request field's input)."""
    if not value.strip():
        raise ValueError("question must not be empty or white space alone")
    return value


Question = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_QUESTION_CHARS),
    AfterValidator(_not_blank),
]


def _iso_date(value: str | None) -> str | None:
    """An ISO date or date-time, in the extended form (``20241012`` -> ``2024-10-12``) as the
    corpus reader stores it: date filters compare the first ten characters."""
    if value is None:
        return None
    try:
        return iso_date(value)
    except ValueError:
        raise ValueError("must be an ISO date (2024-10-12) or date-time") from None


ShortText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
FilterId = Annotated[str, StringConstraints(min_length=1, max_length=DOC_ID_MAX_CHARS)]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: list[ShortText] | None = Field(
        None, max_length=100, description="keep articles from these outlets"
    )
    published_after: str | None = Field(None, description="ISO date, included")
    published_before: str | None = Field(None, description="ISO date, included")
    doc_ids: list[FilterId] | None = Field(
        None, max_length=1000, description="keep only these articles"
    )

    _dates = field_validator("published_after", "published_before")(_iso_date)

    def to_filters(self) -> Filters | None:
        f = Filters(
            sources=tuple(self.source) if self.source is not None else None,
            published_after=self.published_after,
            published_before=self.published_before,
            doc_ids=tuple(self.doc_ids) if self.doc_ids is not None else None,
        )
        return None if f.empty else f


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Question = Field(description="the question, 1 to 2000 characters")
    # strict: JSON true is not 1, "5" is not 5 (a client sending them has a bug worth a 422)
    top_k: int | None = Field(
        None,
        ge=1,
        le=MAX_TOP_K,
        strict=True,
        description="how many answers at most [default: the server's QA_TOP_K, 5]",
    )
    mode: Literal["hybrid", "dense", "bm25"] | None = Field(
        None, description="retrieval mode [default: the server's QA_MODE, hybrid]"
    )
    filters: FiltersIn | None = Field(None, description="restrict the articles searched")
    min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        strict=True,
        allow_inf_nan=False,  # NaN: "should be a finite number", not "less than or equal to 1"
        description="abstain when the first answer's confidence is below this "
        "[default: the server's, see /health]",
    )


def reachable_id(doc_id: str) -> str:
    """``doc_id`` if ``/documents/{id}`` can reach it (``check_doc_id``); else ValueError."""
    try:
        return check_doc_id(doc_id)
    except ValueError as exc:
        raise ValueError(f"the id {exc}") from None


# The corpus reader refuses the same ids (qa/ingest/corpus.py): every article can be reached.
# The pattern is JSON Schema's part of the rule; ``check_doc_id`` checks all of it, dot segments
# included, and says what is wrong in words ("the id holds a line break"), where the pattern
# as a constraint said "String should match pattern '^\S(?:[^\n\r...'".
DocId = Annotated[
    str,
    AfterValidator(reachable_id),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": DOC_ID_MAX_CHARS,
            "pattern": DOC_ID_PATTERN,
        }
    ),
]


class DocumentFields(BaseModel):
    """An article to store; only ``text`` is required (``title`` defaults to its first line)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2_000_000)
    title: str | None = Field(None, max_length=1000)
    url: str | None = Field(None, max_length=2000)
    published: str | None = Field(None, max_length=40, description="ISO date or date-time")
    source: str | None = Field(None, max_length=500, description="the outlet")
    author: str | None = Field(None, max_length=500)
    metadata: dict[str, Any] = Field(default_factory=dict)

    _published = field_validator("published")(_iso_date)

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain some text")
        return value

    @field_validator("title", "url", "source", "author")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        """As a corpus file's fields are: white space at the ends dropped, empty is none (a
        source filter names "BBC", not "  BBC  "; a blank title is the text's first line)."""
        return (value.strip() or None) if value is not None else None

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("metadata")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Stored and sent back as UTF-8 JSON: no lone surrogates, no NaN or Infinity, and no
        deeper than a corpus file's (a record stored deeper could not be sent back)."""
        if nesting(value) >= MAX_NESTING:  # the field itself is one level below the record
            raise ValueError(f"is nested more than {MAX_NESTING} levels deep")
        try:
            json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be Unicode text: a lone surrogate is not") from None
        except ValueError:
            raise ValueError("NaN and Infinity are not JSON numbers") from None
        return value

    def to_article(self, doc_id: str) -> Article:
        return new_article(
            doc_id,
            self.text,
            title=self.title,
            source=self.source,
            url=self.url,
            published=self.published,
            author=self.author,
            metadata=self.metadata,
        )


class DocumentIn(DocumentFields):
    id: DocId = Field(description="the document id (1-256 characters)")


BODY_TAGS = ("document", "documents")
"""The two shapes of a POST /documents body, as pydantic names them in an error's ``loc``
(which the app's handler leaves out: ``["body", "id"]``, ``["body", 3, "id"]``)."""


def _documents_tag(value: Any) -> str:
    return BODY_TAGS[1] if isinstance(value, list) else BODY_TAGS[0]


DocumentsBody = Annotated[
    Annotated[DocumentIn, Tag(BODY_TAGS[0])] | Annotated[list[DocumentIn], Tag(BODY_TAGS[1])],
    Discriminator(_documents_tag),
]
"""One article or an array of them; a bad one is reported once, as the shape it has (both
shapes were tried and reported: an object was also "not a valid list")."""


class WriteOut(BaseModel):
    ids: list[str] = Field(description="the ids written, durable and searchable")
    added: list[str]
    replaced: list[str]
    unchanged: list[str]

    @classmethod
    def of(cls, result: WriteResult) -> WriteOut:
        return cls(
            ids=[*result.added, *result.replaced, *result.unchanged],
            added=result.added,
            replaced=result.replaced,
            unchanged=result.unchanged,
        )


class TextSpan(BaseModel):
    text: str
    start_char: int
    end_char: int


class Scores(BaseModel):
    dense: float | None
    bm25: float | None


class AnswerOut(BaseModel):
    rank: int
    score: float
    doc_id: str
    title: str
    source: str | None = Field(None, description="the outlet")
    url: str | None = None
    published: str | None = None
    author: str | None = None
    origin: str | None = Field(None, description="file the article was read from")
    confidence: float = Field(
        description="calibrated probability that this passage answers the question"
    )
    passage: TextSpan
    highlight: TextSpan
    scores: Scores

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        return cls.model_validate(answer_fields(answer))


def answer_fields(answer: Answer) -> dict[str, Any]:
    """``AnswerOut``'s fields as plain data, in its order: what ``/ask`` serialises directly."""
    hit, article, passage, highlight = (
        answer.hit,
        answer.article,
        answer.hit.passage,
        answer.highlight,
    )
    return {
        "rank": int(answer.rank),
        "score": round(float(hit.score), 6),
        "doc_id": article.doc_id,
        "title": article.title,
        "source": article.source,
        "url": article.url,
        "published": article.published,
        "author": article.author,
        "origin": article.origin,
        "confidence": round(float(answer.confidence), CONFIDENCE_DIGITS),
        "passage": {
            "text": passage.text,
            "start_char": int(passage.span.start),
            "end_char": int(passage.span.end),
        },
        "highlight": {
            "text": highlight.of(article.text),
            "start_char": int(highlight.start),
            "end_char": int(highlight.end),
        },
        "scores": {
            "dense": None if hit.dense is None else round(float(hit.dense), 6),
            "bm25": None if hit.bm25 is None else round(float(hit.bm25), 6),
        },
    }


class AskResponse(BaseModel):
    question: str
    mode: str
    abstained: bool
    abstention: Abstention | None = Field(
        None,
        description="why there are no answers: no_match (no passage matches the question and "
        "filters: nothing was weighed) or low_confidence (the best passage found is below "
        "min_confidence); null when answered",
    )
    message: str | None = Field(None, description="why there are no answers, when abstained")
    confidence: float = Field(
        description="answered: probability that the first answer answers the question; "
        "abstained: probability that the best passage found does not"
    )
    min_confidence: float = Field(description="the threshold below which it abstains")
    took_ms: float
    answers: list[AnswerOut]

    @classmethod
    def of(cls, result: AskResult) -> AskResponse:
        return cls.model_validate(ask_fields(result))

    @staticmethod
    def json_of(result: AskResult) -> bytes:
        """The response the model would write, built as plain data and serialised by pydantic-core
        without building 50 models first (0.35 -> 0.16 ms at top_k 50). tests/api/test_schemas.py
        holds it byte-equal to the models built field by field, on real answers and on missing
        fields, NaN and infinity (null, as the model writes them); numpy scalars are written as
        the Python numbers they hold."""
        # NaN and infinity as null, as the model writes them (not JSON's missing NaN)
        return pydantic_core.to_json(ask_fields(result), inf_nan_mode="null")


def ask_fields(result: AskResult) -> dict[str, Any]:
    """``AskResponse``'s fields as plain data, in its order."""
    return {
        "question": result.question,
        "mode": result.mode,
        "abstained": bool(result.abstained),
        "abstention": result.abstention,
        "message": MESSAGES[result.abstention] if result.abstention else None,
        "confidence": round(
            float(1 - result.confidence if result.abstained else result.confidence),
            CONFIDENCE_DIGITS,
        ),
        "min_confidence": float(result.min_confidence),
        "took_ms": round(float(result.took_ms), 1),
        "answers": [answer_fields(a) for a in result.answers],
    }


NO_ANSWER = "No answer in these articles."
NO_MATCH = "No answer in these articles: no passage matches the question and filters."
"""the message when nothing was found to weigh (filters that match nothing, an empty archive):
``confidence`` is then 1, with no passage it is about"""
MESSAGES: dict[Abstention, str] = {"no_match": NO_MATCH, "low_confidence": NO_ANSWER}


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    source: str | None = None
    url: str | None = None
    published: str | None = None
    author: str | None = None
    length: int


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published: str | None = None
    author: str | None = None
    origin: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, article: Article) -> DocumentOut:
        return cls.model_validate(article)


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    passages: int
    model: str
    model_sha256: str
    dense_index: Literal["flat", "ivf"]
    change_seq: int = Field(description="last change applied to the dense index")
    min_confidence: float = Field(description="default abstention threshold of /ask")
    lexical_index: Literal["memory", "fts5"] = Field(
        description="what ranks BM25: the in-memory index once built at start, FTS5 until then"
    )
    prepared_articles: int = Field(
        description="articles prepared in memory for answering: the newest, filled in the "
        "background at start, up to QA_SENTENCE_CACHE (replaced or deleted ones age out)"
    )
    warming: bool = Field(description="whether the background preparation at start still runs")


class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where: 'body', 'query' or 'path', then the field")
    msg: str
    type: str
    input: str | None = Field(
        None, description="a short excerpt of the rejected value (at most 80 characters)"
    )


class ValidationErrorOut(BaseModel):
    """Every 422: one entry per rejected field."""

    detail: list[FieldError]

"""HTTP request and response schemas, kept apart from the library's dataclasses."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qa.engine import MAX_QUESTION_CHARS, MAX_TOP_K, AskResult
from qa.records import Answer, Article

Question = Annotated[
    str, StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_QUESTION_CHARS)
]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Question = Field(description="the question, 1 to 2000 characters")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="how many answers at most")
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


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
    source: str
    url: str | None = None
    passage: TextSpan
    highlight: TextSpan
    scores: Scores

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        hit, article = answer.hit, answer.article
        return cls(
            rank=answer.rank,
            score=round(hit.score, 6),
            doc_id=article.doc_id,
            title=article.title,
            source=article.source,
            url=article.url,
            passage=TextSpan(
                text=hit.passage.text,
                start_char=hit.passage.span.start,
                end_char=hit.passage.span.end,
            ),
            highlight=TextSpan(
                text=answer.highlight_text,
                start_char=answer.highlight.start,
                end_char=answer.highlight.end,
            ),
            scores=Scores(
                dense=None if hit.dense is None else round(hit.dense, 6),
                bm25=None if hit.bm25 is None else round(hit.bm25, 6),
            ),
        )


class AskResponse(BaseModel):
    question: str
    mode: str
    abstained: bool
    message: str | None = Field(None, description="why there are no answers, when abstained")
    took_ms: float
    answers: list[AnswerOut]

    @classmethod
    def of(cls, result: AskResult) -> AskResponse:
        return cls(
            question=result.question,
            mode=result.mode,
            abstained=result.abstained,
            message=NO_ANSWER if result.abstained else None,
            took_ms=round(result.took_ms, 1),
            answers=[AnswerOut.of(a) for a in result.answers],
        )


NO_ANSWER = "No answer in these articles."


class _DocumentFields(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    title: str
    source: str
    url: str | None = None


class DocumentSummary(_DocumentFields):
    length: int

    @classmethod
    def of(cls, article: Article) -> DocumentSummary:
        fields = _DocumentFields.model_validate(article).model_dump()
        return cls(**fields, length=len(article.text))


class DocumentOut(_DocumentFields):
    text: str
    published: str | None = None

    @classmethod
    def of(cls, article: Article) -> DocumentOut:
        return cls.model_validate(article)


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    passages: int
    model: str
    model_sha256: str
    index: str


class ErrorOut(BaseModel):
    detail: str

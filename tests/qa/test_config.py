"""Settings that would do harm are refused when they are read, naming the variable and why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from qa.config import Settings
from qa.embed import DEFAULT_MODEL_SHA256


@pytest.fixture(autouse=True)
def no_qa_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("QA_"):
            monkeypatch.delenv(name)


def read(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    """Settings as `qa` reads them: from the environment (and no .env file)."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


@pytest.mark.parametrize("field", ["corpus", "index_dir", "model_path", "onnx_cache"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_path_is_refused_not_taken_for_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    """QA_CORPUS='' was Path('.'): `qa index` indexed the working directory and deleted every
    article of the real corpus from the store."""
    variable = f"QA_{field.upper()}"
    said = "empty" if not value else r"blank \(white space only\)"
    with pytest.raises(ValidationError, match=f"{variable} is set but {said}") as raised:
        read(monkeypatch, **{variable: value})
    assert raised.value.errors()[0]["loc"] == (field,)


def test_the_current_directory_is_still_there_for_the_asking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = read(monkeypatch, QA_CORPUS=".", QA_INDEX_DIR="./idx")
    assert settings.corpus == Path(".") and settings.index_dir == Path("idx")


def test_an_empty_model_sha256_still_skips_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(monkeypatch, QA_MODEL_SHA256="").model_sha256 is None


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_host_is_refused_not_every_interface(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """QA_HOST='' made `qa serve` listen on 0.0.0.0 and ::, without a word."""
    with pytest.raises(ValidationError, match="QA_HOST is set but (empty|blank).*every interface"):
        read(monkeypatch, QA_HOST=value)
    assert read(monkeypatch, QA_HOST="0.0.0.0").host == "0.0.0.0"


@pytest.mark.parametrize("key", ["k1 ", " k1", "k1\t", "k1\n"])
def test_an_api_key_with_white_space_at_an_end_is_refused(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """HTTP strips white space at the ends of a header value: a server with the key 'k1 '
    answered every client with a 401."""
    with pytest.raises(ValidationError, match="QA_API_KEY starts or ends with white space") as e:
        read(monkeypatch, QA_API_KEY=key)
    assert key not in str(e.value.errors()[0]["msg"])  # the message never shows the key


def test_an_api_key_with_white_space_inside_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = read(monkeypatch, QA_API_KEY="two words")
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "two words"


@pytest.mark.parametrize("value", ["inf", "1e10", "86401"])
def test_snapshot_seconds_past_a_day_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """inf and 1e10 passed, and the snapshot thread died of an OverflowError at its first wait
    (threading.TIMEOUT_MAX is about 9.2e9 seconds)."""
    with pytest.raises(ValidationError, match="less than or equal to 86400") as raised:
        read(monkeypatch, QA_SNAPSHOT_SECONDS=value)
    assert raised.value.errors()[0]["loc"] == ("snapshot_seconds",)
    assert read(monkeypatch, QA_SNAPSHOT_SECONDS="86400").snapshot_seconds == 86400


def test_an_overlap_as_large_as_the_passage_names_the_overlap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The error was on the whole model (`bad setting settings: ...`), naming no variable."""
    with pytest.raises(ValidationError, match=r"passage overlap \(3\) must be smaller") as raised:
        read(monkeypatch, QA_PASSAGE_SENTENCES="3", QA_PASSAGE_OVERLAP="3")
    assert raised.value.errors()[0]["loc"] == ("passage_overlap",)
    # a passage size that is itself refused is the only error, not also the overlap's
    with pytest.raises(ValidationError) as raised:
        read(monkeypatch, QA_PASSAGE_SENTENCES="-1", QA_PASSAGE_OVERLAP="3")
    assert [e["loc"] for e in raised.value.errors()] == [("passage_sentences",)]


@pytest.mark.parametrize(
    "value", [DEFAULT_MODEL_SHA256.upper(), f" {DEFAULT_MODEL_SHA256}", f"{DEFAULT_MODEL_SHA256}\n"]
)
def test_a_model_sha256_is_taken_as_sha256sum_prints_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Was: upper case or a space made the right weights fail their check."""
    assert read(monkeypatch, QA_MODEL_SHA256=value).model_sha256 == DEFAULT_MODEL_SHA256


@pytest.mark.parametrize("value", ["abc", DEFAULT_MODEL_SHA256 + "0", "sha256:" + "0" * 64])
def test_a_model_sha256_that_is_no_sha256_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValidationError, match="must be 64 hex digits") as raised:
        read(monkeypatch, QA_MODEL_SHA256=value)
    assert raised.value.errors()[0]["loc"] == ("model_sha256",)

"""The live archive over HTTP: add, replace, delete, filters and file changes reach answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from tests.conftest import open_synced, running_server, write_corpus


def article(doc_id: str, word: str, **extra: object) -> dict[str, object]:
    return {
        "id": doc_id,
        "title": f"The {word} report",
        "text": (
            f"The {word} report\n"
            f"Engineers in Leeds unveiled the {word} engine on Monday. "
            f"The {word} runs on seawater and costs 400 pounds."
        ),
        **extra,
    }


def top_doc(http: httpx.Client, question: str, **body: object) -> str | None:
    r = http.post("/ask", json={"question": question, "top_k": 5, **body})
    assert r.status_code == 200, r.text
    answers = r.json()["answers"]
    for a in answers:  # every answer stays verbatim at its offsets
        doc = http.get(f"/documents/{a['doc_id']}").json()
        p = a["passage"]
        assert doc["text"][p["start_char"] : p["end_char"]] == p["text"]
    return answers[0]["doc_id"] if answers else None


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(
        corpus=corpus,
        index_dir=tmp_path / "index",
        min_confidence=0.0,
        watch=True,
    )
    engine = QAEngine.open(settings, HashingEmbedder())
    with (
        running_server(create_app(settings, engine)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield http, corpus


def test_post_put_delete_reach_answers(live: tuple[httpx.Client, Path]) -> None:
    http, _ = live
    r = http.post("/documents", json=article("news/1", "quillfeather"))
    assert r.status_code == 201 and r.json()["ids"] == ["news/1"]
    assert top_doc(http, "What does the quillfeather engine run on?") == "news/1"
    assert http.get("/documents/news/1").json()["title"] == "The quillfeather report"

    again = http.post("/documents", json=article("news/1", "quillfeather"))
    assert again.status_code == 409 and "already exists" in again.json()["detail"]

    batch = [article("b1", "marrowlark"), article("b2", "tinsnap", source="Daily Bugle")]
    r = http.post("/documents", json=batch)
    assert r.status_code == 201 and r.json()["added"] == ["b1", "b2"]

    body = {k: v for k, v in article("x", "glimmerwick").items() if k != "id"}
    r = http.put("/documents/news/1", json=body)
    assert r.status_code == 200 and r.json()["replaced"] == ["news/1"]
    assert top_doc(http, "What does the glimmerwick engine run on?") == "news/1"
    assert top_doc(http, "What does the quillfeather engine run on?") != "news/1"
    assert http.put("/documents/fresh", json=body).status_code == 201

    assert http.delete("/documents/news/1").status_code == 204
    assert http.get("/documents/news/1").status_code == 404
    assert http.delete("/documents/news/1").status_code == 404
    assert top_doc(http, "What does the glimmerwick engine run on?") == "fresh"


def test_health_shows_the_background_preparation_finish(
    live: tuple[httpx.Client, Path],
) -> None:
    """A server answers at once; the in-memory BM25 and the prepared articles follow."""
    http, _ = live
    deadline = time.monotonic() + 30
    while (health := http.get("/health").json())["warming"]:
        assert time.monotonic() < deadline, health
        time.sleep(0.05)
    assert health["lexical_index"] == "memory"
    assert health["prepared_articles"] == health["documents"] == 2


def test_bad_writes_name_the_field_and_change_nothing(live: tuple[httpx.Client, Path]) -> None:
    http, _ = live
    before = http.get("/health").json()["documents"]
    cases = [
        ({"id": "a", "text": ""}, "text"),
        ({"id": "a", "text": "ok", "published": "yesterday"}, "published"),
        ({"id": "", "text": "ok"}, "id"),
        ({"text": "no id"}, "id"),
        ({"id": "a", "text": "ok", "colour": "red"}, "colour"),
        ([article("ok1", "aardwolf"), {"id": "bad", "text": 5}], "text"),
    ]
    for payload, field in cases:
        r = http.post("/documents", json=payload)
        assert r.status_code == 422, (payload, r.text)
        assert field in r.text
    dup = http.post("/documents", json=[article("d", "one"), article("d", "two")])
    assert dup.status_code == 422 and "twice" in dup.text
    assert http.get("/health").json()["documents"] == before
    assert http.get("/documents/ok1").status_code == 404


def test_filters_apply_inside_retrieval(live: tuple[httpx.Client, Path]) -> None:
    http, _ = live
    docs = [
        article(f"{src}-{year}", "sprocketwing", source=src, published=f"{year}-03-01")
        for src in ("Alpha Post", "Beta Times")
        for year in (2023, 2024, 2025)
    ]
    assert http.post("/documents", json=docs).status_code == 201
    q = "What does the sprocketwing engine run on?"

    def ids(**filters: object) -> set[str]:
        r = http.post("/ask", json={"question": q, "top_k": 10, "filters": filters})
        assert r.status_code == 200, r.text
        return {a["doc_id"] for a in r.json()["answers"]}

    assert ids(source=["Beta Times"]) == {"Beta Times-2023", "Beta Times-2024", "Beta Times-2025"}
    assert ids(published_after="2024-01-01", published_before="2024-12-31") == {
        "Alpha Post-2024",
        "Beta Times-2024",
    }
    assert ids(doc_ids=["Alpha Post-2023"], source=["Alpha Post"]) == {"Alpha Post-2023"}
    assert ids(source=["Nobody"]) == set()
    cited = http.post("/ask", json={"question": q, "filters": {"source": ["Beta Times"]}}).json()
    assert {a["source"] for a in cited["answers"]} == {"Beta Times"}
    assert cited["answers"][0]["published"].startswith("20")
    bad = http.post("/ask", json={"question": q, "filters": {"published_after": "soon"}})
    assert bad.status_code == 422 and "published_after" in bad.text


def wait_for(check, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_file_changes_reach_a_running_server(live: tuple[httpx.Client, Path]) -> None:
    http, corpus = live
    q = "What does the brindlemoss engine run on?"
    assert top_doc(http, q) != "sub/brindle"
    (corpus / "sub").mkdir()
    (corpus / "sub" / "brindle.TXT").write_text(str(article("x", "brindlemoss")["text"]))
    assert wait_for(lambda: top_doc(http, q) == "sub/brindle")

    (corpus / "sub" / "brindle.TXT").write_text(str(article("x", "pebblequartz")["text"]))
    assert wait_for(lambda: "pebblequartz" in http.get("/documents/sub/brindle").json()["text"])
    assert "brindlemoss" not in http.get("/documents/sub/brindle").json()["text"]
    assert top_doc(http, "What does the pebblequartz engine run on?") == "sub/brindle"

    (corpus / "latin.txt").write_bytes("Caf\xe9 prices rose by ten percent.\n".encode("latin-1"))
    (corpus / "sub" / "brindle.TXT").unlink()
    assert wait_for(lambda: http.get("/documents/sub/brindle").status_code == 404)
    assert http.get("/documents/latin").status_code == 404  # skipped, not stored
    assert http.get("/documents/volcano").status_code == 200  # the rest untouched


def test_a_file_waiting_for_a_deleted_api_article_takes_its_id_at_once(
    live: tuple[httpx.Client, Path],
) -> None:
    """The file holding the id of an article written through the API is skipped; once that
    article is deleted, the file's takes the id within seconds (it waited for the next,
    unrelated, change to the folder)."""
    http, corpus = live
    body = {k: v for k, v in article("ferry", "brindlemoss").items() if k != "id"}
    assert http.put("/documents/ferry", json=body).status_code == 201
    (corpus / "ferry.txt").write_text(str(article("x", "pebblequartz")["text"]))
    time.sleep(2.5)  # the watcher's sync: skipped, with a warning
    assert "brindlemoss" in http.get("/documents/ferry").json()["text"]
    assert http.delete("/documents/ferry").status_code == 204
    assert wait_for(
        lambda: "pebblequartz" in http.get("/documents/ferry").json().get("text", ""), seconds=5
    )
    assert top_doc(http, "What does the pebblequartz engine run on?") == "ferry"


def test_a_file_waiting_for_an_article_deleted_by_another_process_takes_its_id(
    live: tuple[httpx.Client, Path],
) -> None:
    """As above, with the article deleted by another writer of the same index (`qa delete` in
    a shell): the server is not told, and finds out from the store's change log."""
    http, corpus = live
    body = {k: v for k, v in article("ferry", "brindlemoss").items() if k != "id"}
    assert http.put("/documents/ferry", json=body).status_code == 201
    (corpus / "ferry.txt").write_text(str(article("x", "pebblequartz")["text"]))
    time.sleep(2.5)  # the watcher's sync: the file waits, with a warning
    assert "brindlemoss" in http.get("/documents/ferry").json()["text"]
    settings = Settings(corpus=corpus, index_dir=corpus.parent / "index", watch=False)
    other = QAEngine.open(settings, HashingEmbedder())
    try:
        assert other.delete(["ferry"]).deleted == ["ferry"]
    finally:
        other.close()
    assert wait_for(
        lambda: "pebblequartz" in http.get("/documents/ferry").json().get("text", ""), seconds=6
    )


def test_restart_sees_every_write_without_reembedding(tmp_path: Path) -> None:
    settings = Settings(corpus=write_corpus(tmp_path / "c"), index_dir=tmp_path / "i", watch=False)
    engine = open_synced(settings, HashingEmbedder())
    from qa.records import Article

    engine.add([Article("api-1", "T", "An article written through the API. It has two sentences.")])
    engine.close()

    class NoModel(HashingEmbedder):
        calls = 0

        def embed(self, texts, *, progress=False):  # type: ignore[no-untyped-def]
            NoModel.calls += len(texts) - (len(texts) == 1)  # one query text is allowed
            return super().embed(texts, progress=progress)

    again = open_synced(settings, NoModel())
    assert NoModel.calls == 0  # nothing re-embedded: the folder is unchanged
    assert again.document("api-1").text.startswith("An article")
    assert again.live.problems() == []
    again.close()

"""The web page in a real headless Chromium, against a real uvicorn with the real model."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from qa.config import Settings
from qa.embed import HashingEmbedder
from qa.engine import QAEngine
from tests.conftest import CHROMIUM_FLAGS, ROOT, open_synced, running_server, write_corpus

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "build" / "screenshots"
QUESTION = "Where were the Hamas documents found?"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"),
        reason="no chromium here (CI installs it: apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def page_url(real_engine: QAEngine) -> Iterator[str]:
    with running_server(create_app(engine=real_engine)) as url:
        yield url


@pytest.fixture
def page(page_url: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
        )
        tab = browser.new_page(viewport={"width": 1000, "height": 900})
        yield tab
        browser.close()


def test_ask_shows_the_api_highlights_and_links_to_the_cited_span(page, page_url: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    api = httpx.post(f"{page_url}/ask", json={"question": QUESTION, "top_k": 5}, timeout=60).json()
    assert not api["abstained"]

    page.goto(page_url + "/")
    page.fill("#question", QUESTION)
    page.click("#ask-form button[type=submit]")
    page.wait_for_selector("#answers li", timeout=60_000)
    marks = page.locator("#answers mark").all_text_contents()
    assert marks == [a["highlight"]["text"] for a in api["answers"]]
    passages = page.locator("#answers .passage").all_text_contents()
    assert passages == [a["passage"]["text"] for a in api["answers"]]
    cites = page.locator("#answers .cite").all_text_contents()
    assert [
        c.endswith(f"confidence {a['confidence']:.2f}")
        for c, a in zip(cites, api["answers"], strict=True)
    ] == [True] * len(cites)
    page.screenshot(path=str(SCREENSHOTS / "answers.png"), full_page=True)

    page.locator("#answers .cite a").first.click()
    page.wait_for_selector("#cited", timeout=30_000)
    cited = page.locator("#cited")
    assert cited.text_content() == api["answers"][0]["highlight"]["text"]
    assert cited.is_visible()
    box = cited.bounding_box()
    assert box is not None and 0 <= box["y"] < 900  # scrolled into view
    document = httpx.get(f"{page_url}/documents/{api['answers'][0]['doc_id']}").json()
    assert page.locator("#doc-text").text_content() == document["text"]
    page.screenshot(path=str(SCREENSHOTS / "document.png"))


def test_off_topic_question_shows_abstention(page, page_url: str) -> None:  # type: ignore[no-untyped-def]
    question = "What is the capital of Australia?"
    api = httpx.post(f"{page_url}/ask", json={"question": question}, timeout=60).json()
    assert api["abstained"]
    page.goto(page_url + "/?q=" + question.replace(" ", "+"))
    page.wait_for_selector("#status.abstained", timeout=60_000)
    assert page.locator("#status").text_content() == (
        f"No answer in these articles. (confidence {api['confidence']:.2f} "
        "that the best passage found does not answer)"
    )
    assert page.locator("#answers li").count() == 0


@contextlib.contextmanager
def _synced_engine(tmp_path: Path, files: dict[str, str]) -> Iterator[QAEngine]:
    """An engine (hashing embedder, no abstention) on ``files``, synced."""
    settings = Settings(
        corpus=write_corpus(tmp_path / "corpus", files),
        index_dir=tmp_path / "index",
        min_confidence=0.0,
        watch=False,
    )
    engine = open_synced(settings, HashingEmbedder())
    try:
        yield engine
    finally:
        engine.close()


ASTRAL = {
    "festival.txt": (
        "Wigan festival 🎉 draws record crowds\n\n"
        "Families 👪 came from across the region 🌍 for the weekend. "
        "Organisers counted 10,000 visitors 🙌. "
        "The 𝒻𝑒𝓈𝓉𝒾𝓋𝒶𝓁 returns next summer.\n"
    )
}


def test_offsets_count_characters_beyond_u_ffff_as_one(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The API counts characters as Python does; the page sliced JavaScript strings, where an
    emoji is two units, so each emoji before a highlight moved the mark one unit left."""
    question = "How many visitors did the organisers count?"
    with (
        _synced_engine(tmp_path, ASTRAL) as engine,
        running_server(create_app(engine=engine)) as url,
    ):
        api = httpx.post(f"{url}/ask", json={"question": question}, timeout=60).json()
        highlight = api["answers"][0]["highlight"]["text"]
        assert highlight == "Organisers counted 10,000 visitors 🙌."
        page.goto(url + "/")
        page.fill("#question", question)
        page.click("#ask-form button[type=submit]")
        page.wait_for_selector("#answers li", timeout=60_000)
        assert page.locator("#answers mark").first.text_content() == highlight
        passages = page.locator("#answers .passage").all_text_contents()
        assert passages == [a["passage"]["text"] for a in api["answers"]]
        page.locator("#answers .cite a").first.click()
        page.wait_for_selector("#cited", timeout=30_000)
        assert page.locator("#cited").text_content() == highlight


HARBOUR = {
    "harbour.txt": (
        "Harbour bridge painted purple\n\n"
        "The council painted the harbour bridge purple in May. "
        "Residents voted for the colour in a poll.\n"
    ),
    "studio.txt": (
        "Brindlewick studio opens\n\n"
        "The Brindlewick studio was founded by Ada Brindle in 1921. "
        "It makes stained glass.\n"
    ),
    "link.txt": (
        "A very long link\n\n"
        "The report is at https://example.org/" + "x" * 1500 + " and nowhere else.\n"
    ),
}


@pytest.fixture
def harbour_engine(tmp_path: Path) -> Iterator[QAEngine]:
    with _synced_engine(tmp_path, HARBOUR) as engine:
        yield engine


def test_a_key_beyond_latin_1_is_sent_as_utf_8_and_forgotten_when_emptied(  # type: ignore[no-untyped-def]
    page, harbour_engine: QAEngine
) -> None:
    """fetch() refuses a header character above U+00FF: the page saved such a key first, then
    failed every request, even after the box was emptied, until localStorage was cleared; a
    Latin-1 key ("café") went as the byte E9, not as UTF-8, and was refused (401)."""
    from pydantic import SecretStr

    key = "sécret-ключ"
    settings = harbour_engine.settings.model_copy(update={"api_key": SecretStr(key)})
    with running_server(create_app(settings, harbour_engine)) as url:
        page.goto(url + "/?doc=studio")  # a shared citation link: the key box is there too
        page.wait_for_selector("#doc-title:has-text('401')", timeout=30_000)
        assert page.locator("#key-box").get_attribute("open") is not None  # opened to ask
        page.fill("#api-key", key)
        page.press("#api-key", "Enter")
        page.wait_for_selector("#doc-text:has-text('Ada Brindle')", timeout=30_000)
        assert page.evaluate("localStorage.getItem('qa-api-key')") == key
        page.goto(url + "/?q=Who+founded+the+studio%3F")  # remembered in this browser
        page.wait_for_selector("#answers li", timeout=30_000)
        assert page.locator("#key-box").get_attribute("open") is None  # closed once it works
        page.click("#key-box summary")
        assert page.locator("#api-key").input_value() == key
        page.fill("#api-key", "")
        page.click("#ask-form button[type=submit]")
        page.wait_for_selector("#status:has-text('401')", timeout=30_000)
        assert page.evaluate("localStorage.getItem('qa-api-key')") is None
        assert page.locator("#status").get_attribute("class") == "error"
        # kept again, then forgotten by emptying the box and pressing Use, with nothing asked
        page.fill("#api-key", key)
        page.click("#ask-form button[type=submit]")
        page.wait_for_selector("#answers li", timeout=30_000)
        page.goto(url + "/")
        page.click("#key-box summary")
        assert page.locator("#api-key").input_value() == key
        page.fill("#api-key", "")
        page.click("#key-form button[type=submit]")
        assert page.evaluate("localStorage.getItem('qa-api-key')") is None


def test_only_the_latest_questions_answers_are_shown(  # type: ignore[no-untyped-def]
    page, harbour_engine: QAEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow reply to an earlier question replaced the answers to the later one, and the
    address took the earlier question."""
    import time

    ask = harbour_engine.ask

    def slow_for_the_bridge(question: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "bridge" in question:
            time.sleep(1.5)
        return ask(question, *args, **kwargs)

    monkeypatch.setattr(harbour_engine, "ask", slow_for_the_bridge)
    with running_server(create_app(engine=harbour_engine)) as url:
        page.goto(url + "/")
        page.fill("#question", "Who painted the harbour bridge purple?")
        page.click("#ask-form button[type=submit]")
        page.wait_for_timeout(100)
        page.fill("#question", "Who founded the Brindlewick studio?")
        page.click("#ask-form button[type=submit]")
        page.wait_for_selector("#answers li", timeout=30_000)
        page.wait_for_timeout(2500)  # the bridge's reply has arrived meanwhile
        first = page.locator("#answers .passage").first.text_content() or ""
        assert "Brindlewick" in first
        assert "Brindlewick" in page.evaluate("decodeURIComponent(location.search)")


def test_the_way_back_keeps_the_question_and_mode(page, harbour_engine: QAEngine) -> None:  # type: ignore[no-untyped-def]
    """ "← back to the question" went to a blank page; a shared ?q= link lost its mode."""
    with running_server(create_app(engine=harbour_engine)) as url:
        page.goto(url + "/?q=Who+founded+the+studio%3F&mode=bm25")
        page.wait_for_selector("#answers li", timeout=30_000)
        assert page.locator("#mode").input_value() == "bm25"
        page.locator("#answers .cite a").first.click()
        page.wait_for_selector("#cited", timeout=30_000)
        page.click("#back")
        page.wait_for_selector("#answers li", timeout=30_000)
        assert page.locator("#question").input_value() == "Who founded the studio?"
        assert page.locator("#mode").input_value() == "bm25"
        page.goto(url + "/?doc=studio")  # no characters cited: none marked, none claimed
        page.wait_for_selector("#doc-title:has-text('Brindlewick')", timeout=30_000)
        assert page.locator("#cited").count() == 0
        assert "characters" not in (page.locator("#doc-meta").text_content() or "")


def test_errors_are_not_shown_as_abstentions_and_long_links_wrap(  # type: ignore[no-untyped-def]
    page, harbour_engine: QAEngine
) -> None:
    """An error after an abstention kept the abstention's style; a 1,500-character link made
    the page 15,000 px wide."""
    with running_server(create_app(engine=harbour_engine)) as url:
        page.goto(url + "/?q=Where+is+the+report%3F")
        page.wait_for_selector("#answers li", timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        page.locator("#answers .cite a").first.click()
        page.wait_for_selector("#cited", timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        page.goto(url + "/")
        page.fill("#question", "What is the capital of Australia?")
        page.select_option("#mode", "bm25")  # no passage holds these words
        page.click("#ask-form button[type=submit]")
        page.wait_for_selector("#status.abstained", timeout=30_000)
        assert page.locator("#status").text_content() == (
            "No answer in these articles: no passage matches the question and filters."
        )
        # the next reply an error (a 503, as a busy index answers): it must look like one
        page.route(
            "**/ask",
            lambda route: route.fulfill(
                status=503, content_type="application/json", body='{"detail": "busy"}'
            ),
        )
        page.fill("#question", "Who founded the studio?")
        page.click("#ask-form button[type=submit]")
        page.wait_for_selector("#status.error", timeout=30_000)
        assert page.locator("#status").text_content() == "Error 503: busy"


def test_a_late_401_for_a_key_since_changed_keeps_the_new_key(  # type: ignore[no-untyped-def]
    page, harbour_engine: QAEngine
) -> None:
    """A reply is about the key it was sent with: a 401 for an old key, arriving after the new
    key worked, forgot the new one (found by a review)."""
    from pydantic import SecretStr

    settings = harbour_engine.settings.model_copy(update={"api_key": SecretStr("right")})
    held = []

    def hold_the_first(route):  # type: ignore[no-untyped-def]
        if held:
            route.continue_()
        else:
            held.append(route)

    with running_server(create_app(settings, harbour_engine)) as url:
        page.goto(url + "/")
        page.route("**/ask", hold_the_first)
        page.click("#key-box summary")
        page.fill("#api-key", "wrong")
        page.fill("#question", "Who founded the studio?")
        page.click("#ask-form button[type=submit]")  # held: no reply yet
        page.wait_for_timeout(300)
        page.fill("#api-key", "right")
        page.click("#ask-form button[type=submit]")
        page.wait_for_selector("#answers li", timeout=30_000)
        assert page.evaluate("localStorage.getItem('qa-api-key')") == "right"
        held[0].fulfill(status=401, content_type="application/json", body='{"detail": "wrong key"}')
        page.wait_for_timeout(500)
        assert page.evaluate("localStorage.getItem('qa-api-key')") == "right"
        assert page.locator("#answers li").count() > 0  # and the answers stay

"""The web page in a real headless Chromium, against a real uvicorn with the real model."""

from __future__ import annotations

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
    page.click("button[type=submit]")
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
    settings = Settings(
        corpus=write_corpus(tmp_path / "corpus", ASTRAL),
        index_dir=tmp_path / "index",
        min_confidence=0.0,
        watch=False,
    )
    engine = open_synced(settings, HashingEmbedder())
    question = "How many visitors did the organisers count?"
    try:
        with running_server(create_app(engine=engine)) as url:
            api = httpx.post(f"{url}/ask", json={"question": question}, timeout=60).json()
            highlight = api["answers"][0]["highlight"]["text"]
            assert highlight == "Organisers counted 10,000 visitors 🙌."
            page.goto(url + "/")
            page.fill("#question", question)
            page.click("button[type=submit]")
            page.wait_for_selector("#answers li", timeout=60_000)
            assert page.locator("#answers mark").first.text_content() == highlight
            passages = page.locator("#answers .passage").all_text_contents()
            assert passages == [a["passage"]["text"] for a in api["answers"]]
            page.locator("#answers .cite a").first.click()
            page.wait_for_selector("#cited", timeout=30_000)
            assert page.locator("#cited").text_content() == highlight
    finally:
        engine.close()

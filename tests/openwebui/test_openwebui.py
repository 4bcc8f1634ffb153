"""A real Open WebUI against a real `qa serve`, driven in headless Chromium.

Open WebUI (pinned in scripts/openwebui.sh) lives in its own virtualenv outside the repository
(``OPENWEBUI_VENV``, default ``~/.cache/extractive-qa/openwebui-venv``); without it this test is
skipped, except in CI, which installs it first. Everything runs on 127.0.0.1 and offline: every
proxy variable points at a closed port, so any request Open WebUI or the browser makes to the
outside world fails and shows in the logs this test reads.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHROMIUM_FLAGS, ROOT, SEEDS, free_port

VENV = Path(
    os.environ.get("OPENWEBUI_VENV", Path.home() / ".cache/extractive-qa/openwebui-venv")
).expanduser()
OPEN_WEBUI = VENV / "bin" / "open-webui"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "build" / "screenshots"
# Longer than a chat title (60 characters), so the title shows whether Open WebUI used the
# service's reply to its title task (shortened) or fell back to the question (whole).
QUESTION = "Where were the secret Hamas documents found, and who found them in the end?"
NOWHERE = "http://127.0.0.1:9"  # a closed port: every outbound request fails at once

pytestmark = [
    pytest.mark.openwebui,
    pytest.mark.slow,
    pytest.mark.skipif(
        not OPEN_WEBUI.exists() and not os.environ.get("CI"),
        reason=f"Open WebUI is not installed in {VENV}: run scripts/openwebui.sh (about 3 GB)",
    ),
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"),
        reason="no chromium here (CI installs it: apt-get install chromium)",
    ),
]


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start(cmd: list[str], env: dict[str, str], cwd: Path, log: Path, url: str) -> Process:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Process(proc, url, log)


def wait_healthy(process: Process, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert process.proc.poll() is None, process.text()[-3000:]
        try:
            if httpx.get(f"{process.url}/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{process.url} not healthy after {timeout} s:\n{process.text()[-3000:]}")


def stop(process: Process) -> None:
    process.proc.terminate()
    try:
        process.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.proc.kill()
        process.proc.wait()


@pytest.fixture(scope="module")
def qa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    tmp = tmp_path_factory.mktemp("qa")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_WATCH": "false"}
    cmd = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--corpus", str(SEEDS), "--index-dir", str(tmp / "index")]
    process = start(cmd, env, ROOT, tmp / "qa.log", f"http://127.0.0.1:{port}")
    try:
        wait_healthy(process, 180)
        yield process
    finally:
        stop(process)


def open_webui_env(data_dir: Path, api_base: str) -> dict[str, str]:
    """Open WebUI offline (open_webui/env.py, config.py): no version check, no telemetry, no
    Ollama, no web search or image generation, its RAG embedder an OpenAI-style API at a closed
    port instead of a model from the hub, and every proxy variable at that closed port."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "WEBUI_AUTH": "False",
            "WEBUI_SECRET_KEY": "openwebui-test-secret",
            "OFFLINE_MODE": "true",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ENABLE_VERSION_UPDATE_CHECK": "false",
            "SCARF_NO_ANALYTICS": "true",
            "DO_NOT_TRACK": "true",
            "ANONYMIZED_TELEMETRY": "false",
            "ENABLE_OTEL": "false",
            "ENABLE_OLLAMA_API": "false",
            "ENABLE_OPENAI_API": "true",
            "OPENAI_API_BASE_URL": api_base,
            "OPENAI_API_KEY": "unused",
            "RAG_EMBEDDING_ENGINE": "openai",
            "RAG_OPENAI_API_BASE_URL": f"{NOWHERE}/v1",
            "RAG_OPENAI_API_KEY": "unused",
            "RAG_RERANKING_MODEL": "",
            "ENABLE_WEB_SEARCH": "false",
            "ENABLE_IMAGE_GENERATION": "false",
            "ENABLE_CODE_INTERPRETER": "false",
            "ENABLE_CODE_EXECUTION": "false",
            "ENABLE_COMMUNITY_SHARING": "false",
            "ENABLE_AUTOCOMPLETE_GENERATION": "false",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = NOWHERE
    return env


@pytest.fixture(scope="module")
def open_webui(qa_server: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    assert OPEN_WEBUI.exists(), f"no Open WebUI in {VENV}: run scripts/openwebui.sh"
    tmp = tmp_path_factory.mktemp("openwebui")
    port = free_port()
    env = open_webui_env(tmp / "data", f"{qa_server.url}/v1")
    cmd = [str(OPEN_WEBUI), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = start(cmd, env, tmp, tmp / "openwebui.log", f"http://127.0.0.1:{port}")
    try:
        took = wait_healthy(process, 240)
        print(f"Open WebUI healthy after {took:.1f} s")
        yield process
    finally:
        stop(process)


def words(text: str) -> str:
    """Text as the panel shows it: Markdown joins lines and collapses spaces."""
    return " ".join(text.split())


def chat_posts(qa_server: Process) -> list[str]:
    """The service's access-log lines for chat completions (uvicorn's, one per request)."""
    return [line for line in qa_server.text().splitlines() if "/v1/chat/completions" in line]


def test_answers_show_source_chips_that_open_the_verbatim_passage(
    qa_server: Process, open_webui: Process
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    chats_before = len(chat_posts(qa_server))
    log_before = len(open_webui.text())
    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        outside: list[str] = []
        local = (open_webui.url, qa_server.url, "data:", "blob:")
        page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
        page.goto(open_webui.url + "/", wait_until="load")
        # A new data folder shows "What's new" first.
        with contextlib.suppress(PlaywrightTimeout):
            page.get_by_text("Okay, Let's Go!").click(timeout=15_000)
        page.locator("#chat-input").click()
        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")

        chips = page.locator('button[aria-label^="View source:"]')
        chips.first.wait_for(timeout=90_000)
        page.get_by_text(re.compile(r"^\d+ Sources?$")).first.wait_for(timeout=30_000)
        # Open WebUI's tasks after the answer: title (sent as it starts), follow-ups, tags.
        deadline = time.monotonic() + 60
        while len(chat_posts(qa_server)) < chats_before + 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        answered = time.monotonic() - started
        labels = chips.evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
        assert labels

        # The first chip opens the passage it names, verbatim from the article.
        doc_id, start, end = re.search(r"\((\S+), characters (\d+)-(\d+)\)$", labels[0]).groups()  # type: ignore[union-attr]
        article = httpx.get(f"{qa_server.url}/documents/{doc_id}", timeout=10).json()["text"]
        passage = article[int(start) : int(end)]
        page.get_by_text("You're now logged in.").wait_for(state="hidden", timeout=15_000)
        page.evaluate("document.querySelector('#messages-container')?.scrollTo(0, 0)")
        chips.first.click()
        panel = page.get_by_role("dialog")
        panel.wait_for(timeout=10_000)
        assert words(passage) in words(panel.inner_text())
        # Its title links to the service's document view of the cited span.
        link = panel.locator("a").first.get_attribute("href") or ""
        assert link == f"{qa_server.url}/?doc={doc_id}&start={start}&end={end}"
        page.wait_for_timeout(1000)  # the panel fades in
        page.screenshot(path=str(SCREENSHOTS / "openwebui-sources.png"))
        page.keyboard.press("Escape")

        chat_url = page.url
        token = page.evaluate("localStorage.token")

        # After a reload the chips come from what Open WebUI stored with the message.
        page.reload(wait_until="load")
        chips.first.wait_for(timeout=60_000)
        reloaded = chips.evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
        assert reloaded == labels
        chips.first.click()
        panel.wait_for(timeout=10_000)
        assert words(passage) in words(panel.inner_text())
        browser.close()
    took = time.monotonic() - started
    print(f"question to chips and tasks done: {answered:.1f} s; browser run {took:.1f} s")

    # The title is the service's reply to Open WebUI's title task: the question, shortened
    # (were the reply unusable, Open WebUI would fall back to the whole question).
    assert chat_url.startswith(f"{open_webui.url}/c/")
    chat = httpx.get(
        f"{open_webui.url}/api/v1/chats/{chat_url.rsplit('/', 1)[1]}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert chat["title"] == "Where were the secret Hamas documents found, and who found…"
    # What it stored with the answer: the service's source events, each passage verbatim.
    (answer,) = [
        m for m in chat["chat"]["history"]["messages"].values() if m["role"] == "assistant"
    ]
    assert len(answer["sources"]) == 3  # top_k's default on /v1
    for source in answer["sources"]:
        (meta,) = source["metadata"]
        text = httpx.get(f"{qa_server.url}/documents/{meta['doc_id']}", timeout=10).json()["text"]
        assert source["document"] == [text[meta["start_char"] : meta["end_char"]]]
    assert not outside, f"the browser reached outside 127.0.0.1: {outside}"

    # Every request Open WebUI sent during the chat succeeded, and it logged no failure.
    posts = chat_posts(qa_server)[chats_before:]
    assert len(posts) >= 4, posts  # title, the question, follow-ups, tags
    assert all('HTTP/1.1" 200' in line for line in posts), posts
    log = open_webui.text()[log_before:]
    failures = [
        line
        for line in log.splitlines()
        if re.search(r"\| (ERROR|CRITICAL) |request failed|Traceback|\" [45]\d\d\b", line)
    ]
    assert not failures, "\n".join(failures)

"""Fixtures of the viewer's tests: one real server per database for all of them, a real Chromium.

The server runs on both databases (a fresh PostgreSQL database of its own); tests add what
they need and never count on being alone in it (other tests' records are there too). The
browser is Debian's chromium, driven by Playwright for Python.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.conftest import new_postgres_database, skip_without_postgres
from tests.crash.support import Server
from tests.web.support import CHROMIUM, Site, seed, sign_in_as_admin

TIMEOUT_MS = 10_000
T = TypeVar("T")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("web")
    sqlite = contextlib.nullcontext(f"sqlite:///{directory / 'audittrail.db'}")
    postgres = _off_the_loop(new_postgres_database())
    with postgres if request.param == "postgresql" else sqlite as url:
        if url is None:
            skip_without_postgres()
        server = Server(url, directory, {"AUDITTRAIL_CHECKPOINT_INTERVAL": "0.2"})
        server.start()
        try:
            site = Site(server, request.param)
            seed(site)
            yield site
        finally:
            server.stop()


@contextlib.contextmanager
def _off_the_loop(manager: contextlib.AbstractContextManager[T]) -> Iterator[T]:
    """Enter and leave the context in a thread of its own: it runs asyncio.run, which cannot
    run inside Playwright's sync API (an event loop of its own in this thread)."""
    with ThreadPoolExecutor(1) as thread:
        value = thread.submit(manager.__enter__).result()
        try:
            yield value
        finally:
            thread.submit(manager.__exit__, None, None, None).result()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: while Playwright's sync API runs, its event loop is this thread's running
    loop, and no async test (nor asyncio.run) can run here, whichever module comes next."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A browser context on the site; a test fails if any page of the site broke the Content
    Security Policy (the browser only logs it: an inline style, say, would quietly not apply)."""
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        on_site = message.page is not None and message.page.url.startswith(site.url)
        if on_site and "Content Security Policy" in message.text:
            violations.append(f"{message.location.get('url')}: {message.text}")

    context.on("console", watch)
    yield context
    context.close()
    assert violations == [], "the pages broke their Content Security Policy"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def admin(context: BrowserContext, site: Site) -> Page:
    """A page signed in as the bootstrap admin."""
    sign_in_as_admin(context, site)
    return context.new_page()

"""Fixtures the real-browser tests share (tests/e2e/test_browser_app.py, tests/e2e/test_third_party_browser.py):
headless Debian chromium through Playwright, never Playwright's own browser download."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")  # not session: the sync API runs an event loop until it stops, and later
def chromium() -> Iterator[object]:  # tests' asyncio.run() would find it running
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make services` (.ci/browser) installs Debian's chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium) -> Iterator[object]:
    """A fresh browser profile (no cookies) per test."""
    context = chromium.new_context()
    yield context
    context.close()

"""Fixtures the end-to-end tests share: headless Debian chromium through Playwright, never Playwright's own
browser download (tests/e2e/test_browser_app.py, test_third_party_browser.py); Node with oauth4webapi
installed from tests/e2e/interop/package-lock.json (test_interop_revoke_introspect.py, test_third_party_clients.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

INTEROP_DIR = Path(__file__).resolve().parent / "interop"
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


# ---------------------------------------------------------------- Node and oauth4webapi


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is required for the oauth4webapi interop test and was not found on PATH "
            "(install Node.js 20+ with npm)",
            pytrace=False,
        )
    return path


def _locked_version() -> str:
    lock = json.loads((INTEROP_DIR / "package-lock.json").read_text())
    return lock["packages"]["node_modules/oauth4webapi"]["version"]


def _installed_version() -> str | None:
    manifest = INTEROP_DIR / "node_modules" / "oauth4webapi" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = _require_tool("node"), _require_tool("npm")
    raw = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    match = re.fullmatch(r"v(\d+)\..*", raw)
    if match is None or int(match.group(1)) < 20:
        pytest.fail(f"oauth4webapi 3 needs Node.js 20 or newer, found {raw!r}", pytrace=False)
    if _installed_version() != _locked_version():
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=INTEROP_DIR, capture_output=True, text=True, timeout=300
            )
        except subprocess.TimeoutExpired:
            pytest.fail("npm ci in tests/e2e/interop took over 300 s", pytrace=False)
        if done.returncode != 0:
            pytest.fail(
                f"npm ci in tests/e2e/interop failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False
            )
    assert _installed_version() == _locked_version()
    return node

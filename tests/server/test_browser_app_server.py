"""examples/browser_app's static server: its files, its configuration and its security headers.

The app itself runs in a real browser in tests/e2e/test_browser_app.py.
"""

from __future__ import annotations

import importlib

import pytest
from conftest import ROOT

ISSUER = "http://127.0.0.1:8000"
RESOURCE = "http://127.0.0.1:8001"


@pytest.fixture
def create_browser_app(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # as gunicorn does, run from the repository root
    return importlib.import_module("examples.browser_app.app").create_app


@pytest.fixture
def browser_app(create_browser_app):
    return create_browser_app({"BROWSER_APP_ISSUER": ISSUER + "/", "BROWSER_APP_RESOURCE": RESOURCE}).test_client()


def test_the_page_and_its_modules_are_served_under_a_strict_content_security_policy(browser_app):
    page = browser_app.get("/")
    assert page.status_code == 200 and b'<script type="module" src="main.js"></script>' in page.data
    policy = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["connect-src"] == f"'self' {ISSUER} {RESOURCE}"
    assert policy["form-action"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["require-trusted-types-for"] == "'script'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("main.js", "session.js"):
        module = browser_app.get(f"/{name}")
        assert module.status_code == 200 and "javascript" in module.content_type
        assert "Content-Security-Policy" in module.headers


def test_the_page_has_no_inline_script_or_style():
    html = (ROOT / "examples/browser_app/static/index.html").read_text()
    assert html.count("<script") == 1 and 'src="main.js"' in html
    assert " on" not in html.replace("\n", " ").lower().split("<body", 1)[1].split(">", 1)[0]
    assert "style=" not in html and "<style" not in html


def test_the_token_is_never_written_to_storage():
    code = [
        line
        for name in ("main.js", "session.js")
        for line in (ROOT / "examples/browser_app/static" / name).read_text().splitlines()
        if not line.lstrip().startswith(("//", "*", "/**"))  # the comments name the sinks they avoid
    ]
    for sink in ("localStorage", "sessionStorage", "indexedDB", "document.cookie", "innerHTML", "eval("):
        assert not [line for line in code if sink in line], sink


def test_config_names_the_two_origins(browser_app):
    assert browser_app.get("/config.json").get_json() == {"issuer": ISSUER, "resource": RESOURCE}


@pytest.mark.parametrize("path", ["/app.py", "/../app.py", "/static/index.html", "/__init__.py"])
def test_nothing_but_the_app_is_served(browser_app, path):
    assert browser_app.get(path).status_code == 404


@pytest.mark.parametrize(
    "env",
    [
        {"BROWSER_APP_RESOURCE": RESOURCE},
        {"BROWSER_APP_ISSUER": "127.0.0.1:8000", "BROWSER_APP_RESOURCE": RESOURCE},
        {"BROWSER_APP_ISSUER": ISSUER + "/login", "BROWSER_APP_RESOURCE": RESOURCE},
        {"BROWSER_APP_ISSUER": ISSUER},
    ],
)
def test_a_missing_or_malformed_origin_stops_the_start(create_browser_app, env):
    with pytest.raises(RuntimeError, match="BROWSER_APP_"):
        create_browser_app(env)

"""The server's login and consent pages driven with plain HTTP, as a browser without JavaScript would.

A small HTML form reader (the standard library's parser): each ``<form>`` with its action, its fields
(hidden ones included: the CSRF token), the input each ``<label>`` names, and its submit buttons.
:func:`authorize_over_http` follows the authorization request through the pages until the server
redirects to the client's ``redirect_uri``, and returns that URL (with ``code``, ``state``, ``iss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

TIMEOUT = 10


@dataclass
class Button:
    text: str
    name: str | None
    value: str | None


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    #: input id -> input name, to find a field by its label
    ids: dict[str, str] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)

    def field_labelled(self, labels: dict[str, str], text: str) -> str:
        """The name of the input whose ``<label>`` reads ``text``."""
        input_id = labels.get(text)
        if input_id is None or input_id not in self.ids:
            raise AssertionError(f"no input labelled {text!r} in the form (labels: {sorted(labels)})")
        return self.ids[input_id]

    def button(self, text: str) -> Button:
        for button in self.buttons:
            if button.text == text:
                return button
        raise AssertionError(f"no button {text!r} in the form (buttons: {[b.text for b in self.buttons]})")

    def submission(self, button: Button, **values: str) -> dict[str, str]:
        data = {**self.fields, **values}
        if button.name:
            data[button.name] = button.value or ""
        return data


class Page(HTMLParser):
    """The forms and labels of one HTML page."""

    def __init__(self, url: str, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms: list[Form] = []
        self.labels: dict[str, str] = {}  # label text -> the id it is for
        self._label_for: str | None = None
        self._label_text: list[str] = []
        self._button: Button | None = None
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        form = self.forms[-1] if self.forms else None
        if tag == "form":
            self.forms.append(Form(urljoin(self.url, a.get("action") or self.url), (a.get("method") or "get").lower()))
        elif tag == "label":
            self._label_for, self._label_text = a.get("for"), []
        elif tag == "input" and form is not None:
            kind = a.get("type", "text").lower()
            if kind == "submit":
                form.buttons.append(Button(a.get("value", ""), a.get("name"), a.get("value")))
            elif a.get("name"):
                form.fields.setdefault(a["name"], a.get("value", ""))
                if a.get("id"):
                    form.ids[a["id"]] = a["name"]
        elif tag == "button" and form is not None and a.get("type", "submit").lower() == "submit":
            self._button = Button("", a.get("name"), a.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label_for is not None:
            self.labels[" ".join("".join(self._label_text).split())] = self._label_for
            self._label_for = None
        elif tag == "button" and self._button is not None and self.forms:
            self._button.text = " ".join(self._button.text.split())
            self.forms[-1].buttons.append(self._button)
            self._button = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._label_for is not None:
            self._label_text.append(data)
        if self._button is not None:
            self._button.text += data

    def form_with_button(self, text: str) -> Form | None:
        return next((f for f in self.forms if any(b.text == text for b in f.buttons)), None)

    @property
    def visible_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def submit(http: requests.Session, form: Form, data: dict[str, str]) -> requests.Response:
    if form.method == "post":
        return http.post(form.action, data=data, allow_redirects=False, timeout=TIMEOUT)
    return http.get(form.action, params=data, allow_redirects=False, timeout=TIMEOUT)


@dataclass
class Walk:
    """What :func:`authorize_over_http` went through."""

    callback: str
    pages: list[str] = field(default_factory=list)  # "login", "consent", in the order shown


def authorize_over_http(
    http: requests.Session,
    authorization_url: str,
    redirect_uri: str,
    username: str,
    password: str,
    consent: str = "Allow",
    max_steps: int = 12,
) -> Walk:
    """Follow ``authorization_url`` through the login page (labels Username, Password; button Sign in) and
    the consent page (``consent``: "Allow" or "Deny") until a redirect to ``redirect_uri``."""
    walk = Walk("")
    response = http.get(authorization_url, allow_redirects=False, timeout=TIMEOUT)
    for _ in range(max_steps):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.split("?")[0] == redirect_uri:
                walk.callback = location
                return walk
            response = http.get(location, allow_redirects=False, timeout=TIMEOUT)
            continue
        if response.status_code != 200 or "html" not in response.headers.get("Content-Type", ""):
            raise AssertionError(f"{response.url} answered {response.status_code}: {response.text[:500]}")
        page = Page(response.url, response.text)
        if (form := page.form_with_button("Sign in")) is not None:
            if walk.pages[-1:] == ["login"]:  # the credentials were refused: the page again, with its message
                raise AssertionError(f"sign-in refused: {page.visible_text[:500]}")
            walk.pages.append("login")
            data = form.submission(
                form.button("Sign in"),
                **{
                    form.field_labelled(page.labels, "Username"): username,
                    form.field_labelled(page.labels, "Password"): password,
                },
            )
        elif (form := page.form_with_button(consent)) is not None:
            walk.pages.append("consent")
            data = form.submission(form.button(consent))
        else:
            raise AssertionError(f"{response.url}: neither a login nor a consent page: {page.visible_text[:500]}")
        response = submit(http, form, data)
    raise AssertionError(f"no redirect to {redirect_uri} after {max_steps} steps (pages: {walk.pages})")

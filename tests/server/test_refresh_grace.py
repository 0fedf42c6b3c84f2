"""The single-successor grace window (REFRESH_GRACE_SECONDS): a replay of the immediately preceding
refresh token by the same client, within the window, gets the SAME successor back; anything else is
reuse and revokes the family. The successor is never stored in the clear.
"""

from __future__ import annotations

import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import capture_events
from lifecycle_helpers import cli_json
from lifecycle_helpers import introspect
from lifecycle_helpers import refresh_rows
from lifecycle_helpers import row_of

from authserver.oauth import grace

GRACE = 30


@pytest.fixture
def config_overrides():
    return {"REFRESH_GRACE_SECONDS": GRACE}


@pytest.fixture
def events():
    with capture_events() as log:
        yield log


@pytest.fixture
def reg(make_user, make_client):
    make_user()
    return make_client(introspect=True)  # a refresh token is introspectable by its holder only


def login_and_rotate(oauth, reg):
    first = assert_tokens(oauth.password(reg))
    second = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    return first, second


def test_replay_within_window_returns_identical_successor_and_fresh_access_token(reg, oauth, clock, events):
    first, second = login_and_rotate(oauth, reg)
    clock.advance(GRACE)  # the window's last second still counts
    replay = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    assert replay["refresh_token"] == second["refresh_token"]
    assert replay["access_token"] not in (first["access_token"], second["access_token"])
    assert not events.named("refresh_token.reused")
    assert len(events.named("refresh_token.replayed")) == 1


def test_successor_keeps_working_after_grace_replays(reg, oauth, client):
    first, second = login_and_rotate(oauth, reg)
    for _ in range(2):  # a client retrying twice gets the same answer twice
        assert assert_tokens(oauth.refresh(reg, first["refresh_token"]))["refresh_token"] == second["refresh_token"]
    assert introspect(client, reg, second["refresh_token"])["active"] is True
    third = assert_tokens(oauth.refresh(reg, second["refresh_token"]))
    assert_tokens(oauth.refresh(reg, third["refresh_token"]))


def test_replay_after_window_is_invalid_grant_and_revokes_family(reg, oauth, clock, events):
    first, second = login_and_rotate(oauth, reg)
    clock.advance(GRACE + 1)
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")
    assert len(events.named("refresh_token.reused")) == 1
    assert_error(oauth.refresh(reg, second["refresh_token"]), 400, "invalid_grant")


def test_replay_within_window_after_the_successor_expired_revokes_family(make_user, make_client, oauth, clock, events):
    """Only a live successor is handed back: one that expired inside the parent's window is not."""
    make_user()
    short = make_client("short-lived", refresh_token_ttl=10)
    first, _ = login_and_rotate(oauth, short)
    clock.advance(11)  # the successor has expired; the parent's use is still within the window
    assert_error(oauth.refresh(short, first["refresh_token"]), 400, "invalid_grant")
    assert len(events.named("refresh_token.reused")) == 1
    assert not events.named("refresh_token.replayed")


def test_replay_of_grandparent_revokes_family(reg, oauth, events):
    first, second = login_and_rotate(oauth, reg)
    third = assert_tokens(oauth.refresh(reg, second["refresh_token"]))
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")
    assert len(events.named("refresh_token.reused")) == 1
    assert_error(oauth.refresh(reg, third["refresh_token"]), 400, "invalid_grant")


def test_replay_by_another_client_is_invalid_grant_and_revokes_family(reg, oauth, make_client, events):
    other = make_client("other")
    first, second = login_and_rotate(oauth, reg)
    resp = oauth.refresh(other, first["refresh_token"])
    assert_error(resp, 400, "invalid_grant")
    assert second["refresh_token"] not in resp.get_data(as_text=True)
    assert len(events.named("refresh_token.reused")) == 1
    assert_error(oauth.refresh(reg, second["refresh_token"]), 400, "invalid_grant")


def test_replay_within_window_after_revocation_is_invalid_grant(reg, oauth, client):
    first, second = login_and_rotate(oauth, reg)
    assert client.post("/oauth/revoke", data={"token": second["refresh_token"]}, headers=reg.basic).status_code == 200
    resp = oauth.refresh(reg, first["refresh_token"])
    assert_error(resp, 400, "invalid_grant")
    assert second["refresh_token"] not in resp.get_data(as_text=True)


@pytest.mark.parametrize("config_overrides", [{}, {"REFRESH_GRACE_SECONDS": 0}], ids=["default", "zero"])
def test_without_grace_an_immediate_replay_revokes_family(reg, oauth, client, events):
    first, second = login_and_rotate(oauth, reg)
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")
    assert len(events.named("refresh_token.reused")) == 1
    assert introspect(client, reg, second["refresh_token"]) == INACTIVE
    assert_error(oauth.refresh(reg, second["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("config_overrides", [{"REFRESH_GRACE_SECONDS": 0}], ids=["zero"])
def test_without_grace_nothing_is_sealed(reg, oauth, app):
    login_and_rotate(oauth, reg)
    assert [r["successor_sealed"] for r in refresh_rows(app)] == [None, None]


# ---------------------------------------------------------------- storage of the successor


def assert_not_in_database(app, *tokens: str) -> None:
    rows = refresh_rows(app)
    assert rows
    for row in rows:
        for column, value in row.items():
            if value is None:
                continue
            raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
            for token in tokens:
                assert token.encode() not in raw, f"plain token in refresh_tokens.{column}"


def test_database_never_holds_the_successor_in_the_clear(reg, oauth, app):
    first, second = login_and_rotate(oauth, reg)
    parent = row_of(app, first["refresh_token"])
    assert parent is not None and parent["successor_sealed"] is not None  # a sealed copy exists...
    assert_not_in_database(app, first["refresh_token"], second["refresh_token"])  # ...but no plain one
    # After a grace replay, still nothing in the clear.
    assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    assert_not_in_database(app, first["refresh_token"], second["refresh_token"])


def test_database_and_pepper_without_the_parent_token_cannot_open_the_sealed_successor(reg, oauth, app):
    """A dump of refresh_tokens plus the pepper is not enough: the sealing key comes from the parent token,
    which the database never holds (only its digest). Tried with the real unseal and everything stored."""
    first, second = login_and_rotate(oauth, reg)
    rows = refresh_rows(app)
    sealed = row_of(app, first["refresh_token"])["successor_sealed"]
    stored = {
        bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v)
        for row in rows
        for v in row.values()
        if v is not None
    }
    with app.app_context():  # the app's config carries the pepper
        stored.add(app.config["SECRET_PEPPER"])
        assert {value for value in stored if grace.unseal(sealed, value) is not None} == set()
        assert grace.unseal(sealed, first["refresh_token"]) == second["refresh_token"]  # the parent token does open it


def test_sealed_successor_is_erased_once_the_successor_is_rotated(reg, oauth, app):
    first, second = login_and_rotate(oauth, reg)
    third = assert_tokens(oauth.refresh(reg, second["refresh_token"]))
    assert row_of(app, first["refresh_token"])["successor_sealed"] is None
    assert row_of(app, second["refresh_token"])["successor_sealed"] is not None
    assert_not_in_database(app, second["refresh_token"], third["refresh_token"])


def test_purge_erases_sealed_successors_once_the_window_has_passed(reg, oauth, app, clock):
    first, second = login_and_rotate(oauth, reg)
    clock.advance(GRACE - 1)
    cli_json(app, "tokens", "purge")  # within the window: kept, the grace replay still works
    assert row_of(app, first["refresh_token"])["successor_sealed"] is not None
    assert assert_tokens(oauth.refresh(reg, first["refresh_token"]))["refresh_token"] == second["refresh_token"]

    clock.advance(2)
    result = cli_json(app, "tokens", "purge")
    assert result["sealed_erased"] == 1
    assert all(r["successor_sealed"] is None for r in refresh_rows(app))
    assert row_of(app, second["refresh_token"])["used_at"] is None  # the live successor itself is untouched
    assert_tokens(oauth.refresh(reg, second["refresh_token"]))


def test_a_sealed_successor_is_erased_by_the_next_refresh_after_its_window(reg, oauth, app, clock, make_user):
    """Lazily, without waiting for purge: any refresh on the server once the window has passed erases it."""
    make_user("bob")
    first, second = login_and_rotate(oauth, reg)
    bob = assert_tokens(oauth.password(reg, username="bob"))
    clock.advance(GRACE)  # the window's last second: another family's refresh leaves it alone
    bob = assert_tokens(oauth.refresh(reg, bob["refresh_token"]))
    assert row_of(app, first["refresh_token"])["successor_sealed"] is not None
    assert assert_tokens(oauth.refresh(reg, first["refresh_token"]))["refresh_token"] == second["refresh_token"]

    clock.advance(1)
    assert_tokens(oauth.refresh(reg, bob["refresh_token"]))
    assert row_of(app, first["refresh_token"])["successor_sealed"] is None
    assert row_of(app, second["refresh_token"])["used_at"] is None  # the live successor itself is untouched
    assert_tokens(oauth.refresh(reg, second["refresh_token"]))


def test_purge_at_the_windows_last_second_keeps_the_grace_replay_working(reg, oauth, app, clock):
    """The grant accepts a replay up to and including used_at + GRACE; purge must not erase earlier."""
    first, second = login_and_rotate(oauth, reg)
    clock.advance(GRACE)
    cli_json(app, "tokens", "purge")
    replay = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    assert replay["refresh_token"] == second["refresh_token"]


def test_reuse_erases_sealed_successors_of_the_family(reg, oauth, app, make_client):
    other = make_client("other")
    first, _ = login_and_rotate(oauth, reg)
    assert_error(oauth.refresh(other, first["refresh_token"]), 400, "invalid_grant")
    rows = refresh_rows(app)
    assert all(r["successor_sealed"] is None and r["revoked_at"] is not None for r in rows)

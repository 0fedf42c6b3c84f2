"""Housekeeping, ``authserver tokens purge`` and :func:`authserver.oauth.families.purge`: expired
refresh-token rows and revoked-jti rows past their ``exp`` go, in batches; live families keep
working, and a used token is kept until its own expiry so its replay is still detected as reuse.
"""

from __future__ import annotations

import jwt
import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import capture_events
from lifecycle_helpers import cli_json
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs
from lifecycle_helpers import refresh_rows
from lifecycle_helpers import revoke
from lifecycle_helpers import row_of
from lifecycle_helpers import run_cli
from sqlalchemy import event
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import RevokedAccessToken
from authserver.oauth import families

TTL = 60
ACCESS_MAX = 600  # purge keeps a refresh row this long past its expiry (the longest access-token lifetime)


@pytest.fixture
def config_overrides():
    return {"ACCESS_TOKEN_MAX_TTL": ACCESS_MAX}


@pytest.fixture
def setup(make_user, make_client):
    make_user()
    return make_client("short", refresh_token_ttl=TTL), make_client("long", introspect=True), make_rs(make_client)


def jtis(app) -> set[str]:
    with app.app_context():
        return set(db.session.execute(select(RevokedAccessToken.jti)).scalars())


def jti_of(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def test_cli_purge_deletes_expired_rows_and_live_family_keeps_working(setup, oauth, app, clock, client):
    short, long, rs = setup
    expired = [assert_tokens(oauth.password(short)) for _ in range(3)]
    live = assert_tokens(oauth.password(long))
    clock.advance(TTL + ACCESS_MAX + 1)
    assert len(refresh_rows(app)) == 4

    result = cli_json(app, "tokens", "purge")

    assert result["refresh_tokens"] == 3
    assert all(row_of(app, body["refresh_token"]) is None for body in expired)
    assert len(refresh_rows(app)) == 1
    for body in expired:
        assert_error(oauth.refresh(short, body["refresh_token"]), 400, "invalid_grant")
    assert introspect(client, long, live["refresh_token"])["active"] is True
    after = assert_tokens(oauth.refresh(long, live["refresh_token"]))
    assert introspect(client, rs, after["access_token"])["active"] is True


def test_purge_keeps_unexpired_rows(setup, oauth, app, clock):
    short, _, _ = setup
    body = assert_tokens(oauth.password(short))
    clock.advance(TTL - 1)
    assert cli_json(app, "tokens", "purge")["refresh_tokens"] == 0
    assert row_of(app, body["refresh_token"]) is not None
    assert_tokens(oauth.refresh(short, body["refresh_token"]))


def test_used_unexpired_token_is_kept_and_its_replay_is_still_reuse(setup, oauth, app, clock):
    _, long, _ = setup
    first = assert_tokens(oauth.password(long))
    second = assert_tokens(oauth.refresh(long, first["refresh_token"]))
    clock.advance(3600)
    cli_json(app, "tokens", "purge")
    kept = row_of(app, first["refresh_token"])
    assert kept is not None and kept["used_at"] is not None

    with capture_events() as events:
        assert_error(oauth.refresh(long, first["refresh_token"]), 400, "invalid_grant")
    assert len(events.named("refresh_token.reused")) == 1
    assert_error(oauth.refresh(long, second["refresh_token"]), 400, "invalid_grant")


def test_purging_an_expired_parent_keeps_the_chain_working(setup, oauth, app, clock, client):
    """Rotation every 50 s with a 60 s ttl: the oldest rows expire while the family lives on."""
    short, _, rs = setup
    first = assert_tokens(oauth.password(short))
    chain = [first]
    for _ in range(14):  # t = 700: only the first row expired more than ACCESS_MAX ago (at 60)
        clock.advance(50)
        chain.append(assert_tokens(oauth.refresh(short, chain[-1]["refresh_token"])))
    second, third = chain[1], chain[-1]

    assert cli_json(app, "tokens", "purge")["refresh_tokens"] == 1
    assert row_of(app, first["refresh_token"]) is None
    assert row_of(app, second["refresh_token"])["parent_id"] is None  # its link to the purged parent went
    assert introspect(client, rs, third["access_token"])["active"] is True
    fourth = assert_tokens(oauth.refresh(short, third["refresh_token"]))
    # The kept, used middle token is still recognised: its replay revokes the family.
    assert_error(oauth.refresh(short, second["refresh_token"]), 400, "invalid_grant")
    assert_error(oauth.refresh(short, fourth["refresh_token"]), 400, "invalid_grant")


def test_purge_does_not_deactivate_unexpired_unrevoked_access_tokens(setup, oauth, app, clock, client):
    """RFC 7662 §2.2: a token issued by us, not revoked and within its validity window is active.
    Here the refresh token (60 s) expires long before its access token (600 s); purging the expired
    refresh row is housekeeping and must not change what introspection says about the access token.
    """
    short, _, rs = setup
    body = assert_tokens(oauth.password(short))
    clock.advance(TTL + 1)
    assert introspect(client, rs, body["access_token"])["active"] is True
    assert cli_json(app, "tokens", "purge")["refresh_tokens"] == 0, "kept while its access tokens may live"
    assert introspect(client, rs, body["access_token"])["active"] is True
    clock.advance(ACCESS_MAX)
    assert cli_json(app, "tokens", "purge")["refresh_tokens"] == 1


def test_revoked_jti_rows_past_their_exp_are_deleted(setup, oauth, app, clock, client):
    _, long, rs = setup
    old = assert_tokens(oauth.password(long))
    assert revoke(client, long, old["access_token"]).status_code == 200
    clock.advance(300)
    recent = assert_tokens(oauth.password(long))
    assert revoke(client, long, recent["access_token"]).status_code == 200
    assert jtis(app) == {jti_of(old["access_token"]), jti_of(recent["access_token"])}

    clock.advance(301)  # old is past its exp (600 s), recent is not
    result = cli_json(app, "tokens", "purge")

    assert result["access_token_jtis"] == 1
    assert jtis(app) == {jti_of(recent["access_token"])}
    assert introspect(client, rs, recent["access_token"]) == INACTIVE  # still revoked
    assert introspect(client, rs, old["access_token"]) == INACTIVE  # expired anyway


def test_purge_in_small_batches_deletes_everything_expired(setup, oauth, app, clock, client):
    short, long, _ = setup
    for _ in range(5):
        assert_tokens(oauth.password(short))
    for _ in range(3):
        body = assert_tokens(oauth.password(long))
        assert revoke(client, long, body["access_token"]).status_code == 200
    live = assert_tokens(oauth.password(long))
    clock.advance(601)

    deletes: list[tuple[str, int]] = []
    commits: list[int] = []  # number of DELETEs seen at each commit

    with app.app_context():
        engine = db.engine

        def on_execute(_conn, cursor, statement, _params, _context, _many):
            if statement.lstrip().upper().startswith("DELETE"):
                deletes.append((statement, cursor.rowcount))

        def on_commit(_conn):
            commits.append(len(deletes))

        event.listen(engine, "after_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)
        try:
            result = families.purge(clock.now(), 0, batch_size=2)
        finally:
            event.remove(engine, "after_cursor_execute", on_execute)
            event.remove(engine, "commit", on_commit)

    assert (result.refresh_tokens, result.access_token_jtis) == (5, 3)
    rt_deletes = [n for sql, n in deletes if "refresh_tokens" in sql]
    jti_deletes = [n for sql, n in deletes if "revoked_access_tokens" in sql]
    assert rt_deletes == [2, 2, 1], deletes  # never more than batch_size rows per statement
    assert jti_deletes == [2, 1], deletes
    # A commit after each batch: each DELETE is followed by a commit before the next DELETE.
    assert all(n in commits for n in range(1, len(deletes) + 1)), (commits, deletes)
    assert len(refresh_rows(app)) == 4  # the 3 + 1 long-lived families
    assert jtis(app) == set()
    assert_tokens(oauth.refresh(long, live["refresh_token"]))


def test_purge_with_nothing_to_do_reports_zero(setup, app):
    result = cli_json(app, "tokens", "purge")
    assert {k: result[k] for k in ("refresh_tokens", "access_token_jtis", "sealed_erased")} == dict.fromkeys(
        ("refresh_tokens", "access_token_jtis", "sealed_erased"), 0
    )


def test_purge_batch_size_below_minimum_is_refused(setup, app):
    result = run_cli(app, "tokens", "purge", "--batch-size", "1")
    assert result.exit_code != 0

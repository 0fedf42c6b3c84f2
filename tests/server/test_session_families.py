"""The refresh-token store's ``revoke_session_families``: signing out of one login session ends the families
issued under it, and only those.

The families are tied to login sessions through the database, as the code flow's ``start_family(session_id=...)``
does (documented stand-in: the password grant starts them).
"""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from authserver.extensions import db
from authserver.models import RefreshToken
from authserver.models import SealedSuccessor
from authserver.oauth import families
from authserver.store.transaction import run_with_retry

PASSWORD = "correct horse battery"


@pytest.fixture
def login(app, oauth, make_client, make_user):
    make_user("alice", PASSWORD)
    rp = make_client("rp", grace_seconds=30)

    def run(session_id: str | None) -> dict:
        body = oauth.password(rp, username="alice", password=PASSWORD).json
        family_id = jwt.decode(body["access_token"], options={"verify_signature": False})["sid"]
        with app.app_context():
            db.session.execute(
                update(RefreshToken).where(RefreshToken.family_id == family_id).values(session_id=session_id)
            )
            db.session.commit()
        return {**body, "family_id": family_id, "rp": rp}

    return run


def _rows(app, family_id: str) -> list[tuple]:
    """(revoked_at, the sealed successor kept for the row or None) of each row of the family."""
    with app.app_context():
        return list(
            db.session.execute(
                select(RefreshToken.revoked_at, func.coalesce(SealedSuccessor.sealed, RefreshToken.successor_sealed))
                .outerjoin(SealedSuccessor, SealedSuccessor.token_id == RefreshToken.id)
                .where(RefreshToken.family_id == family_id)
            )
        )


def test_revoke_session_families_ends_that_sessions_families_only(app, oauth, login, clock):
    mine, also_mine, other, password = login("s-1"), login("s-1"), login("s-2"), login(None)
    refreshed = oauth.refresh(mine["rp"], mine["refresh_token"])  # a rotation: the successor keeps s-1
    assert refreshed.status_code == 200
    with app.app_context():
        count = run_with_retry(lambda: families.revoke_session_families("s-1", clock.now()))
    assert count == 3  # mine's two tokens (its first is used, its successor sealed on it) and also_mine's one
    for family in (mine, also_mine):
        assert all(revoked == clock.now() and sealed is None for revoked, sealed in _rows(app, family["family_id"]))
    for family in (other, password):
        assert all(revoked is None for revoked, _ in _rows(app, family["family_id"]))
    assert oauth.refresh(mine["rp"], refreshed.json["refresh_token"]).status_code == 400
    assert oauth.refresh(other["rp"], other["refresh_token"]).status_code == 200


def test_revoke_session_families_again_revokes_nothing_new(app, login, clock):
    login("s-1")
    with app.app_context():
        assert run_with_retry(lambda: families.revoke_session_families("s-1", clock.now())) == 1
        assert run_with_retry(lambda: families.revoke_session_families("s-1", clock.now() + 5)) == 0
        assert run_with_retry(lambda: families.revoke_session_families("unknown", clock.now())) == 0

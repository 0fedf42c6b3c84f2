"""User administration: the domain functions behind ``authserver users ...``.

Every function takes a username in any spelling and finds the user by its normal form
(:mod:`authserver.usernames`): ``users disable ALICE`` disables ``alice``.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

from authserver import clock
from authserver.admin.errors import AdminError
from authserver.admin.errors import ConflictError
from authserver.admin.errors import NotFoundError
from authserver.admin.profiles import ProfileFields
from authserver.admin.profiles import checked_profile
from authserver.oauth import families
from authserver.passwords.hasher import current_passwords
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.families import FamilyInfo
from authserver.store.transaction import run_with_retry
from authserver.store.users import UserExistsError
from authserver.store.users import UserRecord
from authserver.throttle.policy import current_throttle
from authserver.usernames import MAX_LENGTH
from authserver.usernames import normal_form

MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but an unbounded input is a DoS lever
#: The user of the article our users start from (README "Browser apps"): its samples log in as ``user`` /
#: ``pass``. Only :func:`seed_article_user` (``authserver demo seed``, development only) may create it; the
#: password policy refuses ``pass`` on every other path.
ARTICLE_USERNAME = "user"
ARTICLE_PASSWORD = "pass"  # the article's published password: development only


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of the most common passwords (lower-cased)."""
    text = resources.files("authserver").joinpath("data/common-passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password_policy(password: str) -> None:
    """NIST SP 800-63B §5.1.1.2: a minimum length and a blocklist of common passwords, no composition rules."""
    minimum = current_settings().password_min_length
    if len(password) < minimum:
        raise AdminError(f"password must be at least {minimum} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AdminError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if password.lower() in common_passwords():
        raise AdminError("password is one of the most common passwords; choose another")


def create_user(
    username: str, password: str, *, name: str | None = None, email: str | None = None, email_verified: bool = False
) -> UserRecord:
    """Create a user; refused if another user has the same normal form (``Alice`` when ``alice`` exists).

    ``name`` and ``email`` are the OpenID Connect claims of the ``profile`` and ``email`` scopes."""
    username, normal = username.strip(), normal_form(username)
    if not normal or len(username) > MAX_LENGTH or len(normal) > MAX_LENGTH:
        raise AdminError(f"username must be 1 to {MAX_LENGTH} characters")
    check_password_policy(password)
    profile = checked_profile(name, email, email_verified)
    return _insert(username, normal, password, profile)


def _insert(username: str, normal: str, password: str, profile: ProfileFields | None = None) -> UserRecord:
    profile = profile or ProfileFields(None, None, False)
    users = current_stores().users
    taken = users.spelling(normal)
    if taken is not None:
        raise ConflictError(
            f"user {username!r} already exists"
            if taken == username
            else f"username {username!r} is taken: it is the same username as {taken!r}"
        )
    try:
        return users.create(
            username,
            normal,
            current_passwords().hash(password),
            name=profile.name,
            email=profile.email,
            email_verified=profile.email_verified,
        )
    except UserExistsError:  # created in parallel under another spelling
        raise ConflictError(f"user {username!r} already exists") from None


def seed_article_user() -> UserRecord:
    """Create the article's user ``user`` / ``pass``, or reset its password to ``pass``: the one exception to
    the password policy, for ``authserver demo seed`` in development; refused in any other environment."""
    env = current_settings().env
    if env != "development":
        raise AdminError(f"the article's user exists only in development, and AUTHSERVER_ENV is {env!r}")
    user = current_stores().users.find(normal_form(ARTICLE_USERNAME))
    if user is None:
        return _insert(ARTICLE_USERNAME, normal_form(ARTICLE_USERNAME), ARTICLE_PASSWORD)
    current_stores().users.set_password_hash(user.id, current_passwords().hash(ARTICLE_PASSWORD))
    return user


def get_user(username: str) -> UserRecord:
    user = current_stores().users.find(normal_form(username))
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    return user


def update_profile(
    username: str, *, name: str | None = None, email: str | None = None, email_verified: bool | None = None
) -> UserRecord:
    """Change a user's profile: ``None`` keeps a field, an empty ``name`` or ``email`` clears it.

    Changing the email clears ``email_verified`` unless it is given: a new address is not verified yet."""
    user = get_user(username)
    new_name = user.name if name is None else (name or None)
    new_email = user.email if email is None else (email or None)
    if email_verified is None:
        email_verified = user.email_verified and new_email == user.email
    profile = checked_profile(new_name, new_email, email_verified)
    current_stores().users.set_profile(user.id, profile.name, profile.email, profile.email_verified)
    return dataclasses.replace(user, name=profile.name, email=profile.email, email_verified=profile.email_verified)


def set_password(username: str, password: str) -> UserRecord:
    user = get_user(username)
    check_password_policy(password)
    current_stores().users.set_password_hash(user.id, current_passwords().hash(password))
    return user


def disable_user(username: str) -> UserRecord:
    """Disable a user and end all their families (refresh tokens and, via introspection, access tokens).

    Disabled first: from then on the user can neither log in nor refresh, and introspection answers
    inactive, so the revocation that follows (its own transaction) only makes that permanent."""
    user = get_user(username)
    current_stores().users.disable(user.id)
    _revoke(user.id)
    return dataclasses.replace(user, disabled=True)


def revoke_families(username: str) -> int:
    """Log a user out everywhere; returns the number of refresh tokens revoked."""
    return _revoke(get_user(username).id)


def _revoke(user_id: str) -> int:
    now = clock.now()
    return run_with_retry(lambda: families.revoke_user_families(user_id, now))


def unlock_user(username: str) -> None:
    """Clear a username's failed-login lock and history (works for unknown usernames too)."""
    current_throttle().unlock(username, clock.now())


def list_users() -> list[UserRecord]:
    return current_stores().users.all()


def page_users(after: str | None, limit: int) -> list[UserRecord]:
    """Up to ``limit`` users by normal username, those after the user ``after`` (any spelling)."""
    return current_stores().users.page(None if after is None else normal_form(after), limit)


def families_of(username: str) -> list[FamilyInfo]:
    """The user's refresh-token families (one per login), the latest first."""
    return current_stores().families.of_user(get_user(username).id, clock.now())


def user_by_id(user_id: str) -> UserRecord:
    """The user whose id (the tokens' ``sub``) this is: the admin API's handle, as a username can hold a ``/``."""
    profile = current_stores().users.profile(user_id) if len(user_id) <= 36 else None
    if profile is None:
        raise NotFoundError(f"no user with id {user_id[:40]!r}")
    return get_user(profile.username)

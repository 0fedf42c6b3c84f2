"""A user's OpenID Connect profile as the administration sets it: the name and the email, checked."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from authserver.admin.errors import AdminError

#: The columns' sizes (authserver.models.user); RFC 5321 §4.5.3.1 bounds an address's parts.
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 320
MAX_LOCAL_PART = 64
MAX_DOMAIN = 255
#: The shape of an address, not its deliverability: one ``@``, no spaces, a dotted domain of LDH labels.
_EMAIL = re.compile(r"^[^\s@]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,}$")


class ProfileFields(NamedTuple):
    name: str | None
    email: str | None
    email_verified: bool


def checked_profile(name: str | None, email: str | None, email_verified: bool) -> ProfileFields:
    """The fields as stored (trimmed, empty as ``None``), or :class:`AdminError` saying what is wrong."""
    name = (name or "").strip() or None
    email = (email or "").strip() or None
    if name is not None:
        if len(name) > MAX_NAME_LENGTH:
            raise AdminError(f"name must be at most {MAX_NAME_LENGTH} characters")
        if any(unicodedata.category(c).startswith("C") for c in name):
            raise AdminError("name must not contain control characters")
    if email is not None:
        local, _, domain = email.rpartition("@")
        if len(email) > MAX_EMAIL_LENGTH or len(local) > MAX_LOCAL_PART or len(domain) > MAX_DOMAIN:
            raise AdminError(f"email must be at most {MAX_EMAIL_LENGTH} characters ({MAX_LOCAL_PART} before the @)")
        if not _EMAIL.match(email) or any(unicodedata.category(c).startswith("C") for c in email):
            raise AdminError(f"{email!r} is not an email address (name@example.com)")
    if email_verified and email is None:
        raise AdminError("--email-verified needs an email")
    return ProfileFields(name, email, email_verified)

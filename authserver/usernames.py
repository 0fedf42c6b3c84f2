"""The one rule for usernames: a username is its normal form.

The normal form is Unicode NFKC case folding (``NFKC(casefold(NFKC(name)))``, what Unicode's
``NFKC_Casefold`` gives, less its removal of default-ignorable characters), without surrounding
whitespace: ``Alice``, ``ALICE`` and ``Alice`` in full-width letters (U+FF21 ...) are one username. The form a user was
created with is kept for display (``users.username``); creation, every lookup (the password grant,
the ``users`` CLI) and the throttle's lock key all go through :func:`normal_form`, and the normal
form is unique in ``users.normal_username``, so two accounts can never differ only in case or width.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 150  # of the normal form, and of the form a user is created with


def normal_form(username: str) -> str:
    """The username all comparisons use (may be longer or shorter than ``username``)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())
    return folded.strip()

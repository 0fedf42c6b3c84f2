"""User passwords: argon2id hashing, and a dummy verify so unknown users cost the same time.

Every hash and verify runs inside a host-wide slot (:mod:`authserver.passwords.slots`), so no more argon2
computations run at once than the machine has cores.
"""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2 import Type
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from flask import Flask
from flask import current_app

from authserver.passwords.memory import release_hash_memory_after_use
from authserver.passwords.slots import HashSlots
from authserver.passwords.slots import make_slots
from authserver.settings import Argon2Settings
from authserver.settings import current_settings
from authserver.telemetry import tracing
from authserver.telemetry.metrics import password_hash_duration


class Passwords:
    """argon2id with the configured parameters, bound to one app."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int, slots: HashSlots | None = None) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)
        self.slots = slots
        # A real hash of a random value with the same parameters: verifying against it costs exactly
        # what a real verify costs, so an unknown username is not faster than a wrong password.
        self._dummy_hash = self.hash("dummy-password-for-timing-equalisation")

    def _slot(self) -> contextlib.AbstractContextManager[None]:
        return self.slots.held() if self.slots is not None else contextlib.nullcontext()

    def hash(self, password: str) -> str:
        with tracing.span("argon2.hash"), password_hash_duration.time(), self._slot():
            return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; with ``password_hash=None`` burn one verify and say False."""
        with tracing.span("argon2.verify"), password_hash_duration.time(), self._slot():
            if password_hash is None:
                with contextlib.suppress(VerificationError, InvalidHashError):
                    self.hasher.verify(self._dummy_hash, password)
                return False
            try:
                return self.hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

    @classmethod
    def from_settings(cls, argon2: Argon2Settings) -> Passwords:
        return cls(
            argon2.time_cost, argon2.memory_kib, argon2.parallelism, make_slots(argon2.slots_dir, argon2.max_concurrent)
        )

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def init_app(app: Flask) -> None:
    release_hash_memory_after_use()
    app.extensions["authserver.passwords.hasher"] = Passwords.from_settings(current_settings(app).argon2)


def current_passwords() -> Passwords:
    return current_app.extensions["authserver.passwords.hasher"]

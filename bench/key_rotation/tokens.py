"""The tokens the load issues and the verifications scheduled for them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import jwt


@dataclass
class Token:
    seq: int
    token: str
    kid: str
    iat: int
    exp: int
    issued_at: float  # wall clock when the response arrived
    phase: str


@dataclass
class Check:
    job_id: str
    token: Token
    kind: str  # now | late | probe
    tolerance: int
    due: float  # wall clock it was meant to run


def claims(token: str) -> tuple[str, dict[str, Any]]:
    """The kid and the claims of ``token``, unverified."""
    header = jwt.get_unverified_header(token)
    payload = token.split(".")[1]
    return header["kid"], json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

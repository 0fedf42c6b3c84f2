"""Strict, bounded JSON for JWS headers and JWT claims (RFC 7515 §4, RFC 7519 §4, RFC 8259).

The standard ``json.loads`` recurses once per nesting level (1,000 nested arrays are a
``RecursionError``), guesses UTF-16/32 from bytes, keeps the last of duplicate member names and
accepts ``NaN``/``Infinity``. Here, every one of those is a :class:`ValueError` instead:

* UTF-8 only (RFC 7515 §2 and RFC 7519 §7.2 say the segments are UTF-8);
* nested at most :data:`MAX_DEPTH` arrays/objects deep, checked before the parser sees the text;
* no duplicate member names (RFC 7515 §4 and RFC 7519 §4 allow refusing them; two parsers that
  keep different duplicates would disagree about the same token);
* numbers are finite: no ``NaN``, ``Infinity``, nor ``1e999`` (which parses as infinity).

The size is bounded by the caller (a token is at most ``max_token_bytes``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Nesting levels of arrays and objects (the top-level object is 1). RFC 9068 claims need 2 or 3.
MAX_DEPTH = 16

# A string (an unterminated one runs to the end, so every attempt matches: linear time) or a bracket.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)|[\[\]{}]', re.DOTALL)


def _depth_within(text: str, limit: int) -> bool:
    if text.count("[") + text.count("{") <= limit:  # the usual case: no scan at all
        return True
    depth = 0
    for match in _STRUCTURE.finditer(text):
        char = match.group()
        if char in ("[", "{"):
            depth += 1
            if depth > limit:
                return False
        elif char in ("]", "}"):
            depth -= 1
    return True


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _constant(literal: str) -> Any:
    raise ValueError(f"{literal} is not JSON")


def loads(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of UTF-8 ``data``; :class:`ValueError` for anything else or deeper than ``max_depth``."""
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if not _depth_within(text, max_depth):
        raise ValueError(f"nested deeper than {max_depth}")
    return json.loads(text, object_pairs_hook=_object, parse_float=_finite, parse_constant=_constant)

"""Public JWKs (RFC 7517) turned into ready-to-use verification functions, parsed once per JWKS fetch.

Only asymmetric JWS algorithms exist here (RFC 7518 §3.3-3.5): ``none`` and the HMAC family are
not implemented at all, so no configuration can turn them on, and a key is bound to the algorithms
its type allows (and to its own ``alg`` when the JWK names one): an RSA public key can never be
used as an HMAC secret (RFC 8725 §3.1, §3.2).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES = {
    "ES256": ("P-256", ec.SECP256R1, 32),
    "ES384": ("P-384", ec.SECP384R1, 48),
    "ES512": ("P-521", ec.SECP521R1, 66),
}
RSA_ALGORITHMS = frozenset(f"{p}{n}" for p in ("RS", "PS") for n in _HASHES)
#: Every algorithm the verifier implements. Anything else is refused when a Verifier is built.
SUPPORTED_ALGORITHMS = RSA_ALGORITHMS | frozenset(_CURVES)
#: RSA moduli below this are refused (RFC 7518 §3.3: 2048 bits or larger MUST be used).
MIN_RSA_BITS = 2048

Verify = Callable[[bytes, bytes], bool]


@dataclass(frozen=True)
class VerificationKey:
    """One published key: its kid, the algorithms it may verify, and one verify function per algorithm."""

    kid: str
    verifiers: dict[str, Verify]


def b64url_int(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise ValueError("missing key parameter")
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _rsa_verifier(key: rsa.RSAPublicKey, alg: str) -> Verify:
    digest = _HASHES[alg[2:]]()
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if alg.startswith("RS")
        else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    )  # RFC 7518 §3.5
    size = (key.key_size + 7) // 8
    verify = key.verify

    def check(signature: bytes, data: bytes) -> bool:
        if len(signature) != size:
            return False
        try:
            verify(signature, data, pad, digest)
        except InvalidSignature:
            return False
        return True

    return check


def _ec_verifier(key: ec.EllipticCurvePublicKey, alg: str) -> Verify:
    size = _CURVES[alg][2]
    algorithm = ec.ECDSA(_HASHES[alg[2:]]())

    def check(signature: bytes, data: bytes) -> bool:
        # RFC 7518 §3.4: R || S, each exactly the coordinate size; DER for OpenSSL.
        if len(signature) != 2 * size:
            return False
        der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
        try:
            key.verify(der, data, algorithm)
        except InvalidSignature:
            return False
        return True

    return check


def _candidate_algorithms(jwk: dict[str, Any]) -> set[str]:
    kty = jwk.get("kty")
    if kty == "RSA":
        return set(RSA_ALGORITHMS)
    if kty == "EC":
        return {alg for alg, (crv, _cls, _size) in _CURVES.items() if crv == jwk.get("crv")}
    return set()


def parse_jwk(jwk: Any, allowed: Iterable[str]) -> VerificationKey | None:
    """The verification key for one JWK, or ``None`` if it is not usable for signatures we accept."""
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
        return None
    if jwk.get("use", "sig") != "sig" or ("key_ops" in jwk and "verify" not in (jwk["key_ops"] or ())):
        return None
    algorithms = _candidate_algorithms(jwk) & set(allowed)
    if "alg" in jwk:
        algorithms &= {jwk["alg"]}
    if not algorithms:
        return None
    try:
        if jwk["kty"] == "RSA":
            key: Any = rsa.RSAPublicNumbers(b64url_int(jwk.get("e")), b64url_int(jwk.get("n"))).public_key()
            if key.key_size < MIN_RSA_BITS:
                return None
            make: Callable[[Any, str], Verify] = _rsa_verifier
        else:
            crv_cls = _CURVES[next(iter(algorithms))][1]
            key = ec.EllipticCurvePublicNumbers(
                b64url_int(jwk.get("x")), b64url_int(jwk.get("y")), crv_cls()
            ).public_key()
            make = _ec_verifier
    except (ValueError, TypeError):
        return None
    return VerificationKey(jwk["kid"], {alg: make(key, alg) for alg in sorted(algorithms)})


def parse_jwks(document: Any, allowed: Iterable[str], max_keys: int = 50) -> dict[str, VerificationKey]:
    """kid -> key for the usable keys of a JWKS document; a kid published twice is dropped (ambiguous)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    allowed = frozenset(allowed)
    keys: dict[str, VerificationKey] = {}
    seen: set[str] = set()
    for jwk in document["keys"][:max_keys]:
        parsed = parse_jwk(jwk, allowed)
        if parsed is None:
            continue
        if parsed.kid in seen:
            keys.pop(parsed.kid, None)
            continue
        seen.add(parsed.kid)
        keys[parsed.kid] = parsed
    return keys

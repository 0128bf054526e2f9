"""The site's JWTs as `JwtSiteTokens` checks them: one algorithm per key, claims required,
expiry against our clock. Keys are made here with cryptography; tokens signed with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rtchat.auth.site_jwt import JwtSiteTokens
from rtchat.domain.errors import ChatError, ErrorCode
from tests.fakes import ManualClock

SECRET = "s" * 40


def claims(clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "site-42",
        "name": "Alice",
        "exp": int((clock.wall + timedelta(minutes=5)).timestamp()),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def refused(tokens: JwtSiteTokens, token: object) -> ErrorCode:
    with pytest.raises(ChatError) as caught:
        tokens.verify(token)
    assert caught.value.message
    return caught.value.code


def public_pem(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(payload)}."


def test_hs256_names_the_user_until_exp() -> None:
    clock = ManualClock()
    tokens = JwtSiteTokens.from_secret(SECRET, clock)
    site = tokens.verify(jwt.encode(claims(clock, name="  Alice "), SECRET, algorithm="HS256"))
    assert (site.subject, site.name) == ("site-42", "Alice")
    assert site.expires == clock.wall + timedelta(minutes=5)
    # The account is the sub's, whatever the name: stable, and never a random (hex) id.
    renamed = tokens.verify(jwt.encode(claims(clock, name="Alicia"), SECRET, algorithm="HS256"))
    assert renamed.account_id == site.account_id
    assert site.account_id.startswith("s")
    assert len(site.account_id) == 32
    other = tokens.verify(jwt.encode(claims(clock, sub="site-43"), SECRET, algorithm="HS256"))
    assert other.account_id != site.account_id


def test_an_expired_token_has_its_own_code() -> None:
    clock = ManualClock()
    tokens = JwtSiteTokens.from_secret(SECRET, clock)
    token = jwt.encode(claims(clock), SECRET, algorithm="HS256")
    clock.advance(5 * 60 - 1)
    assert tokens.verify(token).name == "Alice"
    clock.advance(1)
    assert refused(tokens, token) is ErrorCode.TOKEN_EXPIRED


@pytest.mark.parametrize("curve", ["rsa", "ec"])
def test_rs256_and_es256_with_the_public_key(curve: str) -> None:
    clock = ManualClock()
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if curve == "rsa":
        private, alg, other = rsa.generate_private_key(65537, 2048), "RS256", "RS512"
    else:
        private, alg, other = ec.generate_private_key(ec.SECP256R1()), "ES256", "ES384"
    tokens = JwtSiteTokens.from_public_key(public_pem(private), clock)
    assert tokens.algorithm == alg
    assert tokens.verify(jwt.encode(claims(clock), private, algorithm=alg)).subject == "site-42"
    # Another algorithm of the same family is not the one this key was configured for.
    if curve == "rsa":
        assert refused(tokens, jwt.encode(claims(clock), private, algorithm=other)) is (
            ErrorCode.INVALID_TOKEN
        )
    # A token signed by another key of the same kind.
    stranger = (
        rsa.generate_private_key(65537, 2048)
        if curve == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    assert refused(tokens, jwt.encode(claims(clock), stranger, algorithm=alg)) is (
        ErrorCode.INVALID_TOKEN
    )


def test_key_confusion_hs256_signed_with_the_public_key_is_refused() -> None:
    clock = ManualClock()
    private = rsa.generate_private_key(65537, 2048)
    pem = public_pem(private)
    tokens = JwtSiteTokens.from_public_key(pem, clock)
    # The classic attack: the public key (which anyone may have) used as an HMAC secret.
    # PyJWT itself refuses to sign so, so the token is put together by hand.
    head = unsigned(claims(clock), alg="HS256").rsplit(".", 1)[0]
    signature = hmac.new(pem.encode(), head.encode(), hashlib.sha256).digest()
    forged = head + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert refused(tokens, forged) is ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(alg: str) -> None:
    clock = ManualClock()
    tokens = JwtSiteTokens.from_secret(SECRET, clock)
    assert refused(tokens, unsigned(claims(clock), alg)) is ErrorCode.INVALID_TOKEN


def test_wrong_signature_and_garbage_are_refused() -> None:
    clock = ManualClock()
    tokens = JwtSiteTokens.from_secret(SECRET, clock)
    assert refused(tokens, jwt.encode(claims(clock), "t" * 40, algorithm="HS256")) is (
        ErrorCode.INVALID_TOKEN
    )
    for garbage in (None, "", "a.b.c", "not a token", 42, {"token": "x"}, "x" * 9000):
        assert refused(tokens, garbage) is ErrorCode.INVALID_TOKEN, garbage


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": None},
        {"name": None},
        {"exp": None},
        {"sub": ""},
        {"sub": 42},
        {"name": ""},
        {"name": "a" * 33},
        {"name": "Аlice"},  # noqa: RUF001 - mixed scripts: a Cyrillic A first
        {"exp": "tomorrow"},
    ],
)
def test_missing_or_bad_claims_are_refused(overrides: dict[str, Any]) -> None:
    clock = ManualClock()
    tokens = JwtSiteTokens.from_secret(SECRET, clock)
    payload = claims(clock, **{k: v for k, v in overrides.items() if v is not None})
    for key in (k for k, v in overrides.items() if v is None):
        del payload[key]
    assert refused(tokens, jwt.encode(payload, SECRET, algorithm="HS256")) is (
        ErrorCode.INVALID_TOKEN
    )


def test_only_rsa_and_p256_public_keys_are_taken(tmp_path: Any) -> None:
    clock = ManualClock()
    p384 = public_pem(ec.generate_private_key(ec.SECP384R1()))
    edwards = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for pem in (p384, edwards, "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"):
        with pytest.raises(ValueError, match="jwt_public_key"):
            JwtSiteTokens.from_public_key(pem, clock)
    with pytest.raises(ValueError, match="cannot read"):
        JwtSiteTokens.from_public_key(str(tmp_path / "missing.pem"), clock)
    # A path to a PEM file is taken as well as the PEM text.
    path = tmp_path / "site.pem"
    path.write_text(public_pem(ec.generate_private_key(ec.SECP256R1())))
    assert JwtSiteTokens.from_public_key(str(path), clock).algorithm == "ES256"

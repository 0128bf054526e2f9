"""`SiteTokens` over PyJWT: the site's HS256, RS256 or ES256 JWTs, one algorithm per key.

The accepted algorithm comes from the configured key alone, never from a token's header:
an HS256 secret accepts HS256 only, an RSA public key RS256 only, an EC P-256 key ES256
only. So `alg: none` and the key-confusion attack (an HS256 token "signed" with the RSA
public key as its secret) are refused by construction, whatever PyJWT would allow.
`exp` is checked here against our `Clock`, not PyJWT's own time, so tests and the
expiry sweep agree on what "now" is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import SiteIdentity
from rtchat.ports import Clock

REQUIRED_CLAIMS = ("sub", "name", "exp")
MAX_TOKEN_BYTES = 8192
MAX_SUBJECT = 255


class JwtSiteTokens:
    def __init__(
        self, key: str | rsa.RSAPublicKey | ec.EllipticCurvePublicKey, algorithm: str, clock: Clock
    ) -> None:
        self._key = key
        self._algorithm = algorithm
        self._clock = clock

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @classmethod
    def from_secret(cls, secret: str, clock: Clock) -> JwtSiteTokens:
        return cls(secret, "HS256", clock)

    @classmethod
    def from_public_key(cls, pem_or_path: str, clock: Clock) -> JwtSiteTokens:
        """Raises `ValueError` (one sentence) for a key that is neither RSA nor EC P-256."""
        text = pem_or_path
        if "-----BEGIN" not in text:
            try:
                text = Path(text).read_text()
            except OSError as error:
                raise ValueError(f"jwt_public_key: cannot read {text[:80]!r}: {error}") from None
        try:
            key = load_pem_public_key(text.encode())
        except ValueError:
            raise ValueError("jwt_public_key is not a PEM public key") from None
        if isinstance(key, rsa.RSAPublicKey):
            return cls(key, "RS256", clock)
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            return cls(key, "ES256", clock)
        raise ValueError("jwt_public_key must be an RSA key (RS256) or an EC P-256 key (ES256)")

    def verify(self, token: object) -> SiteIdentity:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_BYTES:
            raise ChatError(ErrorCode.INVALID_TOKEN, "The token must be a JWT string.")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                options={"require": list(REQUIRED_CLAIMS), "verify_exp": False},
            )
        except jwt.InvalidTokenError as error:
            raise ChatError(ErrorCode.INVALID_TOKEN, f"The token was refused: {error}") from None
        return self._identity(claims)

    def _identity(self, claims: dict[str, object]) -> SiteIdentity:
        sub, name, exp = (claims[c] for c in REQUIRED_CLAIMS)
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise ChatError(ErrorCode.INVALID_TOKEN, "The token's `exp` must be a number.")
        if not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUBJECT:
            raise ChatError(
                ErrorCode.INVALID_TOKEN, f"The token's `sub` must be 1-{MAX_SUBJECT} characters."
            )
        try:
            username = rules.clean_username(name)
        except ChatError as error:
            raise ChatError(
                ErrorCode.INVALID_TOKEN, f"The token's `name` is no username: {error.message}"
            ) from None
        expires = datetime.fromtimestamp(exp, UTC)
        if expires <= self._clock.now():
            raise ChatError(ErrorCode.TOKEN_EXPIRED)
        return SiteIdentity(sub, username, expires)

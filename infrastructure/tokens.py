"""Bearer tokens for the HTTP API: signed (HS256), expiring, naming only the user.

The token carries the user id and its expiry and nothing else: the user's role
and name are looked up on every request, so a changed role takes effect at once.

Several API processes must accept each other's tokens, so they share one
signing secret: ``RECTIFY_TOKEN_SECRET`` if set, else a random secret generated
once and kept in the table ``rectify_secrets`` of the events' database (the
first process to start writes it; the others read the same row).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from infrastructure.side_tables import Dialect, SideDatabase

ALGORITHM = "HS256"
ISSUER = "rectify"
MIN_SECRET_LENGTH = 32
TOKEN_SECRET_NAME = "token_signing_secret"

SECRETS_DDL: dict[Dialect, list[str]] = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS rectify_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS rectify_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
    ],
}


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed or expired; the message says which."""


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued access token and how long it lives."""

    access_token: str
    expires_in: int
    """Seconds until it expires."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is, and when it was issued."""

    user_id: str
    issued_at: float
    """Seconds since the epoch, to the millisecond."""


class TokenIssuer:
    """Issues and checks the API's access tokens."""

    def __init__(
        self,
        secret: str,
        *,
        ttl_minutes: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"the token secret must be at least {MIN_SECRET_LENGTH} characters long"
            )
        if ttl_minutes < 1:
            raise ValueError("tokens must live at least one minute")
        self._secret = secret
        self.ttl_seconds = ttl_minutes * 60
        self._clock = clock

    def issue(self, user_id: str) -> IssuedToken:
        """A token for ``user_id`` that expires after the configured lifetime."""
        now = self._clock()
        claims = {
            "sub": user_id,
            "iss": ISSUER,
            # To the millisecond, rounded up so a token issued after a password
            # change never looks older than the change.
            "iat": math.ceil(now * 1000) / 1000,
            "exp": int(now) + self.ttl_seconds,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), self.ttl_seconds)

    def user_id(self, token: str) -> str:
        """The user id the token was issued to; InvalidToken if it is not a valid, live token."""
        return self.claims(token).user_id

    def claims(self, token: str) -> TokenClaims:
        """Whose the token is and when it was issued; InvalidToken if it is not valid and live."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                # PyJWT would judge expiry by the wall clock; it is checked below
                # with this issuer's clock, which a test can move.
                options={
                    "require": ["sub", "exp", "iat", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError as error:
            raise InvalidToken(f"the access token is not valid: {error}") from None
        expires = claims["exp"]
        if not isinstance(expires, int) or expires <= int(self._clock()):
            raise InvalidToken("the access token has expired; log in again")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the access token names no user")
        issued = claims["iat"]
        if isinstance(issued, bool) or not isinstance(issued, int | float):
            raise InvalidToken("the access token has no valid issue time")
        return TokenClaims(user_id=subject, issued_at=float(issued))


def load_or_create_secret(database: SideDatabase | None) -> str:
    """The token secret shared by every process on ``database``; created on first use.

    Without a database (the in-memory store) the secret is random per process,
    which is all a single in-memory process needs.
    """
    if database is None:
        return secrets.token_urlsafe(48)
    database.ensure_tables(SECRETS_DDL)
    with database.transaction() as tx:
        # Two processes starting together both try; the primary key keeps the first.
        tx.execute(
            "INSERT INTO rectify_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (TOKEN_SECRET_NAME, secrets.token_urlsafe(48)),
        )
        rows = tx.execute("SELECT value FROM rectify_secrets WHERE name = ?", (TOKEN_SECRET_NAME,))
    return str(rows[0][0])

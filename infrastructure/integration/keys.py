"""Integration keys: long-lived credentials of service accounts that read the feed.

A key is shown once, when it is made (``rectify integration add NAME``); only a
SHA-256 of its secret part is kept, which is enough for a 256-bit random secret.
A revoked key stops working at once. A key authenticates only ``GET /feed``:
the account acts in the read-only ``integration`` role and nowhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from domain.values import Role
from infrastructure.side_tables import SideDatabase
from infrastructure.users import User

KEY_PREFIX = "rik_"
_KEY = re.compile(r"^rik_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_ACCOUNT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def looks_like_key(token: str | None) -> bool:
    """Whether a bearer token is an integration key rather than a login token."""
    return bool(token) and str(token).startswith(KEY_PREFIX)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IntegrationKey:
    """A key as listed: never its secret."""

    key_id: str
    account: str
    created_by: str
    created_at: float
    revoked_at: float | None


class IntegrationKeys:
    """The keys of the integration accounts, in ``rectify_integration_keys``."""

    def __init__(self, database: SideDatabase) -> None:
        from infrastructure.integration.schema import INTEGRATION_DDL

        self.database = database
        database.ensure_tables(INTEGRATION_DDL)

    def create(self, account: str, *, created_by: str) -> tuple[IntegrationKey, str]:
        """A new key for ``account`` (made if new); returns it and the key text, once."""
        if not _ACCOUNT.match(account):
            raise ValueError(
                "an integration account is 1-64 lower-case letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit; not {account!r}"
            )
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = time.time()
        self.database.execute(
            "INSERT INTO rectify_integration_keys"
            " (key_id, account, secret_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            (key_id, account, _hash(secret), created_by, now),
        )
        return IntegrationKey(key_id, account, created_by, now, None), (
            f"{KEY_PREFIX}{key_id}_{secret}"
        )

    def user_for_key(self, key: str) -> User | None:
        """The integration account a valid, unrevoked key belongs to, or None."""
        match = _KEY.match(key)
        if match is None:
            return None
        rows = self.database.execute(
            "SELECT account, secret_hash FROM rectify_integration_keys"
            " WHERE key_id = ? AND revoked_at IS NULL",
            (match.group(1),),
            write=False,
        )
        if not rows or not hmac.compare_digest(rows[0][1], _hash(match.group(2))):
            return None
        account = str(rows[0][0])
        return User(user_id=account, name=account, role=Role.INTEGRATION)

    def revoke(self, account_or_key: str) -> int:
        """Revoke every key of an account, or one key by id; how many were revoked."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_integration_keys SET revoked_at = ?"
                " WHERE (account = ? OR key_id = ?) AND revoked_at IS NULL",
                (time.time(), account_or_key, account_or_key),
            )
            return tx.rowcount()

    def list(self) -> list[IntegrationKey]:
        rows = self.database.execute(
            "SELECT key_id, account, created_by, created_at, revoked_at"
            " FROM rectify_integration_keys ORDER BY account, created_at",
            write=False,
        )
        return [IntegrationKey(str(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in rows]

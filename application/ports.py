"""What the application needs from the outside, as small protocols."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

MAX_POSITION = 2**63 - 1
"""The largest log position or version the stores hold (a signed 64-bit
integer): a larger number asked for could only overflow the driver."""

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime (UTC)."""


class PasswordChecker(Protocol):
    """Checks a user's password again, for an electronic signature.

    It may raise ``AccountLocked`` instead of answering, when too many wrong
    passwords in a row have locked the account, ``TooManyLoginAttempts`` when
    the client's address has made too many attempts, or ``PasswordChecksBusy``
    when the process is checking as many passwords as it may at once; nothing
    is signed then.
    """

    def check_password(self, user_id: str, password: str) -> bool: ...

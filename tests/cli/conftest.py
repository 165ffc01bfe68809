"""Fixtures of the CLI suites."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

import infrastructure.users


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords at the lowest Argon2 cost in this process.

    The commands under test create and check several passwords each; at the
    production cost that is most of a test's time, and proves nothing more
    about the commands. Servers started as subprocesses keep the real cost.
    """
    monkeypatch.setattr(
        infrastructure.users,
        "PasswordHasher",
        lambda: PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
    )

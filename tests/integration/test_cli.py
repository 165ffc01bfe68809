"""``rectify integration`` and ``rectify webhooks``: what an operator does, and
what it leaves in the tables."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from infrastructure.composition import Services
from interfaces.cli.main import app as cli
from tests.core.scenario import CHEN_XIAOFENG
from tests.integration.conftest import catch_up_outbox
from tests.integration.receiver import Receiver

runner = CliRunner()


def rectify(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_an_operator_makes_lists_and_revokes_an_integration_key(sqlite_url: str) -> None:
    made = rectify("integration", "add", "county-oa", "--database-url", sqlite_url)
    key = re.search(r"^(rik_\S+)$", made, re.M)
    assert key, made
    with Services.open(sqlite_url) as services:
        account = services.integration.keys.user_for_key(key.group(1))
        assert account is not None and account.role.value == "integration"
    assert "county-oa" in rectify("integration", "list", "--database-url", sqlite_url)
    assert "Revoked 1" in rectify(
        "integration", "revoke", "county-oa", "--database-url", sqlite_url
    )
    with Services.open(sqlite_url) as services:
        assert services.integration.keys.user_for_key(key.group(1)) is None
    refused = runner.invoke(cli, ["integration", "add", "Bad Name", "--database-url", sqlite_url])
    assert refused.exit_code == 1 and "integration account" in refused.output


def test_an_operator_subscribes_reads_the_delivery_log_and_redelivers(
    sqlite_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = runner.invoke(
        cli, ["webhooks", "add", receiver.url, "-e", "*", "--database-url", sqlite_url]
    )
    assert refused.exit_code == 1 and "allow-list" in refused.output
    monkeypatch.setenv("RECTIFY_WEBHOOK_ALLOW", "127.0.0.1")
    added = rectify(
        "webhooks", "add", receiver.url, "-e", "Site.Registered", "--database-url", sqlite_url
    )
    receiver.secret = re.search(r"secret: (whsec_\S+)", added).group(1)  # type: ignore[union-attr]
    with Services.open(sqlite_url) as services:
        services.app.register_site(
            CHEN_XIAOFENG,
            name="陶表印盲人按摩店",
            region="安义县",
            address="安义县城",
            operator="陶表印",
            contact="0791-83421001",
            kind="盲人按摩店",
        )
        catch_up_outbox(services.integration)
        services.integration.deliver_due()
    assert [a.verified for a in receiver.arrivals] == [True]
    log = rectify("webhooks", "deliveries", "--database-url", sqlite_url)
    assert "delivered" in log and "Site.Registered" in log
    delivery_id = log.split()[0]
    rectify("webhooks", "redeliver", delivery_id, "--database-url", sqlite_url)
    with Services.open(sqlite_url) as services:
        services.integration.deliver_due()
    assert [a.message_id for a in receiver.arrivals] == [receiver.arrivals[0].message_id] * 2
    listed = rectify("webhooks", "list", "--database-url", sqlite_url)
    subscription_id = listed.split()[0]
    rectify("webhooks", "remove", subscription_id, "--database-url", sqlite_url)
    assert rectify("webhooks", "list", "--database-url", sqlite_url).strip() == ""
